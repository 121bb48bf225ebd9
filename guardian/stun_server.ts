/**
 * A STUN Binding server (RFC 8489 §6.3 "Binding" only, no TURN, no authentication): tells a
 * conflux behind NAT the address and port its UDP packets come from, which ICE turns into a
 * server-reflexive candidate.
 *
 * Anyone on the Internet can send it packets, with any source address, so it is built to be a
 * poor reflector: it answers only well-formed Binding requests, each answer is a small fixed-size
 * message (at most 2 × the 20-byte minimum request plus {@link RESPONSE_OVERHEAD}), and each
 * source IP address gets a token bucket. Everything else is dropped without a word.
 *
 * It also answers on a second port of the same address (by default the next one: 3478 and
 * 3479), and every answer names the other port in OTHER-ADDRESS (RFC 5780). A client that asks
 * both from one socket learns whether its NAT maps both destinations to the same public port
 * (endpoint-independent mapping: hole punching works) or not (a symmetric NAT):
 * `veilnet-conflux netcheck` does exactly that. Both ports share the rate limit.
 *
 * ```ts
 * const stun = await startStunServer({ hostname: "127.0.0.1", port: 0, log });
 * console.log(stun.url); // stun:127.0.0.1:41234
 * await stun.close();
 * ```
 *
 * UDP goes through `node:dgram`: `Deno.listenDatagram` is still behind `--unstable-net` in
 * Deno 2.9, and the Guardian runs (and is compiled) without unstable flags.
 *
 * @module
 */

import dgram from "node:dgram";
import type { Logger } from "../core/log/logger.ts";
import {
  ATTR_FINGERPRINT,
  decodeStunMessage,
  encodeBindingSuccess,
  fingerprintOk,
  isBindingRequest,
  type MappedAddress,
  StunError,
  type StunMessage,
} from "../core/stun/message.ts";
import { RateLimiter } from "./rate_limit.ts";

/** Sustained answers per second and source address, by default. */
export const DEFAULT_RATE_PER_SECOND = 20;
/** Answers a source address may get in a burst, by default. */
export const DEFAULT_BURST = 40;
/** Most source addresses whose buckets are tracked at once, by default. */
export const DEFAULT_MAX_SOURCES = 4096;
/**
 * Bytes a response may exceed twice its request by. Ours is at most 96 bytes (an IPv6
 * XOR-MAPPED-ADDRESS and MAPPED-ADDRESS, SOFTWARE, FINGERPRINT); the smallest request is 20.
 */
export const RESPONSE_OVERHEAD = 64;
/** Larger datagrams are not inspected: a Binding request to a plain STUN server is tiny. */
const MAX_REQUEST_BYTES = 1500;
/** SOFTWARE we send; short on purpose, since every byte of it is reflected. */
const SOFTWARE = "veilnet-guardian";

/** Options of {@link startStunServer}. */
export interface StunServerOptions {
  /** Address to bind, e.g. "0.0.0.0", "::" or "127.0.0.1". */
  hostname: string;
  /** UDP port; 0 picks a free one (see {@link StunServer.addr}). */
  port: number;
  /** Where start, stop and (at debug) dropped packets are logged. */
  log: Logger;
  /** Sustained answers per second per source IP (> 0); default {@link DEFAULT_RATE_PER_SECOND}. */
  ratePerSecond?: number;
  /** Burst of answers per source IP (> 0); default {@link DEFAULT_BURST}. */
  burst?: number;
  /** Most source IPs tracked; default {@link DEFAULT_MAX_SOURCES}. */
  maxSources?: number;
  /** Clock in ms; default `Date.now`. Tests move it to refill buckets. */
  now?: () => number;
  /**
   * The second UDP port, named in OTHER-ADDRESS. Default: `port + 1` (a free one when `port` is
   * 0), and none when that one is taken or `port` is 65535; `null`: none. A port given here
   * that cannot be bound fails the start.
   */
  alternatePort?: number | null;
}

/** Counters of a running server. */
export interface StunServerStats {
  /** Binding requests answered. */
  answered: number;
  /** Datagrams not answered, for whatever reason (includes `limited`). */
  dropped: number;
  /** Of `dropped`: well-formed Binding requests refused by the rate limit. */
  limited: number;
}

/** A running STUN server. */
export interface StunServer {
  /** Address and port actually bound. */
  addr: { hostname: string; port: number };
  /** `stun:HOST:PORT` of the bound address (IPv6 in brackets). */
  url: string;
  /** The second port's address (see {@link StunServerOptions.alternatePort}), or null. */
  alternate: { hostname: string; port: number } | null;
  /** Counters since start. */
  stats(): StunServerStats;
  /** Stops listening and releases both sockets; resolves once they are closed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on `hostname:port` (and one on the second port, see
 * {@link StunServerOptions.alternatePort}) and answers Binding requests until closed.
 */
export async function startStunServer(options: StunServerOptions): Promise<StunServer> {
  const { log } = options;
  const limiter = new RateLimiter({
    perSecond: options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND,
    burst: options.burst ?? DEFAULT_BURST,
    maxKeys: options.maxSources ?? DEFAULT_MAX_SOURCES,
  });
  const now = options.now ?? Date.now;
  const counters: StunServerStats = { answered: 0, dropped: 0, limited: 0 };
  const hostname = options.hostname.replace(/^\[|\]$/g, "");
  const primary = await bindUdp(hostname, options.port, log);
  const addr = { hostname: primary.address().address, port: primary.address().port };
  let second: dgram.Socket | null = null;
  const wanted = options.alternatePort;
  if (wanted !== null) {
    const port = wanted ?? (options.port === 0 ? 0 : addr.port + 1);
    if (port <= 65535) {
      try {
        second = await bindUdp(hostname, port, log);
      } catch (err) {
        if (wanted !== undefined) {
          primary.close();
          throw err;
        }
        log.warn("stun: no second port, NAT behaviour cannot be told by clients", {
          port,
          error: (err as Error).message,
        });
      }
    }
  }
  const alternate = second
    ? { hostname: second.address().address, port: second.address().port }
    : null;

  const drop = (reason: string, from: dgram.RemoteInfo) => {
    counters.dropped++;
    log.debug("stun datagram dropped", { reason, from: from.address, port: from.port });
  };

  /** Serves `socket`, naming `other` (the other socket's address) in each answer. */
  const serve = (socket: dgram.Socket, other: { hostname: string; port: number } | null) => {
    socket.on("message", (data: Uint8Array, from: dgram.RemoteInfo) => {
      // Nothing a peer sends may escape this handler: that would end the Guardian.
      try {
        const response = answer(data, from, other);
        if (typeof response === "string") return drop(response, from);
        if (!limiter.take(limitKey(from.address), now())) {
          counters.limited++;
          return drop("rate limited", from);
        }
        counters.answered++;
        socket.send(response, from.port, from.address, (err) => {
          if (err) log.debug("stun send failed", { to: from.address, error: err.message });
        });
      } catch (err) {
        drop(`internal: ${(err as Error).message}`, from);
      }
    });
  };
  serve(primary, alternate);
  if (second) serve(second, addr);

  const url = `stun:${
    addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
  }:${addr.port}`;
  log.info("stun server listening", { url, alternate_port: alternate?.port ?? null });

  let closing: Promise<void> | null = null;
  return {
    addr,
    url,
    alternate,
    stats: () => ({ ...counters }),
    close() {
      closing ??= Promise.all(
        [primary, second].map((socket) =>
          socket && new Promise<void>((resolve) => socket.close(() => resolve()))
        ),
      ).then(() => log.info("stun server stopped", { url, ...counters }));
      return closing;
    },
  };
}

/** A UDP socket bound to `hostname:port`; rejects (leaving nothing open) when it cannot bind. */
async function bindUdp(hostname: string, port: number, log: Logger): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: hostname.includes(":") ? "udp6" : "udp4" });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    socket.once("error", failed);
    socket.bind(port, hostname, () => {
      socket.off("error", failed);
      resolve();
    });
  }).catch((err) => {
    socket.close();
    throw err;
  });
  // After binding, a socket error (e.g. ICMP-reported unreachable on some systems) is no reason
  // to stop serving everyone else.
  socket.on("error", (err) => log.warn("stun socket error", { error: err.message }));
  return socket;
}

/**
 * The response to send for `data` from `from`, or why there is none. `other` is the server's
 * other port, named in OTHER-ADDRESS when the answer stays a poor amplifier.
 */
function answer(
  data: Uint8Array,
  from: dgram.RemoteInfo,
  other: { hostname: string; port: number } | null,
): Uint8Array | string {
  if (data.length > MAX_REQUEST_BYTES) return "too large";
  if (from.port === 0) return "source port 0";
  let msg: StunMessage;
  try {
    msg = decodeStunMessage(data);
  } catch (err) {
    if (err instanceof StunError) return err.code;
    throw err;
  }
  // Indications (keep-alives), responses and other methods get no answer (RFC 8489 §6.3).
  if (!isBindingRequest(msg)) return "not a binding request";
  // A FINGERPRINT that is present must match (RFC 8489 §7.3); without one, nothing to check.
  if (msg.attributes.some((a) => a.type === ATTR_FINGERPRINT) && !fingerprintOk(data)) {
    return "bad fingerprint";
  }
  const mapped = reflexive(from);
  const otherAddress = other ? otherAddressFor(other, mapped.family) : undefined;
  // Never a better amplifier than 2×: an IPv6 answer with OTHER-ADDRESS to a minimal request
  // fits only without SOFTWARE, and one that still does not fit goes without OTHER-ADDRESS.
  const limit = 2 * data.length + RESPONSE_OVERHEAD;
  const shapes = [
    { software: SOFTWARE, otherAddress },
    { software: undefined, otherAddress },
    { software: SOFTWARE, otherAddress: undefined },
  ];
  for (const shape of shapes) {
    const response = encodeBindingSuccess(msg.transactionId, mapped, {
      ...shape,
      fingerprint: true,
    });
    if (response.length <= limit) return response;
  }
  return "response too large";
}

/**
 * OTHER-ADDRESS for a client of `family`: the other socket's address when it is a specific one
 * of that family, else the unspecified address (a wildcard bind names no address; the client
 * then uses the address it reached us at, with this port).
 */
function otherAddressFor(
  other: { hostname: string; port: number },
  family: 4 | 6,
): MappedAddress {
  const v6 = other.hostname.includes(":");
  const specific = !/^(0\.0\.0\.0|[0:]+)$/.test(other.hostname);
  const address = specific && v6 === (family === 6)
    ? other.hostname
    : family === 6
    ? "::"
    : "0.0.0.0";
  return { address, port: other.port, family };
}

/**
 * The rate-limit bucket of a source: its IPv4 address, or the /64 of an IPv6 address, since one
 * host (or a spoofer aiming at one network) can pick any address inside its /64.
 */
export function limitKey(address: string): string {
  const bare = address.replace(/%.*$/, "").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1];
  if (!bare.includes(":")) return bare;
  const [head, tail] = bare.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? headGroups : [
    ...headGroups,
    ...new Array(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill("0"),
    ...tailGroups,
  ];
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/** The source as STUN reports it; an IPv4 client of a dual-stack socket is reported as IPv4. */
function reflexive(from: dgram.RemoteInfo): MappedAddress {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(from.address);
  if (mapped) return { address: mapped[1], port: from.port, family: 4 };
  if (from.family === "IPv6" || from.address.includes(":")) {
    return { address: from.address, port: from.port, family: 6 };
  }
  return { address: from.address, port: from.port, family: 4 };
}
