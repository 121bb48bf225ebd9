/**
 * The checks of `veilnet-conflux netcheck`, each a function that never throws and returns one
 * {@link Check}: what it found, and the fix when something is wrong. None needs a running node.
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import {
  GuardianApiError,
  GuardianClient,
  type Session,
} from "../../core/control/guardian_client.ts";
import { natsTls } from "../../core/control/nats_tls.ts";
import { generateSigningKeyPair } from "../../core/crypto/mldsa.ts";
import { containStrayErrors } from "../../core/process/stray_errors.ts";
import {
  type InterfaceAddress,
  isLoopback,
  underlayAddresses,
} from "../../core/tether/underlay.ts";
import { CERTIFICATE_SKEW_MS } from "../../core/wire/certificate.ts";
import { parseCidr } from "../../ffi/cidr.ts";
import { type NodeProbe, probeNode } from "../local_api.ts";
import { type Check, check } from "./report.ts";
import {
  classifyMapping,
  hostPort,
  type Mapping,
  otherPortTarget,
  parseStunUrl,
  resolveHost,
  type StunAnswer,
  StunProbe,
} from "./stun_probe.ts";

/** Time limits of the checks (ms); tests shorten them. */
export interface NetcheckTimeouts {
  /** The Guardian's /health and the session login. */
  guardianMs: number;
  /** Each NATS connection. */
  natsMs: number;
  /** Each STUN address (requests are resent within it). */
  stunMs: number;
  /** The local API of a running node. */
  nodeMs: number;
}

/** Default time limits. */
export const DEFAULT_TIMEOUTS: NetcheckTimeouts = {
  guardianMs: 5_000,
  natsMs: 4_000,
  stunMs: 2_000,
  nodeMs: 2_000,
};

function errorText(err: unknown): string {
  const e = err as Error;
  const cause = e?.cause instanceof Error ? e.cause.message : "";
  return cause || e?.message || String(err);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

// ---- the node ----

/** Whether a node runs here (informational: netcheck does not need one). */
export async function nodeCheck(configDir: string, timeoutMs: number): Promise<Check> {
  const probe: NodeProbe = await probeNode(configDir, { timeoutMs });
  if (probe.state === "answering") {
    const { conflux_id, overlay_ip } = probe.info;
    return check("node", "ok", `running: conflux ${conflux_id}, overlay ip ${overlay_ip}`, {
      details: { state: probe.state, socket: probe.socket, conflux_id, overlay_ip },
    });
  }
  const details = { state: probe.state, socket: probe.socket };
  if (probe.state === "no-socket" || probe.state === "stale" || probe.state === "not-a-socket") {
    return check(
      "node",
      "skip",
      `no node running (${probe.state} at ${probe.socket}); the checks below do not need one`,
      { details },
    );
  }
  return check("node", "warn", probe.message, { details });
}

// ---- TUN ----

/** Can this process create TUN devices? Opens a test device with a fresh name and closes it. */
export async function tunCheck(): Promise<Check> {
  const os = Deno.build.os;
  const name = os === "darwin"
    ? "utun"
    : `vnchk${
      Array.from(crypto.getRandomValues(new Uint8Array(2)), (b) => b.toString(16).padStart(2, "0"))
        .join("")
    }`;
  let mod: typeof import("../../ffi/tun.ts");
  try {
    mod = await import("../../ffi/tun.ts");
  } catch (err) {
    return check("tun", "fail", `the TUN binding did not load: ${errorText(err)}`, {
      fix: "run the released executable, or from source with `deno run -A`",
    });
  }
  try {
    const tun = await mod.Tun.open({ name });
    const created = tun.name;
    await tun.close();
    return check(
      "tun",
      "ok",
      `can create TUN devices (test device ${created} created and removed)`,
      {
        details: { device: created, shim: tun.shim.path, shim_origin: tun.shim.origin },
      },
    );
  } catch (err) {
    const code = err instanceof mod.TunError ? err.code : "io";
    const fixes: Record<string, string> = {
      "permission": "run as root (sudo), or give the program CAP_NET_ADMIN",
      "no-device": os === "linux"
        ? "load the TUN driver (`modprobe tun`) so /dev/net/tun exists; in a container pass " +
          "--device /dev/net/tun --cap-add NET_ADMIN"
        : os === "windows"
        ? "put wintun.dll (wintun.net) next to the executable, or set VEILNET_WINTUN_DLL"
        : "run as root",
      "shim": "install a C compiler (Debian: apt-get install gcc libc6-dev) or set " +
        "VEILNET_TUN_LIBRARY to a built libtun",
    };
    const message = (err as Error).message.split("; ")[0];
    return check("tun", "fail", `cannot create a TUN device: ${message}`, {
      fix: fixes[code] ?? "see the message; `veilnet-conflux run` would fail the same way",
      details: { code },
    });
  }
}

// ---- the Guardian: reachability, TLS, clock ----

/** What the Guardian's /health exchange told. */
export interface GuardianProbe {
  /** The reachability check. */
  reach: Check;
  /** The TLS check. */
  tls: Check;
  /** The clock check. */
  clock: Check;
  /** Whether the Guardian answered over HTTP at all. */
  answered: boolean;
}

/** Why a fetch of the Guardian failed, and what to do about it. */
function guardianFailure(url: URL, err: unknown, timeoutMs: number): {
  kind: "tls" | "dns" | "refused" | "timeout" | "route" | "other";
  summary: string;
  fix: string;
} {
  const where = url.host;
  const text = errorText(err);
  if ((err as Error)?.name === "TimeoutError" || /timed? ?out/i.test(text)) {
    return {
      kind: "timeout",
      summary: `no answer from ${where} within ${timeoutMs / 1000} s`,
      fix: `something drops the traffic: check the route (\`ip route get ${url.hostname}\`) ` +
        `and firewalls for TCP port ${url.port || (url.protocol === "https:" ? 443 : 80)}`,
    };
  }
  if (/certificate|UnknownIssuer|handshake|tls|NotValidForName|Expired/i.test(text)) {
    const fix = /NotValidForName/i.test(text)
      ? `the certificate does not name ${url.hostname}: use the name it was issued for in -g`
      : /Expired|NotValidYet/i.test(text)
      ? "the certificate is expired or not yet valid: renew it, or fix this host's clock"
      : "its certificate is not trusted: if a private CA signed it, pass --guardian-ca FILE";
    return { kind: "tls", summary: `TLS with ${where} failed: ${text}`, fix };
  }
  if (/dns error|lookup address|Name or service not known|name resolution/i.test(text)) {
    return {
      kind: "dns",
      summary: `cannot resolve ${url.hostname}: ${text.replace(/^.*dns error: /, "")}`,
      fix: "check DNS (/etc/resolv.conf, `getent hosts " + url.hostname + "`) or give -g the " +
        "Guardian's IP address",
    };
  }
  if (/refused/i.test(text)) {
    return {
      kind: "refused",
      summary: `nothing listens at ${where} (connection refused)`,
      fix: "is the Guardian running there? check -g/--guardian and its --listen address",
    };
  }
  if (/unreachable|no route/i.test(text)) {
    return {
      kind: "route",
      summary: `no route to ${url.hostname}: ${text}`,
      fix: "this host has no route there: check `ip route` and the default gateway",
    };
  }
  return {
    kind: "other",
    summary: `${where} failed: ${text}`,
    fix: "check -g/--guardian and the network",
  };
}

/**
 * The clock offset against a server that dated its answer `date` (an HTTP Date header, one
 * second resolution), sent between `sentAt` and `receivedAt` (ms since the epoch, our clock).
 */
export function clockCheck(date: string | null, sentAt: number, receivedAt: number): Check {
  const server = date === null ? NaN : Date.parse(date);
  if (!Number.isFinite(server)) {
    return check("clock", "skip", "the Guardian sent no usable Date header to compare with");
  }
  // The header truncates to the second, and HTTP servers (hyper, behind Deno.serve) reuse a
  // Date value for up to a second: the server's time lay in [date, date + 2 s).
  const offsetMs = server + 1000 - (sentAt + receivedAt) / 2;
  const precisionMs = 1000 + (receivedAt - sentAt) / 2;
  const seconds = (offsetMs / 1000).toFixed(1);
  const signed = offsetMs >= 0 ? `+${seconds}` : seconds;
  const limit = CERTIFICATE_SKEW_MS / 1000;
  const details = { offset_ms: Math.round(offsetMs), precision_ms: Math.round(precisionMs) };
  const summary = `this clock is ${signed} s off the Guardian's (±${
    (precisionMs / 1000).toFixed(1)
  } s; certificates allow ±${limit} s)`;
  const fix = "synchronise this host's clock (`timedatectl set-ntp true`, chrony or ntpd)";
  const off = Math.abs(offsetMs) - precisionMs;
  if (off > CERTIFICATE_SKEW_MS) return check("clock", "fail", summary, { fix, details });
  if (off > CERTIFICATE_SKEW_MS / 3) return check("clock", "warn", summary, { fix, details });
  return check("clock", "ok", summary, { details });
}

/** GET /health: reachability, TLS trust and the clock offset, from one exchange. */
export async function guardianChecks(
  guardianUrl: string,
  caCerts: string[] | undefined,
  timeoutMs: number,
): Promise<GuardianProbe> {
  const url = new URL(guardianUrl + "/health");
  const https = url.protocol === "https:";
  const client = caCerts ? Deno.createHttpClient({ caCerts }) : undefined;
  const sentAt = Date.now();
  const started = performance.now();
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      client,
      headers: { accept: "application/json" },
    });
    const ms = round(performance.now() - started);
    const receivedAt = Date.now();
    const text = await response.text().catch(() => "");
    let body: { status?: unknown; nats?: unknown } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // judged below
    }
    const tls = https
      ? check(
        "tls",
        "ok",
        `the certificate of ${url.host} is trusted${caCerts ? " (--guardian-ca)" : ""}`,
      )
      : check(
        "tls",
        "skip",
        "plain http: no TLS to check (use https before the Guardian leaves a private network)",
      );
    const clock = clockCheck(response.headers.get("date"), sentAt, receivedAt);
    const details = { url: guardianUrl, http_status: response.status, ms, nats: body.nats ?? null };
    if (!response.ok || body.status !== "ok") {
      return {
        reach: check(
          "guardian",
          "fail",
          `${guardianUrl} answered HTTP ${response.status}, not a Guardian's /health`,
          {
            fix: "check -g/--guardian: it must be the Guardian's base URL",
            details,
          },
        ),
        tls,
        clock,
        answered: true,
      };
    }
    const reach = body.nats === false
      ? check(
        "guardian",
        "warn",
        `${guardianUrl} answers (${ms} ms), but its own NATS connection is down`,
        {
          fix:
            "on the Guardian's host: is nats-server running and reachable from it (serve --nats)?",
          details,
        },
      )
      : check("guardian", "ok", `${guardianUrl} answers (HTTP ${response.status}, ${ms} ms)`, {
        details,
      });
    return { reach, tls, clock, answered: true };
  } catch (err) {
    const f = guardianFailure(url, err, timeoutMs);
    const details = { url: guardianUrl, error: errorText(err), kind: f.kind };
    const reach = f.kind === "tls"
      ? check("guardian", "warn", `${url.host} is reachable, but TLS failed (see tls)`, { details })
      : check("guardian", "fail", f.summary, { fix: f.fix, details });
    const tls = f.kind === "tls" ? check("tls", "fail", f.summary, { fix: f.fix }) : check(
      "tls",
      "skip",
      https ? "not checked: the Guardian is unreachable" : "plain http: no TLS to check",
    );
    return {
      reach,
      tls,
      clock: check("clock", "skip", "not checked: the Guardian did not answer"),
      answered: false,
    };
  } finally {
    client?.close();
  }
}

// ---- the session: the conflux token, NATS and STUN URLs ----

/** Logs in with the conflux token, as the node does, to learn the realm's NATS and STUN. */
export async function sessionCheck(
  guardianUrl: string,
  caCerts: string[] | undefined,
  token: string | undefined,
  portal: boolean,
  timeoutMs: number,
): Promise<{ check: Check; session: Session | null; nkeySeed: Uint8Array | null }> {
  if (!token) {
    return {
      check: check(
        "session",
        "skip",
        "no conflux token (not registered here): NATS and STUN need one",
        { fix: "register first, or pass -t CONFLUX_TOKEN / set VEILNET_CONFLUX_TOKEN" },
      ),
      session: null,
      nkeySeed: null,
    };
  }
  const keys = generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const nkey = createUser();
  try {
    const client = new GuardianClient(guardianUrl, { caCerts, timeoutMs });
    const session = await client.sessionLogin({
      token,
      mldsaPublicKey: keys.publicKey,
      nkey: nkey.getPublicKey(),
      portal,
    });
    const ttl = Math.round((session.expiresAt - Date.now()) / 1000);
    return {
      check: check(
        "session",
        "ok",
        `the conflux token is accepted: conflux ${session.confluxId}, realm ${session.realmId}, ` +
          `overlay ip ${session.overlayIp}, session for ${ttl} s`,
        {
          details: {
            conflux_id: session.confluxId,
            realm_id: session.realmId,
            realm_subnet: session.realmSubnet,
            overlay_ip: session.overlayIp,
            nats_urls: session.natsUrls,
            ice_servers: session.iceServers,
            expires_at: session.expiresAt,
          },
        },
      ),
      session,
      nkeySeed: nkey.getSeed(),
    };
  } catch (err) {
    const status = err instanceof GuardianApiError ? err.status : 0;
    const message = (err as Error).message;
    const fix = status === 401 || status === 403
      ? "the token was revoked or belongs to another Guardian: register again " +
        "(`veilnet-conflux register -t REGISTRATION_TOKEN -g URL`)"
      : status === 429
      ? "the Guardian rate-limits logins from this address: try again in a few seconds"
      : status > 0
      ? "see the Guardian's log"
      : "see the guardian line above";
    return {
      check: check(
        "session",
        "fail",
        `session login refused${status ? ` (HTTP ${status})` : ""}: ${message}`,
        { fix, details: { http_status: status } },
      ),
      session: null,
      nkeySeed: null,
    };
  }
}

/** Why a NATS connection failed, and the fix. */
function natsFailure(
  url: string,
  err: unknown,
  timeoutMs: number,
): { summary: string; fix: string } {
  const text = errorText(err);
  let host = url;
  try {
    host = new URL(url.replace(/^(nats|tls):/, "http:")).host;
  } catch {
    // keep the URL
  }
  if (/refused/i.test(text)) {
    return {
      summary: `${url}: connection refused`,
      fix: `nothing listens at ${host}: is nats-server running, and is this the address the ` +
        "Guardian hands out (serve --nats)?",
    };
  }
  if (/timeout|timed out/i.test(text)) {
    return {
      summary: `${url}: no answer within ${timeoutMs / 1000} s`,
      fix: `something drops TCP to ${host}: check routes and firewalls`,
    };
  }
  if (/certificate|tls|handshake|UnknownIssuer/i.test(text)) {
    return {
      summary: `${url}: TLS failed: ${text}`,
      fix: "the Master's certificate is not trusted: pass --guardian-ca FILE (the CA that " +
        "signed it)",
    };
  }
  if (/authoriz|authentic|permission|expired/i.test(text)) {
    return {
      summary: `${url}: the Master refused the session's credentials: ${text}`,
      fix: "the Guardian and nats-server do not share an operator: rerun " +
        "`veilnet-guardian init` and restart nats-server with the configuration it writes",
    };
  }
  return { summary: `${url}: ${text}`, fix: "check the NATS URLs the Guardian hands out" };
}

/** Connects to each NATS URL of the session with its credentials, measures a round trip. */
export async function natsCheck(
  session: Session,
  nkeySeed: Uint8Array,
  caCerts: string[] | undefined,
  timeoutMs: number,
): Promise<Check> {
  const urls = session.natsUrls.slice(0, 4);
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const stopContaining = containStrayErrors(quiet);
  try {
    const results = await Promise.all(urls.map(async (url) => {
      try {
        const nc = await connect({
          servers: [url],
          name: `${session.confluxId} netcheck`,
          inboxPrefix: session.inboxPrefix,
          authenticator: jwtAuthenticator(session.natsJwt, nkeySeed),
          timeout: timeoutMs,
          reconnect: false,
          maxReconnectAttempts: 0,
          ...natsTls([url], caCerts ?? []),
        });
        try {
          const rtt = await nc.rtt();
          return { url, ok: true as const, rttMs: round(rtt) };
        } finally {
          await nc.close().catch(() => {});
        }
      } catch (err) {
        return { url, ok: false as const, ...natsFailure(url, err, timeoutMs) };
      }
    }));
    const up = results.filter((r) => r.ok);
    const down = results.filter((r) => !r.ok);
    const details = { servers: results };
    if (up.length === 0) {
      return check("nats", "fail", down.map((d) => d.summary).join("; "), {
        fix: down[0].fix,
        details,
      });
    }
    const good = up.map((u) => `${u.url} (rtt ${u.rttMs} ms)`).join(", ");
    if (down.length > 0) {
      return check(
        "nats",
        "warn",
        `connected to ${good}; but ${down.map((d) => d.summary).join("; ")}`,
        {
          fix: down[0].fix,
          details,
        },
      );
    }
    return check("nats", "ok", `connected with this conflux's credentials to ${good}`, { details });
  } finally {
    // Every connection is closed by now (or never opened): no socket is left to raise a reset.
    stopContaining();
  }
}

// ---- UDP, reflexive address, NAT behaviour ----

/** The udp, reflexive and nat checks. */
export interface StunChecks {
  udp: Check;
  reflexive: Check;
  nat: Check;
}

function skipStun(why: string, fix?: string): StunChecks {
  return {
    udp: check("udp", "skip", why, { fix }),
    reflexive: check("reflexive", "skip", why),
    nat: check("nat", "skip", why),
  };
}

/** Every address of this host's interfaces (to tell "no NAT"). */
function localAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return [];
  }
}

/**
 * Asks the realm's STUN service (the session's `stun:` ICE servers) from one UDP socket: the
 * first server, its other port (OTHER-ADDRESS) and up to one more server of the realm.
 */
export async function stunChecks(
  iceServers: readonly string[],
  timeoutMs: number,
): Promise<StunChecks> {
  const targets = iceServers.map(parseStunUrl).filter((t) => t !== null);
  if (targets.length === 0) {
    return skipStun(
      "the Guardian hands out no STUN server, so confluxes behind NAT get no reflexive address",
      "self-hosted: `veilnet-guardian serve --stun HOST:PORT` (or --ice stun:HOST:PORT)",
    );
  }
  const first = targets[0];
  const label = `stun:${hostPort(first.host, first.port)}`;
  let address: string;
  try {
    address = await resolveHost(first.host, timeoutMs);
  } catch (err) {
    return {
      ...skipStun(`not checked: ${label} does not resolve`),
      udp: check("udp", "fail", `cannot resolve ${first.host}: ${errorText(err)}`, {
        fix: "check DNS (/etc/resolv.conf)",
      }),
    };
  }
  const family = address.includes(":") ? 6 : 4;
  let probe: StunProbe;
  try {
    probe = await StunProbe.open(family);
  } catch (err) {
    return {
      ...skipStun("not checked: no UDP socket"),
      udp: check("udp", "fail", `cannot open a UDP socket: ${errorText(err)}`, {
        fix: "run with network permission (deno run -A)",
      }),
    };
  }
  try {
    const primary = await probe.query(address, first.port, timeoutMs);
    if (!primary) {
      return {
        udp: check(
          "udp",
          "fail",
          `no answer from ${label} within ${
            timeoutMs / 1000
          } s: UDP out (or its replies) is blocked, or the STUN server is down`,
          {
            fix: `allow outbound UDP to ${
              hostPort(address, first.port)
            } and its replies; without UDP no tether can form`,
            details: { server: hostPort(address, first.port), local_port: probe.port },
          },
        ),
        reflexive: check("reflexive", "skip", "not checked: no STUN answer"),
        nat: check("nat", "skip", "not checked: no STUN answer"),
      };
    }
    const udp = check("udp", "ok", `outbound UDP works: ${label} answered in ${primary.rttMs} ms`, {
      details: {
        server: hostPort(address, first.port),
        rtt_ms: primary.rttMs,
        local_port: probe.port,
      },
    });
    const mappedText = hostPort(primary.mapped.address, primary.mapped.port);
    const reflexive = check("reflexive", "ok", `${mappedText} (what ${label} sees of this host)`, {
      details: { address: primary.mapped.address, port: primary.mapped.port },
    });
    // The second destinations, asked from the same socket.
    const seconds: { address: string; port: number; label: string }[] = [];
    const alt = otherPortTarget({ address, port: first.port }, primary);
    if (alt) seconds.push({ ...alt, label: `${hostPort(alt.address, alt.port)} (its other port)` });
    for (const t of targets.slice(1)) {
      if (seconds.length >= 2) break;
      try {
        const a = await resolveHost(t.host, timeoutMs);
        if ((a.includes(":") ? 6 : 4) !== family) continue;
        if (a === address && t.port === first.port) continue;
        seconds.push({ address: a, port: t.port, label: `stun:${hostPort(t.host, t.port)}` });
      } catch {
        // another server that does not resolve: not a second destination
      }
    }
    const answers = await Promise.all(
      seconds.map((s) => probe.query(s.address, s.port, timeoutMs)),
    );
    const answered: StunAnswer[] = [primary];
    const silent: string[] = [];
    answers.forEach((a, i) => a ? answered.push(a) : silent.push(seconds[i].label));
    const mapping = classifyMapping(answered, localAddresses(), probe.port);
    return { udp, reflexive, nat: natVerdict(mapping, answered, label, seconds, silent) };
  } finally {
    await probe.close();
  }
}

/** The nat line for `mapping`. */
function natVerdict(
  mapping: Mapping,
  answers: readonly StunAnswer[],
  label: string,
  seconds: readonly { label: string }[],
  silent: readonly string[],
): Check {
  const seen = answers.map((a) => ({
    server: hostPort(a.server.address, a.server.port),
    mapped: hostPort(a.mapped.address, a.mapped.port),
  }));
  const details = { mapping, seen };
  switch (mapping) {
    case "none":
      return check("nat", "ok", "no NAT: the STUN server sees this host's own address and port", {
        details,
      });
    case "endpoint-independent":
      return check(
        "nat",
        "ok",
        `endpoint-independent mapping: the same public ${seen[0].mapped} towards ${
          seen.map((s) => s.server).join(" and ")
        }; direct (hole-punched) tethers through this NAT can form`,
        { details },
      );
    case "dependent":
      return check(
        "nat",
        "warn",
        `symmetric NAT (address/port-dependent mapping): ${
          seen.map((s) => `${s.mapped} towards ${s.server}`).join(", ")
        }; direct tethers with hosts behind other NATs cannot form, traffic to them goes through relays`,
        {
          fix: "for direct tethers give this NAT endpoint-independent mapping (nftables: " +
            '`masquerade` without `random`; routers: "full cone" or "EIM"), a public address, ' +
            "or a forwarded UDP port",
          details,
        },
      );
    default: {
      const why = seconds.length === 0
        ? `${label} names no second port (OTHER-ADDRESS) and the realm has one STUN server`
        : `only ${label} answered; ${silent.join(", ")} did not`;
      const fix = seconds.length === 0
        ? "update veilnet-guardian (its STUN service answers on a second port), or list two " +
          "STUN servers with `serve --ice`"
        : `allow UDP to ${silent.join(", ")} as well`;
      return check("nat", "warn", `behaviour unknown: ${why}`, { fix, details });
    }
  }
}

// ---- underlay ----

/** Which addresses (and interfaces) tethers would gather on, as the node chooses them. */
export function underlayCheck(
  interfaces: readonly InterfaceAddress[],
  options: { tunName: string; realmSubnet?: string; named?: readonly string[] },
): Check {
  let realm: { network: number; prefix: number } | undefined;
  if (options.realmSubnet) {
    try {
      const c = parseCidr(options.realmSubnet);
      if (c.family === 4) {
        const a = c.address;
        const ip = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
        const mask = c.prefix === 0 ? 0 : (0xffff_ffff << (32 - c.prefix)) >>> 0;
        realm = { network: (ip & mask) >>> 0, prefix: c.prefix };
      }
    } catch {
      // a Guardian that sent a bad subnet: the underlay is computed without it
    }
  }
  const chosen = underlayAddresses(interfaces, {
    tunName: options.tunName,
    realm,
    interfaces: options.named,
  });
  const nameOf = new Map(interfaces.map((i) => [i.address, i.name]));
  const listed = chosen.map((a) => `${nameOf.get(a) ?? "?"} ${a}`);
  const details = {
    addresses: chosen.map((a) => ({ interface: nameOf.get(a) ?? null, address: a })),
    named: options.named ?? null,
  };
  const missing = (options.named ?? []).filter((n) => !interfaces.some((i) => i.name === n));
  const missingText = missing.length > 0 ? ` (this host has no ${missing.join(", ")})` : "";
  if (chosen.length === 0) {
    return check("underlay", "fail", `no usable address: tethers could not form${missingText}`, {
      fix: options.named
        ? "name interfaces that exist and have an address in --underlay-interfaces (`ip -br addr`)"
        : "connect a network: every interface is the TUN, loopback or link-local",
      details,
    });
  }
  if (chosen.every(isLoopback)) {
    return check(
      "underlay",
      "warn",
      `loopback only (${listed.join(", ")}): tethers reach this machine alone`,
      {
        fix: "connect a network, or name a real interface in --underlay-interfaces",
        details,
      },
    );
  }
  const how = options.named
    ? "--underlay-interfaces"
    : "every interface but the TUN, loopback and link-local";
  const summary = `tethers would gather on ${listed.join(", ")} (${how})${missingText}`;
  if (missing.length > 0) {
    return check("underlay", "warn", summary, {
      fix: "fix the names in --underlay-interfaces (`ip -br addr`)",
      details,
    });
  }
  return check("underlay", "ok", summary, { details });
}
