/**
 * `veilnet-guardian`: the self-hostable authentication server of VeilNet.
 *
 *   veilnet-guardian init  --data DIR [--nats-listen HOST:PORT]
 *                          [--cluster NAME=HOST:PORT:ROUTE_PORT[,…]]… [--gateway NAME=HOST:PORT[,…]]…
 *                          [--nats-tls-cert FILE --nats-tls-key FILE [--nats-tls-ca FILE]]
 *   veilnet-guardian serve --data DIR --nats URL[,URL…] [--listen HOST:PORT] [--session-ttl SECONDS]
 *                          [--ice URL[,URL…]] [--no-signup] [--realm-range CIDR] [--log-level LEVEL]
 *                          [--tls-cert FILE --tls-key FILE] [--nats-ca FILE]
 *                          [--stun HOST:PORT [--stun-advertise HOST:PORT]]
 *   veilnet-guardian stun  [--listen HOST:PORT] [--log-level LEVEL]
 *
 * `serve` answers the JSON API (PROTOCOL.md) and, on the same origin, the Auth Portal at `/`
 * (guardian/ui/: sign-in, planes and conflux cards, tokens, teams, audit log).
 *
 * `serve --stun` runs a STUN Binding server (guardian/stun_server.ts) beside the HTTP API, so a
 * self-hosted realm needs no public STUN service: unless `--ice` names servers, sessions then
 * hand out `stun:HOST:PORT` of the `--stun-advertise` address, or of the `--stun` one when that
 * is a specific address (a wildcard like 0.0.0.0 says nothing a conflux could dial). `stun` runs
 * only the STUN server, e.g. on another machine; its default port is the standard 3478.
 *
 * The first stdout line of `serve` is `listening on URL`, that of `stun` is
 * `stun listening on stun:HOST:PORT` (with the real port when asked for port 0); `serve --stun`
 * prints that as its second line. Scripts and tests read them.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { consoleLogger, type LogLevel } from "../core/log/logger.ts";
import { initGuardian, parseHostPort, parseTopology } from "./init.ts";
import { KeyFileError } from "./keys.ts";
import { PemFileError, readPemFile } from "../core/control/pem_file.ts";
import { insecureTransportWarning, isLoopbackHost } from "../core/control/guardian_client.ts";
import { TopologyError } from "./nats_config.ts";
import { type GuardianServer, startGuardianServer } from "./server.ts";
import { startStunServer, type StunServer } from "./stun_server.ts";

const USAGE = `usage:
  veilnet-guardian init  --data DIR [--nats-listen HOST:PORT]
                         [--cluster NAME=HOST:PORT:ROUTE_PORT[,...]]... [--gateway NAME=HOST:PORT[,...]]...
                         [--nats-tls-cert FILE --nats-tls-key FILE [--nats-tls-ca FILE]]
  veilnet-guardian serve --data DIR --nats URL[,URL...] [--listen HOST:PORT] [--session-ttl SECONDS]
                         [--ice URL[,URL...]] [--no-signup] [--realm-range CIDR] [--log-level LEVEL]
                         [--tls-cert FILE --tls-key FILE] [--nats-ca FILE]
                         [--stun HOST:PORT [--stun-advertise HOST:PORT]]
  veilnet-guardian stun  [--listen HOST:PORT] [--log-level LEVEL]

  --stun HOST:PORT            also run a STUN server there (port 0: any free port); unless --ice
                              is given, sessions hand out stun:HOST:PORT
  --stun-advertise HOST:PORT  the address handed out instead; required when --stun listens on
                              0.0.0.0 or [::] and --ice is not given
  stun --listen HOST:PORT     run only the STUN server (default 0.0.0.0:3478)`;

/** Thrown for bad command-line usage (exit status 2). */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Both of a certificate/key flag pair, or neither. */
function pair(
  cert: string | undefined,
  key: string | undefined,
  names: [string, string],
): { cert: string; key: string } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError(`${names[0]} and ${names[1]} go together`);
  }
  return { cert, key };
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/** `HOST:PORT` of flag `flag` (IPv6 in brackets); port 0 (a free one) only if `allowZero`. */
function hostPort(
  text: string,
  flag: string,
  allowZero: boolean,
): { host: string; port: number } {
  // parseHostPort refuses port 0, which is right for an address handed out but not for a bind.
  const zero = allowZero && /:0$/.test(text);
  try {
    const parsed = parseHostPort(zero ? `${text.slice(0, -1)}1` : text);
    return zero ? { host: parsed.host, port: 0 } : parsed;
  } catch (err) {
    if (!(err instanceof TopologyError)) throw err;
    const range = allowZero ? "0–65535" : "1–65535";
    throw new UsageError(
      `${flag}: expected HOST:PORT (IPv6 in brackets, port ${range}), got "${text}"`,
    );
  }
}

/** Whether `host` is a wildcard bind address, which no conflux could send packets to. */
function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || (host.includes(":") && /^[0:]+$/.test(host));
}

/**
 * Says once, loudly, when the API is served without TLS on an address other than loopback, or
 * when the Master is reached over plain nats:// off this machine: tokens, passwords and session
 * credentials would then cross the network in clear.
 */
export function warnPlainTransport(
  log: { warn(message: string, fields?: Record<string, unknown>): void },
  o: { listenHost: string; tls: boolean; natsUrls: string[] },
): void {
  if (!o.tls && !isLoopbackHost(o.listenHost)) {
    log.warn(
      "WARNING: serving the API over plain HTTP on a non-loopback address: passwords, tokens " +
        "and sessions cross the network unencrypted; pass --tls-cert/--tls-key",
      { listen: o.listenHost },
    );
  }
  for (const url of o.natsUrls) {
    if (insecureTransportWarning(url) !== null) {
      log.warn(
        "WARNING: the Master is reached over plain nats:// on a non-loopback address: the " +
          "control channel crosses the network unencrypted; use TLS (init --nats-tls-cert)",
        { nats: url },
      );
    }
  }
}

/** `stun:HOST:PORT`, IPv6 in brackets as RFC 7064 URIs want. */
function stunUrl(host: string, port: number): string {
  return `stun:${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function logLevel(value: string, command: string): LogLevel {
  if (!["debug", "info", "warn", "error"].includes(value)) {
    throw new UsageError(`${command}: --log-level must be debug, info, warn or error`);
  }
  return value as LogLevel;
}

async function init(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      data: { type: "string" },
      "nats-listen": { type: "string" },
      cluster: { type: "string", multiple: true },
      gateway: { type: "string", multiple: true },
      "nats-tls-cert": { type: "string" },
      "nats-tls-key": { type: "string" },
      "nats-tls-ca": { type: "string" },
    },
  });
  if (!values.data) throw new UsageError("init: --data DIR is required");
  const clusters = parseTopology(values.cluster ?? [], values.gateway ?? []);
  const tls = pair(values["nats-tls-cert"], values["nats-tls-key"], [
    "--nats-tls-cert",
    "--nats-tls-key",
  ]);
  if (values["nats-tls-ca"] !== undefined && !tls) {
    throw new UsageError("--nats-tls-ca needs --nats-tls-cert and --nats-tls-key");
  }
  const result = await initGuardian({
    dataDir: values.data,
    natsListen: values["nats-listen"],
    clusters,
    natsTls: tls && {
      certFile: tls.cert,
      keyFile: tls.key,
      ...(values["nats-tls-ca"] ? { caFile: values["nats-tls-ca"] } : {}),
    },
  });
  console.log(result.createdKeys ? "created Guardian keys" : "kept existing Guardian keys");
  for (const c of result.configs) {
    console.log(`wrote ${c.path} (server ${c.serverName}, clients ${c.clientUrl})`);
  }
  console.log(`nats urls: ${result.configs.map((c) => c.clientUrl).join(",")}`);
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      data: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8080" },
      nats: { type: "string" },
      "session-ttl": { type: "string", default: "600" },
      ice: { type: "string" },
      "no-signup": { type: "boolean", default: false },
      "realm-range": { type: "string", default: "100.64.0.0/10" },
      "log-level": { type: "string", default: "info" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "nats-ca": { type: "string" },
      stun: { type: "string" },
      "stun-advertise": { type: "string" },
    },
  });
  if (!values.data) throw new UsageError("serve: --data DIR is required");
  const tlsFiles = pair(values["tls-cert"], values["tls-key"], ["--tls-cert", "--tls-key"]);
  const tls = tlsFiles && {
    cert: readPemFile(tlsFiles.cert, "--tls-cert", "certificate"),
    key: readPemFile(tlsFiles.key, "--tls-key", "private key"),
  };
  const natsCaPem = values["nats-ca"] === undefined
    ? undefined
    : readPemFile(values["nats-ca"], "--nats-ca", "certificate");
  const natsUrls = list(values.nats);
  if (natsUrls.length === 0) throw new UsageError("serve: --nats URL[,URL] is required");
  for (const u of natsUrls) {
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(u)) throw new UsageError(`serve: bad NATS URL "${u}"`);
  }
  const ttl = Number(values["session-ttl"]);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400) {
    throw new UsageError("serve: --session-ttl must be 1–86400 seconds");
  }
  const level = logLevel(values["log-level"], "serve");
  const ice = list(values.ice);
  const stunListen = values.stun === undefined
    ? undefined
    : hostPort(values.stun, "serve: --stun", true);
  const stunAdvertise = values["stun-advertise"] === undefined
    ? undefined
    : hostPort(values["stun-advertise"], "serve: --stun-advertise", false);
  if (stunAdvertise && !stunListen) {
    throw new UsageError("serve: --stun-advertise needs --stun HOST:PORT");
  }
  if (stunAdvertise && ice.length > 0) {
    throw new UsageError(
      "serve: --stun-advertise and --ice exclude each other (--ice already lists what sessions get)",
    );
  }
  if (stunListen && !stunAdvertise && ice.length === 0 && isWildcard(stunListen.host)) {
    throw new UsageError(
      `serve: --stun ${values.stun} listens on every address; ` +
        "give the address confluxes should use with --stun-advertise HOST:PORT",
    );
  }
  let listen: { host: string; port: number };
  if (/:0$/.test(values.listen)) {
    listen = { host: values.listen.slice(0, -2).replace(/^\[|\]$/g, ""), port: 0 };
  } else {
    listen = parseHostPort(values.listen);
  }
  const log = consoleLogger(level, "guardian: ");
  warnPlainTransport(log, { listenHost: listen.host, tls: tls !== undefined, natsUrls });
  // STUN first: with port 0 its real port must be known before sessions can hand it out.
  let stun: StunServer | null = null;
  let iceServers = ice;
  if (stunListen) {
    stun = await startStunServer({ hostname: stunListen.host, port: stunListen.port, log });
    if (ice.length === 0) {
      iceServers = [
        stunAdvertise
          ? stunUrl(stunAdvertise.host, stunAdvertise.port)
          : stunUrl(stunListen.host, stun.addr.port),
      ];
    }
    log.info("sessions hand out ICE servers", { ice_servers: iceServers });
  }
  let server: GuardianServer;
  try {
    server = await startGuardianServer({
      dataDir: values.data,
      hostname: listen.host,
      port: listen.port,
      natsUrls,
      sessionTtlSec: ttl,
      iceServers,
      allowSignup: !values["no-signup"],
      realmSupernet: values["realm-range"],
      log,
      tls,
      natsCaPem,
    });
  } catch (err) {
    await stun?.close();
    throw err;
  }
  // The first stdout line is machine-read by scripts and tests; the STUN line comes second.
  console.log(`listening on ${server.url}`);
  if (stun) console.log(`stun listening on ${stun.url}`);
  const stop = async () => {
    log.info("shutting down");
    await server.close();
    await stun?.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

async function stun(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      listen: { type: "string", default: "0.0.0.0:3478" },
      "log-level": { type: "string", default: "info" },
    },
  });
  const level = logLevel(values["log-level"], "stun");
  const listen = hostPort(values.listen, "stun: --listen", true);
  const log = consoleLogger(level, "guardian stun: ");
  const server = await startStunServer({ hostname: listen.host, port: listen.port, log });
  // The first stdout line is machine-read by scripts and tests (the real port if 0 was asked).
  console.log(`stun listening on ${server.url}`);
  const stop = async () => {
    log.info("shutting down");
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

/** Runs the CLI with `args`; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === "init") await init(rest);
    else if (command === "serve") await serve(rest);
    else if (command === "stun") await stun(rest);
    else if (command === "help" || command === "--help" || command === undefined) {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    } else throw new UsageError(`unknown command "${command}"`);
    return 0;
  } catch (err) {
    if (err instanceof PemFileError) {
      console.error(`veilnet-guardian: ${err.message}`);
      return 2;
    }
    if (err instanceof UsageError || err instanceof TopologyError || isParseArgsError(err)) {
      console.error(`veilnet-guardian: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof KeyFileError) {
      console.error(`veilnet-guardian: ${err.message}`);
      return 1;
    }
    const e = err as Error;
    console.error(`veilnet-guardian: ${e.name}: ${e.message}`);
    return 1;
  }
}

function isParseArgsError(err: unknown): boolean {
  return err instanceof TypeError &&
    /^ERR_PARSE_ARGS/.test(String((err as { code?: string }).code));
}

if (import.meta.main) {
  const status = await main(Deno.args);
  if (status !== 0) Deno.exit(status);
}
