/**
 * Undo-on-failure for multi-step commands (register, up): each step registers how to undo itself;
 * if a later step throws, the undo actions run newest first and the original error is rethrown.
 *
 * @module
 */
import type { ServiceManager } from "../service/mod.ts";
import { configPath, type Profile, restoreRawConfig } from "./config_store.ts";
import type { CliDeps } from "./deps.ts";

/** Records an undo action with a description for the warning if it fails itself. */
export type UndoRecorder = (action: () => Promise<void>, what: string) => void;

/** Runs `steps`; on failure undoes what was recorded, newest first, then rethrows. */
export async function runWithRollback(
  deps: Pick<CliDeps, "stderr">,
  steps: (undo: UndoRecorder) => Promise<void>,
): Promise<void> {
  const undos: Array<{ action: () => Promise<void>; what: string }> = [];
  try {
    await steps((action, what) => undos.push({ action, what }));
  } catch (err) {
    for (const u of undos.reverse()) {
      try {
        await u.action();
      } catch (undoErr) {
        deps.stderr(`warning: could not ${u.what}: ${(undoErr as Error).message}`);
      }
    }
    throw err;
  }
}

/** What {@link clearForInstall} replaces: the running service and the profile's saved file. */
export interface ReplacedState {
  /** The service manager, or null in --debug (foreground) mode where no service is touched. */
  manager: ServiceManager | null;
  configDir: string;
  profile: Profile;
  /** The profile file's bytes before the command (null if there was none). */
  previous: string | null;
}

/**
 * Removes any existing service and records how to bring it and the previous config file back, so
 * that register and up leave the machine as it was when a later step fails.
 */
export async function clearForInstall(undo: UndoRecorder, state: ReplacedState): Promise<void> {
  const { manager, configDir, profile, previous } = state;
  if (manager) {
    const snapshot = await manager.snapshot();
    undo(() => manager.restore(snapshot), "put the previous service back");
    await manager.remove();
  }
  undo(
    () => restoreRawConfig(configDir, { profile, raw: previous }),
    `restore the previous ${configPath(configDir, profile)}`,
  );
}
