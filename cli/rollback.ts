/**
 * Undo-on-failure for multi-step commands (register, up): each step registers how to undo itself;
 * if a later step throws, the undo actions run newest first and the original error is rethrown.
 *
 * @module
 */
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
