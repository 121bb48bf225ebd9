/**
 * `veilnet-conflux unregister`: unregister at the Guardian, stop and remove the service, delete
 * conflux.json.
 *
 * @module
 */
import { ServiceError } from "../../service/mod.ts";
import type { ServiceManager } from "../../service/mod.ts";
import { configPath, deleteConfig, loadConfig } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { boolFlag } from "../flags.ts";
import { GuardianRefusal, unregisterConflux } from "../guardian_api.ts";
import { resolveGuardian } from "../settings.ts";

/**
 * The service manager when services can be managed here; null when this OS has none (then no
 * service can have been installed). Throws for problems the user must fix (e.g. not root).
 */
export async function usableManager(ctx: CommandContext): Promise<ServiceManager | null> {
  const manager = ctx.deps.serviceManager();
  try {
    await manager.check();
    return manager;
  } catch (err) {
    if (err instanceof ServiceError && err.code === "unsupported") return null;
    throw err;
  }
}

/** Runs `unregister`; resolves to the exit code. */
export async function unregisterCommand(ctx: CommandContext): Promise<number> {
  const { deps, configDir, parsed } = ctx;
  const config = await loadConfig(configDir, "register");
  if (!config) {
    throw new CliError(
      "config",
      `not registered: ${configPath(configDir, "register")} does not exist ` +
        "(use `veilnet-conflux down` for a node started with `up`)",
    );
  }
  const manager = await usableManager(ctx);
  const guardian = resolveGuardian(parsed, config);
  try {
    await unregisterConflux(guardian, config.conflux_token);
    deps.stdout(`unregistered conflux ${config.conflux_id} at ${guardian.url}`);
  } catch (err) {
    if (err instanceof GuardianRefusal && (err.status === 401 || err.status === 404)) {
      deps.stderr(`warning: ${err.message}; the Guardian no longer knows this conflux`);
    } else if (boolFlag(parsed, "force")) {
      deps.stderr(`warning: ${(err as Error).message}; cleaning up locally (--force)`);
    } else {
      throw new CliError(
        "guardian",
        `${(err as Error).message}; nothing was changed (add --force to clean up locally anyway)`,
      );
    }
  }
  if (manager) {
    await manager.remove();
    deps.stdout(`service removed (${manager.kind}: ${manager.location})`);
  }
  await deleteConfig(configDir, "register");
  deps.stdout(`deleted ${configPath(configDir, "register")}`);
  return 0;
}
