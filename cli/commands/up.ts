/**
 * `veilnet-conflux up`: save up.json with a conflux token, replace any existing service, install
 * and start it. Any failure undoes the steps already done.
 *
 * @module
 */
import { describeService, type ServiceManager } from "../../service/mod.ts";
import { configPath, readRawConfig, saveConfig } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { boolFlag, stringFlag } from "../flags.ts";
import { runForeground } from "../foreground.ts";
import { fetchGuardianKey } from "../guardian_api.ts";
import { clearForInstall, runWithRollback } from "../rollback.ts";
import { resolveEngineFlags, resolveGuardian, savedNodeFields } from "../settings.ts";

/** Runs `up`; resolves to the exit code. */
export async function upCommand(ctx: CommandContext): Promise<number> {
  const { parsed, deps, configDir } = ctx;
  const token = stringFlag(parsed, "token");
  if (!token) {
    throw new CliError(
      "usage",
      "no conflux token: pass -t CONFLUX_TOKEN or set VEILNET_CONFLUX_TOKEN " +
        "(a registration token goes to `veilnet-conflux register`)",
    );
  }
  const resolved = resolveGuardian(parsed);
  const engine = resolveEngineFlags(parsed);
  const debug = boolFlag(parsed, "debug") ?? false;
  let manager: ServiceManager | null = null;
  if (!debug) {
    manager = deps.serviceManager();
    await manager.check();
  }
  // Pin the Guardian's key beside the token (the node refuses sessions with another one): the
  // one given with --guardian-key, else the one the Guardian presents now.
  const guardian = resolved.keySha256 !== undefined
    ? resolved
    : { ...resolved, keySha256: await fetchGuardianKey(resolved) };
  const previous = await readRawConfig(configDir, "up");
  await runWithRollback(deps, async (undo) => {
    await clearForInstall(undo, { manager, configDir, profile: "up", previous: previous });
    await saveConfig(configDir, {
      profile: "up",
      config: {
        version: 1,
        ...savedNodeFields(guardian, engine),
        conflux_token: token,
      },
    });
    if (manager) {
      await manager.install(
        describeService({
          command: deps.selfCommand(),
          configDir,
          profile: "up",
          environment: deps.serviceEnvironment(),
        }),
      );
      await manager.start();
    }
  });
  deps.stdout(`pinned the Guardian's key sha256:${guardian.keySha256}`);
  deps.stdout(`configuration saved to ${configPath(configDir, "up")}`);
  if (manager) {
    deps.stdout(`service installed and started (${manager.kind}: ${manager.location})`);
    return 0;
  }
  deps.stdout("running in the foreground (--debug); Ctrl-C stops");
  return await runForeground(ctx, { guardian, confluxToken: token, ...engine });
}
