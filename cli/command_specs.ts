/**
 * Every command with its flags and environment variables, as the seed documents them.
 *
 * @module
 */
import type { CommandSpec, FlagSpec } from "./flags.ts";

/** The public Guardian; self-hosters pass `-g http://their-guardian:port`. */
export const DEFAULT_GUARDIAN = "https://guardian.veilnet.app";

const help: FlagSpec = { name: "help", short: "h", type: "boolean", help: "show this help" };
const configDir: FlagSpec = {
  name: "config-dir",
  type: "string",
  env: "VEILNET_CONFIG_DIR",
  metavar: "DIR",
  help: "configuration directory (default: the OS's, e.g. /root/.config/conflux)",
};
const guardian: FlagSpec = {
  name: "guardian",
  short: "g",
  type: "string",
  env: "VEILNET_GUARDIAN",
  metavar: "URL",
  help: `Guardian URL (default ${DEFAULT_GUARDIAN})`,
};
const guardianCa: FlagSpec = {
  name: "guardian-ca",
  type: "string",
  env: "VEILNET_GUARDIAN_CA",
  metavar: "FILE",
  help: "PEM certificate of a private CA that signed the Guardian's and the Master's TLS",
};
const guardianKey: FlagSpec = {
  name: "guardian-key",
  type: "string",
  env: "VEILNET_GUARDIAN_KEY",
  metavar: "SHA256",
  help: "pin the Guardian's key (SHA-256, 64 hex digits; GET /guardian/key shows it): a Guardian " +
    "with another key is refused (default: the key saved by register/up)",
};
const accessToken: FlagSpec = {
  name: "access-token",
  type: "string",
  env: "VEILNET_ACCESS_TOKEN",
  metavar: "TOKEN",
  help: "the conflux owner's user access token (POST /auth/login): needed by teams add",
};
const portal: FlagSpec = {
  name: "portal",
  short: "p",
  type: "boolean",
  env: "VEILNET_PORTAL",
  help: "portal mode: give teammates access to this host's networks",
};
const portalNetworks: FlagSpec = {
  name: "portal-networks",
  type: "string",
  env: "VEILNET_PORTAL_NETWORKS",
  metavar: "CIDR,CIDR",
  help: "with --portal: serve only these IPv4 networks (default: every network of the host)",
};
const debug: FlagSpec = {
  name: "debug",
  type: "boolean",
  env: "VEILNET_DEBUG",
  help: "run in the foreground (Ctrl-C stops) instead of installing a service",
};
const rtc: FlagSpec = {
  name: "rtc",
  type: "string",
  env: "VEILNET_RTC",
  metavar: "ENGINE",
  choices: ["auto", "werift", "libdatachannel"],
  help: "WebRTC engine for tethers: auto, werift or libdatachannel (default auto)",
};
const noRelay: FlagSpec = {
  name: "no-relay",
  type: "boolean",
  env: "VEILNET_NO_RELAY",
  help: "do not forward traffic for other confluxes",
};
const underlayInterfaces: FlagSpec = {
  name: "underlay-interfaces",
  type: "string",
  env: "VEILNET_UNDERLAY_INTERFACES",
  metavar: "IF,IF",
  help: "tethers use only these interfaces, e.g. eth0,eth1 (default: every interface except " +
    "the TUN, loopback and link-local)",
};
const dnsSuffix: FlagSpec = {
  name: "dns-suffix",
  type: "string",
  env: "VEILNET_DNS_SUFFIX",
  metavar: "SUFFIX",
  help: "names of teammates live under this suffix (default veilnet.internal; saved)",
};
const noDns: FlagSpec = {
  name: "no-dns",
  type: "boolean",
  env: "VEILNET_NO_DNS",
  help: "no resolver on the overlay IP and no change to the host's DNS (saved)",
};
const dnsConfig: FlagSpec = {
  name: "dns-config",
  type: "string",
  env: "VEILNET_DNS_CONFIG",
  metavar: "HOW",
  choices: ["auto", "resolv.conf"],
  help: "how the host learns our names: auto (systemd-resolved per link, macOS /etc/resolver, " +
    "Windows NRPT; else nothing) or resolv.conf (a marked line in /etc/resolv.conf, removed at " +
    "stop; saved)",
};
const confluxToken: FlagSpec = {
  name: "token",
  short: "t",
  type: "string",
  env: "VEILNET_CONFLUX_TOKEN",
  metavar: "TOKEN",
  help: "conflux token (not a registration token)",
};
const json: FlagSpec = { name: "json", type: "boolean", help: "print JSON" };
/** What `run` takes to reach the realm and how to serve it; `up` saves the same. */
const nodeFlags = [
  guardian,
  guardianCa,
  guardianKey,
  portal,
  portalNetworks,
  rtc,
  noRelay,
  underlayInterfaces,
  dnsSuffix,
  noDns,
  dnsConfig,
];
const serviceFlags = [configDir, help];

/** All commands, in the order `help` lists them. */
export const COMMANDS: CommandSpec[] = [
  {
    name: "register",
    summary:
      "Register this machine with VeilNet, save conflux.json, install and start the service.",
    flags: [
      {
        name: "token",
        short: "t",
        type: "string",
        env: "VEILNET_REGISTRATION_TOKEN",
        metavar: "TOKEN",
        help: "registration token (from the Guardian or https://auth.veilnet.app)",
      },
      guardian,
      guardianCa,
      guardianKey,
      {
        name: "tag",
        type: "string",
        env: "VEILNET_CONFLUX_TAG",
        metavar: "TAG",
        help: "a tag identifying this conflux",
      },
      {
        name: "cidr",
        type: "string",
        env: "VEILNET_CONFLUX_CIDR",
        metavar: "CIDR",
        help: "requested overlay address/prefix inside the realm, e.g. 100.64.0.10/16",
      },
      portal,
      portalNetworks,
      {
        name: "teams",
        type: "string",
        env: "VEILNET_CONFLUX_TEAMS",
        metavar: "T1,T2",
        help: "comma-separated teams to join (ignored unless you belong to them)",
      },
      debug,
      rtc,
      noRelay,
      underlayInterfaces,
      dnsSuffix,
      noDns,
      dnsConfig,
      ...serviceFlags,
    ],
    details: "Steps: register with the Guardian, remove any existing service, save conflux.json " +
      "(mode 0600, with the Guardian's key pinned), install and start the service.\nIf a step " +
      "fails, everything done so far is undone: no token is kept and the previous service is " +
      "put back.",
  },
  {
    name: "unregister",
    summary: "Unregister from VeilNet, stop and remove the service, delete conflux.json.",
    flags: [
      guardian,
      guardianCa,
      {
        name: "force",
        type: "boolean",
        help: "clean up locally even if the Guardian cannot be reached",
      },
      ...serviceFlags,
    ],
  },
  {
    name: "up",
    summary: "Save up.json with a conflux token, install and start the service (no registration).",
    flags: [confluxToken, ...nodeFlags, debug, ...serviceFlags],
  },
  {
    name: "down",
    summary: "Stop and remove the service and delete up.json.",
    flags: serviceFlags,
  },
  { name: "start", summary: "Start the installed service.", flags: serviceFlags },
  { name: "stop", summary: "Stop the service.", flags: serviceFlags },
  {
    name: "status",
    summary: "Show the service state and whether the node answers (exit 0 when running, 3 else).",
    flags: [json, ...serviceFlags],
  },
  {
    name: "remove",
    summary: "Remove the service without unregistering (conflux.json is kept).",
    flags: serviceFlags,
  },
  {
    name: "run",
    summary: "Run the node in the foreground (what the service executes).",
    flags: [
      confluxToken,
      ...nodeFlags,
      {
        name: "tun",
        type: "string",
        env: "VEILNET_TUN",
        metavar: "NAME",
        help: "TUN interface name (default veilnet0)",
      },
      {
        name: "profile",
        type: "string",
        metavar: "NAME",
        choices: ["register", "up"],
        help: "saved file to read: register (conflux.json) or up (up.json); default: " +
          "up.json if present, else conflux.json",
      },
      {
        name: "lane",
        type: "string",
        env: "VEILNET_LANE",
        metavar: "on|off",
        choices: ["on", "off"],
        help: "datagram lane (plain UDP) beside each tether for data (default on)",
      },
      ...serviceFlags,
    ],
    details: "Settings: a flag overrides its environment variable, which overrides the saved " +
      "file. With VEILNET_CONFLUX_TOKEN set no saved file is needed (Docker).",
  },
  {
    name: "info",
    summary: "Show the running node: identity, overlay IP, realm, teams, tethers, routes, streams.",
    flags: [json, ...serviceFlags],
  },
  {
    name: "ping",
    summary: "Probe a conflux through the overlay: RTT and path (direct or via which relay).",
    args: "TARGET",
    maxPositionals: 1,
    flags: [
      {
        name: "count",
        short: "c",
        type: "string",
        metavar: "N",
        help: "probes to send (default 4)",
      },
      {
        name: "interval",
        short: "i",
        type: "string",
        metavar: "SECONDS",
        help: "time between probes (default 1)",
      },
      json,
      ...serviceFlags,
    ],
    details: "Exits 1 when nothing answered, saying why: no conflux answered for the address " +
      "(offline, or no team in common), no direct tether or relay reaches it, or its host sent " +
      "no echo reply.",
  },
  {
    name: "teams",
    summary: "List, add or remove this conflux's teams at the Guardian.",
    args: "list|add|remove [TEAM]",
    maxPositionals: 2,
    flags: [
      confluxToken,
      accessToken,
      guardian,
      guardianCa,
      {
        name: "conflux-id",
        type: "string",
        metavar: "ID",
        help: "conflux id (default: from conflux.json or the running node)",
      },
      json,
      ...serviceFlags,
    ],
    details: "Changes reach the running node at once; no restart is needed.\nThe conflux's " +
      "own token may list and remove its teams; adding one is the owner's decision: pass the " +
      "owner's --access-token.",
  },
  {
    name: "netcheck",
    summary: "Check this host's network for VeilNet (no running node needed); --json.",
    flags: [
      confluxToken,
      guardian,
      guardianCa,
      underlayInterfaces,
      {
        name: "tun",
        type: "string",
        env: "VEILNET_TUN",
        metavar: "NAME",
        help: "the node's TUN name, left out of the underlay (default veilnet0)",
      },
      {
        name: "profile",
        type: "string",
        metavar: "NAME",
        choices: ["register", "up"],
        help: "saved file to read: register (conflux.json) or up (up.json); default: " +
          "up.json if present, else conflux.json",
      },
      json,
      ...serviceFlags,
    ],
    details: "Checks TUN devices, the Guardian (reachability, TLS trust, clock offset), the " +
      "conflux token, NATS, outbound UDP, the reflexive address and NAT behaviour from the " +
      "realm's STUN service, and the interfaces tethers would use. One line per check, with " +
      "the fix when it fails. Exit 0 when no check failed, 1 otherwise.",
  },
  { name: "version", summary: "Print the version.", flags: [help] },
  {
    name: "help",
    summary: "Show help for a command.",
    args: "[COMMAND]",
    maxPositionals: 1,
    flags: [help],
  },
];

/** Looks a command up by name. */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
