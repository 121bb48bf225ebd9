/**
 * The DNS server sockets: UDP and TCP on one address and port (the node's overlay IP, port 53),
 * answering only queries whose source the caller allows (the node's own host) through an
 * {@link Authority}. Everything else is dropped without an answer. Bad packets get FORMERR (from
 * the authority) and never end the server.
 *
 * @module
 */
import dgram from "node:dgram";
import type { Authority } from "./authority.ts";

/** Concurrent TCP connections served; more are closed at once. */
export const MAX_TCP_CONNECTIONS = 16;
/** A TCP connection silent for this long is closed. */
export const TCP_IDLE_MS = 10_000;
/** UDP queries answered at once; beyond it new ones are dropped (the host's resolver retries). */
const MAX_UDP_IN_FLIGHT = 256;

/** Options of a DNS server. */
export interface DnsServerOptions {
  hostname: string;
  port: number;
  authority: Authority;
  /** Whether a query from `address` is answered (the node's own host). */
  allow: (address: string) => boolean;
  /** Problems (a socket error), never per-query noise. */
  onError?: (message: string, error: unknown) => void;
}

/** A running DNS server. */
export interface DnsServer {
  /** The UDP and TCP port (useful with port 0). */
  readonly port: number;
  /** Queries answered, refused by source, and dropped. */
  readonly stats: { answered: number; foreign: number; dropped: number };
  close(): Promise<void>;
}

/** Starts UDP and TCP listeners; rejects when either cannot bind. */
export async function startDnsServer(o: DnsServerOptions): Promise<DnsServer> {
  const stats = { answered: 0, foreign: 0, dropped: 0 };
  const udp = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(o.port, o.hostname, () => {
      udp.off("error", reject);
      resolve();
    });
  });
  const port = udp.address().port;
  let tcp: Deno.TcpListener;
  try {
    tcp = Deno.listen({ hostname: o.hostname, port, transport: "tcp" });
  } catch (e) {
    udp.close();
    throw e;
  }
  let closed = false;
  let inFlight = 0;
  udp.on("error", (e) => o.onError?.("DNS UDP socket error", e));
  udp.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    if (!o.allow(rinfo.address)) {
      stats.foreign++;
      return;
    }
    if (inFlight >= MAX_UDP_IN_FLIGHT) {
      stats.dropped++;
      return;
    }
    inFlight++;
    o.authority.answer(new Uint8Array(msg), { udp: true }).then((out) => {
      if (!out || closed) return void stats.dropped++;
      stats.answered++;
      udp.send(out, rinfo.port, rinfo.address);
    }).catch((e) => {
      stats.dropped++;
      o.onError?.("DNS query failed", e);
    }).finally(() => inFlight--);
  });

  const conns = new Set<Deno.TcpConn>();
  const accepting = (async () => {
    try {
      for await (const conn of tcp) {
        const remote = conn.remoteAddr as Deno.NetAddr;
        if (!o.allow(remote.hostname) || conns.size >= MAX_TCP_CONNECTIONS) {
          if (!o.allow(remote.hostname)) stats.foreign++;
          else stats.dropped++;
          try {
            conn.close();
          } catch { /* already closed */ }
          continue;
        }
        conns.add(conn);
        serveTcp(conn, o.authority, stats).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* already closed */ }
        });
      }
    } catch (e) {
      if (!closed) o.onError?.("DNS TCP listener ended", e);
    }
  })();

  return {
    port,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      tcp.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await new Promise<void>((r) => udp.close(() => r()));
      await accepting;
    },
  };
}

/** Serves length-prefixed messages on one TCP connection (RFC 7766) until it ends or idles. */
async function serveTcp(
  conn: Deno.TcpConn,
  authority: Authority,
  stats: { answered: number; dropped: number },
): Promise<void> {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(chunk).catch(() => null),
      new Promise<null>((r) => timer = setTimeout(() => r(null), TCP_IDLE_MS)),
    ]);
    clearTimeout(timer);
    if (n === null) return;
    const joined = new Uint8Array(buffer.length + n);
    joined.set(buffer);
    joined.set(chunk.subarray(0, n), buffer.length);
    buffer = joined;
    while (buffer.length >= 2) {
      const length = (buffer[0] << 8) | buffer[1];
      if (buffer.length < 2 + length) break;
      const message = buffer.slice(2, 2 + length);
      buffer = buffer.slice(2 + length);
      const out = await authority.answer(message, { udp: false });
      if (!out) {
        stats.dropped++;
        return;
      }
      const framed = new Uint8Array(2 + out.length);
      framed[0] = out.length >> 8;
      framed[1] = out.length & 0xff;
      framed.set(out, 2);
      let written = 0;
      while (written < framed.length) written += await conn.write(framed.subarray(written));
      stats.answered++;
    }
  }
}
