/**
 * Turns flags, environment and the saved file into the node's settings, in that order of
 * precedence (flag > environment > saved file > default).
 *
 * @module
 */
import { resolve } from "node:path";
import type { RtcEngineChoice } from "../core/node/mod.ts";
import { DEFAULT_GUARDIAN } from "./command_specs.ts";
import type { RegisterConfig, UpConfig } from "./config_store.ts";
import { checkPortalSubnets } from "../core/wire/portal_subnets.ts";
import { parseInterfaceList } from "../core/tether/underlay.ts";
import { CliError } from "./errors.ts";
import { boolFlag, type ParsedCommand, stringFlag } from "./flags.ts";
import { parseDnsSuffix } from "../core/dns/names.ts";
import { endpointCaCerts, type GuardianEndpoint, normalizeGuardianUrl } from "./guardian_api.ts";

/** Every realm lies in the shared address space; a portal may serve nothing inside it. */
const OVERLAY_RANGE = "100.64.0.0/10";

/** What `run` hands to the node, before adding the logger and config dir. */
export interface NodeSettings {
  guardian: GuardianEndpoint;
  confluxToken: string;
  portal: boolean;
  /** The networks a portal serves, when not every network of the host. */
  portalNetworks?: string[];
  rtcEngine: RtcEngineChoice;
  relay: boolean;
  /** Interfaces tethers may use; absent means every usable one. */
  underlayInterfaces?: string[];
  tunName?: string;
  /** The resolver and host DNS configuration (false: `--no-dns`). */
  dns: boolean;
  dnsSuffix?: string;
  dnsConfig?: "auto" | "resolv.conf";
}

/** Splits `team1, team2,,team1` into `["team1", "team2"]`. */
export function parseTeams(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const out: string[] = [];
  for (const t of raw.split(",").map((s) => s.trim())) if (t && !out.includes(t)) out.push(t);
  for (const t of out) {
    if (t.length > 64) throw new CliError("usage", `team name "${t.slice(0, 16)}…" is too long`);
  }
  return out;
}

/** Checks an IPv4 CIDR like `100.64.0.10/16`; returns it trimmed. */
export function validateCidr(raw: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(raw.trim());
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw new CliError(
      "usage",
      `--cidr "${raw}" is not an IPv4 CIDR: write e.g. --cidr 100.64.0.10/16`,
    );
  }
  return raw.trim();
}

/**
 * `--guardian-key` (`VEILNET_GUARDIAN_KEY`): the SHA-256 of the Guardian's ML-DSA key, 64 hex
 * digits (an optional `sha256:` prefix is accepted); returned lowercase.
 */
export function parseGuardianKey(raw: string): string {
  const hex = raw.trim().replace(/^sha256:/i, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new CliError(
      "usage",
      "--guardian-key: expected the SHA-256 of the Guardian's key, 64 hex digits " +
        "(GET /guardian/key at the Guardian shows it)",
    );
  }
  return hex;
}

/**
 * The Guardian: URL from flag/env, else the saved one, else the public Guardian; its private CA
 * (`--guardian-ca`, an absolute path, checked now) and its pinned key (`--guardian-key`, else the
 * one saved by `register`/`up`) likewise. A CA and a pin are kept only with their own URL: a new
 * `-g` without `--guardian-ca`/`--guardian-key` inherits neither.
 */
export function resolveGuardian(
  parsed: ParsedCommand,
  saved?: { guardian: string; guardian_ca?: string; guardian_key_sha256?: string },
): GuardianEndpoint {
  const flagUrl = stringFlag(parsed, "guardian");
  const url = normalizeGuardianUrl(flagUrl ?? saved?.guardian ?? DEFAULT_GUARDIAN);
  const sameGuardian = flagUrl === undefined ||
    (saved !== undefined && url === normalizeGuardianUrl(saved.guardian));
  const flagCa = stringFlag(parsed, "guardian-ca");
  const caFile = flagCa !== undefined
    ? resolve(flagCa)
    : sameGuardian
    ? saved?.guardian_ca
    : undefined;
  const flagKey = stringFlag(parsed, "guardian-key");
  const keySha256 = flagKey !== undefined
    ? parseGuardianKey(flagKey)
    : sameGuardian
    ? saved?.guardian_key_sha256
    : undefined;
  const endpoint: GuardianEndpoint = { url };
  if (caFile !== undefined) endpoint.caFile = caFile;
  if (keySha256 !== undefined) endpoint.keySha256 = keySha256;
  endpointCaCerts(endpoint); // a missing or wrong file is a usage error before anything changes
  return endpoint;
}

/**
 * `--portal-networks "10.1.0.0/16, 192.168.8.0/24"`: canonical IPv4 networks a portal may serve
 * (the Guardian checks them against the realm again at login). Throws a usage error naming the
 * first bad entry.
 */
export function parsePortalNetworks(raw: string): string[] {
  const list = [...new Set(raw.split(",").map((s) => s.trim()).filter((s) => s))];
  if (list.length === 0) {
    throw new CliError("usage", "--portal-networks is empty: give e.g. 192.168.8.0/24");
  }
  const problem = checkPortalSubnets(list, OVERLAY_RANGE);
  if (problem !== null) throw new CliError("usage", `--portal-networks: ${problem}`);
  return list;
}

function parseUnderlayFlag(value: string): string[] {
  try {
    return parseInterfaceList(value);
  } catch (e) {
    throw new CliError("usage", `--underlay-interfaces: ${(e as Error).message}`);
  }
}

/** What register, up and run share: the engine, relaying and portal settings. */
export interface EngineFlags {
  portal: boolean;
  portalNetworks?: string[];
  rtcEngine: RtcEngineChoice;
  relay: boolean;
  /** Interfaces tethers may use (`--underlay-interfaces`); absent means every usable one. */
  underlayInterfaces?: string[];
  /** False with `--no-dns`. */
  dns: boolean;
  /** `--dns-suffix`, checked and lowercased. */
  dnsSuffix?: string;
  /** `--dns-config`. */
  dnsConfig?: "auto" | "resolv.conf";
}

/** The rtc/relay/portal settings shared by register, up and run. */
export function resolveEngineFlags(
  parsed: ParsedCommand,
  saved?: {
    portal: boolean;
    portal_networks?: string[];
    rtc: RtcEngineChoice;
    relay: boolean;
    underlay_interfaces?: string[];
    dns?: boolean;
    dns_suffix?: string;
    dns_config?: "auto" | "resolv.conf";
  },
): EngineFlags {
  const noRelay = boolFlag(parsed, "no-relay");
  const noDns = boolFlag(parsed, "no-dns");
  const portal = boolFlag(parsed, "portal") ?? saved?.portal ?? false;
  const networksFlag = stringFlag(parsed, "portal-networks");
  const portalNetworks = networksFlag !== undefined
    ? parsePortalNetworks(networksFlag)
    : saved?.portal_networks;
  if (networksFlag !== undefined && !portal) {
    throw new CliError("usage", "--portal-networks needs --portal (portal mode)");
  }
  const flags: EngineFlags = {
    portal,
    rtcEngine: (stringFlag(parsed, "rtc") as RtcEngineChoice | undefined) ?? saved?.rtc ?? "auto",
    relay: noRelay !== undefined ? !noRelay : saved?.relay ?? true,
    dns: noDns !== undefined ? !noDns : saved?.dns ?? true,
  };
  const suffixFlag = stringFlag(parsed, "dns-suffix");
  if (suffixFlag !== undefined) {
    try {
      flags.dnsSuffix = parseDnsSuffix(suffixFlag);
    } catch (e) {
      throw new CliError("usage", `--dns-suffix: ${(e as Error).message}`);
    }
  } else if (saved?.dns_suffix) flags.dnsSuffix = saved.dns_suffix;
  const dnsConfig = (stringFlag(parsed, "dns-config") as EngineFlags["dnsConfig"]) ??
    saved?.dns_config;
  if (dnsConfig) flags.dnsConfig = dnsConfig;
  if (portal && portalNetworks) flags.portalNetworks = portalNetworks;
  const underlayFlag = stringFlag(parsed, "underlay-interfaces");
  const underlay = underlayFlag !== undefined
    ? parseUnderlayFlag(underlayFlag)
    : saved?.underlay_interfaces;
  if (underlay) flags.underlayInterfaces = underlay;
  return flags;
}

/**
 * The fields of conflux.json and up.json that {@link resolveGuardian} and
 * {@link resolveEngineFlags} read back: what `register` and `up` save for the service.
 */
export function savedNodeFields(
  guardian: GuardianEndpoint,
  engine: EngineFlags,
): Pick<
  UpConfig,
  | "guardian"
  | "guardian_ca"
  | "guardian_key_sha256"
  | "portal"
  | "portal_networks"
  | "rtc"
  | "relay"
  | "underlay_interfaces"
  | "dns"
  | "dns_suffix"
  | "dns_config"
> {
  return {
    guardian: guardian.url,
    ...(guardian.caFile ? { guardian_ca: guardian.caFile } : {}),
    ...(guardian.keySha256 ? { guardian_key_sha256: guardian.keySha256 } : {}),
    portal: engine.portal,
    ...(engine.portalNetworks ? { portal_networks: engine.portalNetworks } : {}),
    rtc: engine.rtcEngine,
    relay: engine.relay,
    ...(engine.underlayInterfaces ? { underlay_interfaces: engine.underlayInterfaces } : {}),
    ...(engine.dns ? {} : { dns: false }),
    ...(engine.dnsSuffix ? { dns_suffix: engine.dnsSuffix } : {}),
    ...(engine.dnsConfig ? { dns_config: engine.dnsConfig } : {}),
  };
}

/** Settings of `run`: flags, then VEILNET_* variables, then the saved file. */
export function resolveNodeSettings(
  parsed: ParsedCommand,
  saved: RegisterConfig | UpConfig | null,
): NodeSettings {
  const confluxToken = stringFlag(parsed, "token") ?? saved?.conflux_token;
  if (!confluxToken) {
    throw new CliError(
      "usage",
      "no conflux token: run `veilnet-conflux register -t REGISTRATION_TOKEN` first, or pass " +
        "-t CONFLUX_TOKEN, or set VEILNET_CONFLUX_TOKEN",
    );
  }
  return {
    guardian: resolveGuardian(parsed, saved ?? undefined),
    confluxToken,
    ...resolveEngineFlags(parsed, saved ?? undefined),
    tunName: stringFlag(parsed, "tun"),
  };
}
