/**
 * `veilnet-conflux register`: register with the Guardian, remove any existing service, save
 * conflux.json, install and start the service. Any failure undoes the steps already done.
 *
 * @module
 */
import { describeService } from "../../service/mod.ts";
import type { ServiceManager } from "../../service/mod.ts";
import { configPath, readRawConfig, saveConfig } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { boolFlag, stringFlag } from "../flags.ts";
import { runForeground } from "../foreground.ts";
import { registerConflux, unregisterConflux } from "../guardian_api.ts";
import {
  parseTeams,
  resolveEngineFlags,
  resolveGuardian,
  savedNodeFields,
  validateCidr,
} from "../settings.ts";
import { clearForInstall, runWithRollback } from "../rollback.ts";

/** Runs `register`; resolves to the exit code. */
export async function registerCommand(ctx: CommandContext): Promise<number> {
  const { parsed, deps, configDir } = ctx;
  const registrationToken = stringFlag(parsed, "token");
  if (!registrationToken) {
    throw new CliError(
      "usage",
      "no registration token: pass -t TOKEN or set VEILNET_REGISTRATION_TOKEN " +
        "(create one at your Guardian or https://auth.veilnet.app)",
    );
  }
  const guardian = resolveGuardian(parsed);
  const tag = stringFlag(parsed, "tag");
  const cidrRaw = stringFlag(parsed, "cidr");
  const cidr = cidrRaw === undefined ? undefined : validateCidr(cidrRaw);
  const teams = parseTeams(stringFlag(parsed, "teams"));
  const engine = resolveEngineFlags(parsed);
  const debug = boolFlag(parsed, "debug") ?? false;
  let manager: ServiceManager | null = null;
  if (!debug) {
    manager = deps.serviceManager();
    await manager.check(); // before anything changes: no registration we could not install
  }
  const previousConfig = await readRawConfig(configDir, "register");
  const previousId = previousConfig === null ? null : /"conflux_id":\s*"([^"]+)"/.exec(
    previousConfig,
  )?.[1];

  const registered = await registerConflux(guardian, {
    registrationToken,
    tag,
    cidr,
    teams,
  });

  // The Guardian's key, pinned beside the token: the node refuses sessions with another one.
  const pinned = registered.guardianKeySha256 === undefined
    ? guardian
    : { ...guardian, keySha256: registered.guardianKeySha256 };

  await runWithRollback(deps, async (undo) => {
    undo(async () => {
      await unregisterConflux(guardian, registered.token);
    }, "unregister the new conflux at the Guardian");
    await clearForInstall(undo, {
      manager,
      configDir,
      profile: "register",
      previous: previousConfig,
    });
    await saveConfig(configDir, {
      profile: "register",
      config: {
        version: 1,
        ...savedNodeFields(pinned, engine),
        conflux_id: registered.confluxId,
        conflux_token: registered.token,
        overlay_ip: registered.overlayIp,
        tag,
        cidr,
        teams,
        registered_at: new Date().toISOString(),
      },
    });
    if (manager) {
      await manager.install(
        describeService({
          command: deps.selfCommand(),
          configDir,
          profile: "register",
          environment: deps.serviceEnvironment(),
        }),
      );
      await manager.start();
    }
  });

  const where = registered.overlayIp ? ` with overlay IP ${registered.overlayIp}` : "";
  deps.stdout(`registered conflux ${registered.confluxId}${where} at ${guardian.url}`);
  if (pinned.keySha256 !== undefined) {
    deps.stdout(`pinned the Guardian's key sha256:${pinned.keySha256}`);
  } else {
    deps.stderr(
      "warning: the Guardian did not state its key, so none is pinned: sessions from any key " +
        "are accepted (pass --guardian-key to pin one)",
    );
  }
  if (registered.ignoredTeams.length > 0) {
    deps.stderr(
      `warning: teams ignored (you are not a member or owner): ${
        registered.ignoredTeams.join(", ")
      }`,
    );
  }
  if (previousId && previousId !== registered.confluxId) {
    deps.stderr(
      `warning: replaced the registration of conflux ${previousId}; it stays known to its ` +
        "Guardian until an owner removes it",
    );
  }
  deps.stdout(`configuration saved to ${configPath(configDir, "register")}`);
  if (manager) {
    deps.stdout(`service installed and started (${manager.kind}: ${manager.location})`);
    return 0;
  }
  deps.stdout("running in the foreground (--debug); Ctrl-C stops");
  return await runForeground(ctx, {
    guardian: pinned,
    confluxToken: registered.token,
    ...engine,
  });
}
