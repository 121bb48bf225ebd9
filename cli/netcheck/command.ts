/**
 * `veilnet-conflux netcheck`: what stands between this host and a working overlay, checked
 * without a running node — TUN devices, the Guardian (reachability, TLS trust, clock), the
 * conflux token, NATS, outbound UDP, the reflexive address and NAT behaviour from the realm's STUN
 * service, and the underlay interfaces tethers would use. One line per check, with the fix when
 * it fails; `--json` for scripts. Exit 0 when nothing failed (warnings included), 1 otherwise.
 *
 * Settings come as for `run`: flags, then VEILNET_* variables, then the saved file (up.json if
 * present, else conflux.json). With a conflux token it logs in at the Guardian as the node does
 * (a fresh session that nothing uses afterwards) to learn the realm's NATS and STUN servers.
 *
 * @module
 */
import { configPath, loadConfig, type Profile } from "../config_store.ts";
import type { RegisterConfig, UpConfig } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { boolFlag, stringFlag } from "../flags.ts";
import { endpointCaCerts } from "../guardian_api.ts";
import { resolveGuardian } from "../settings.ts";
import { parseInterfaceList } from "../../core/tether/underlay.ts";
import { validateInterfaceName } from "../../ffi/cidr.ts";
import {
  DEFAULT_TIMEOUTS,
  guardianChecks,
  natsCheck,
  type NetcheckTimeouts,
  nodeCheck,
  sessionCheck,
  stunChecks,
  tunCheck,
  underlayCheck,
} from "./checks.ts";
import { type Check, check, checksJson, renderChecks } from "./report.ts";

/** The TUN name the node uses unless told otherwise (core/node/options.ts DEFAULT_TUN_NAME). */
const DEFAULT_TUN = "veilnet0";

/** What netcheck runs with, resolved from flags, environment and the saved file. */
export interface NetcheckSettings {
  configDir: string;
  guardianUrl: string;
  caCerts?: string[];
  confluxToken?: string;
  portal: boolean;
  tunName: string;
  underlayInterfaces?: string[];
}

/** Options of {@link runNetcheck}. */
export interface NetcheckOptions {
  /** Time limits; default {@link DEFAULT_TIMEOUTS}. */
  timeouts?: NetcheckTimeouts;
  /** The TUN check; default {@link tunCheck} (which creates and removes a test device). */
  tunCheck?: () => Promise<Check>;
}

/** Runs every check; never throws for what it finds (each failure is a check). */
export async function runNetcheck(
  settings: NetcheckSettings,
  options: NetcheckOptions = {},
): Promise<Check[]> {
  const { guardianUrl, caCerts } = settings;
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const [node, tun, guardian] = await Promise.all([
    nodeCheck(settings.configDir, timeouts.nodeMs),
    (options.tunCheck ?? tunCheck)(),
    guardianChecks(guardianUrl, caCerts, timeouts.guardianMs),
  ]);
  const out = [node, tun, guardian.reach, guardian.tls, guardian.clock];
  let realmSubnet: string | undefined;
  if (!guardian.answered) {
    const why = "not checked: the Guardian did not answer";
    out.push(
      check("session", "skip", why),
      check("nats", "skip", why),
      check("udp", "skip", why),
      check("reflexive", "skip", why),
      check("nat", "skip", why),
    );
  } else {
    const login = await sessionCheck(
      guardianUrl,
      caCerts,
      settings.confluxToken,
      settings.portal,
      timeouts.guardianMs,
    );
    out.push(login.check);
    if (login.session && login.nkeySeed) {
      realmSubnet = login.session.realmSubnet;
      const [nats, stun] = await Promise.all([
        natsCheck(login.session, login.nkeySeed, caCerts, timeouts.natsMs),
        stunChecks(login.session.iceServers, timeouts.stunMs),
      ]);
      out.push(nats, stun.udp, stun.reflexive, stun.nat);
    } else {
      const why = login.check.status === "skip"
        ? "not checked: no conflux token to learn the realm's servers with"
        : "not checked: no session";
      out.push(
        check("nats", "skip", why),
        check("udp", "skip", why),
        check("reflexive", "skip", why),
        check("nat", "skip", why),
      );
    }
  }
  let interfaces: Deno.NetworkInterfaceInfo[] = [];
  try {
    interfaces = Deno.networkInterfaces();
  } catch (err) {
    out.push(check("underlay", "fail", `cannot list interfaces: ${(err as Error).message}`, {
      fix: "run with --allow-sys (deno run -A)",
    }));
    return out;
  }
  out.push(underlayCheck(interfaces, {
    tunName: settings.tunName,
    realmSubnet,
    named: settings.underlayInterfaces,
  }));
  return out;
}

/** Reads the saved file netcheck uses, reporting (not throwing) a corrupt one. */
export async function readSavedConfig(
  configDir: string,
  chosen: Profile | undefined,
): Promise<{ saved: RegisterConfig | UpConfig | null; check: Check }> {
  try {
    let saved: RegisterConfig | UpConfig | null = null;
    let profile: Profile | undefined = chosen;
    if (chosen) {
      saved = await loadConfig(configDir, chosen);
    } else {
      saved = await loadConfig(configDir, "up");
      profile = "up";
      if (!saved) {
        saved = await loadConfig(configDir, "register");
        profile = "register";
      }
    }
    if (!saved) {
      const where = chosen
        ? configPath(configDir, chosen)
        : `${configDir} (no up.json or conflux.json)`;
      return {
        saved,
        check: check(
          "config",
          "skip",
          `no saved configuration in ${where}; using flags and environment`,
        ),
      };
    }
    const id = "conflux_id" in saved ? `conflux ${saved.conflux_id}, ` : "";
    return {
      saved,
      check: check(
        "config",
        "ok",
        `${configPath(configDir, profile!)}: ${id}guardian ${saved.guardian}`,
      ),
    };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return {
      saved: null,
      check: check("config", "fail", err.message.split(": fix it")[0], {
        fix: "fix the file, or delete it and register again; netcheck goes on with flags only",
      }),
    };
  }
}

/** `--tun NAME`, checked as the kernel would take it. */
function tunFlag(raw: string | undefined): string {
  if (raw === undefined) return DEFAULT_TUN;
  try {
    return validateInterfaceName(raw);
  } catch (e) {
    throw new CliError("usage", `--tun: ${(e as Error).message}`);
  }
}

/** Runs `netcheck`; exit 0 when no check failed, 1 otherwise. */
export async function netcheckCommand(ctx: CommandContext): Promise<number> {
  const { parsed, deps, configDir } = ctx;
  const { saved, check: configCheck } = await readSavedConfig(
    configDir,
    stringFlag(parsed, "profile") as Profile | undefined,
  );
  const guardian = resolveGuardian(parsed, saved ?? undefined);
  const underlayFlag = stringFlag(parsed, "underlay-interfaces");
  let underlayInterfaces = saved?.underlay_interfaces;
  if (underlayFlag !== undefined) {
    try {
      underlayInterfaces = parseInterfaceList(underlayFlag);
    } catch (e) {
      throw new CliError("usage", `--underlay-interfaces: ${(e as Error).message}`);
    }
  }
  const settings: NetcheckSettings = {
    configDir,
    guardianUrl: guardian.url,
    caCerts: endpointCaCerts(guardian),
    confluxToken: stringFlag(parsed, "token") ?? saved?.conflux_token,
    portal: saved?.portal ?? false,
    tunName: tunFlag(stringFlag(parsed, "tun")),
    underlayInterfaces,
  };
  const checks = [configCheck, ...(await runNetcheck(settings))];
  deps.stdout(
    boolFlag(parsed, "json") ? JSON.stringify(checksJson(checks), null, 2) : renderChecks(checks),
  );
  return checks.some((c) => c.status === "fail") ? 1 : 0;
}
