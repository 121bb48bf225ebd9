/**
 * The STUN side of `netcheck`: Binding requests from one UDP socket to one or more STUN
 * addresses, and what the answers say about the NAT in front of this host.
 *
 * Mapping behaviour (RFC 4787 §4.1, RFC 5780 §4.3) is told by asking two destinations from the
 * same local socket and comparing the public address and port each one saw: the same for both is
 * endpoint-independent mapping (hole punching works, tethers through the NAT can be direct);
 * different is address- and/or port-dependent mapping, a "symmetric NAT" (direct tethers with other
 * NATed hosts fail and traffic goes through relays). The second destination is the STUN server's
 * other port (its OTHER-ADDRESS, see guardian/stun_server.ts) or a second STUN server of the realm.
 *
 * UDP goes through `node:dgram` (`Deno.listenDatagram` still needs `--unstable-net`).
 *
 * @module
 */
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import {
  BINDING_SUCCESS,
  decodeMappedAddress,
  decodeOtherAddress,
  decodeStunMessage,
  decodeXorMappedAddress,
  encodeBindingRequest,
  type MappedAddress,
  StunError,
} from "../../core/stun/message.ts";

/** A STUN server as a session lists it (`stun:HOST:PORT`), parsed. */
export interface StunTarget {
  /** Host name or address, without brackets. */
  host: string;
  /** UDP port. */
  port: number;
}

/** One answered Binding request. */
export interface StunAnswer {
  /** Address:port the request went to. */
  server: { address: string; port: number };
  /** The public address and port the server saw (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS). */
  mapped: MappedAddress;
  /** The server's OTHER-ADDRESS, if it named one. */
  other: MappedAddress | null;
  /** Time from the first send to the answer (ms). */
  rttMs: number;
}

/** Mapping behaviour: no NAT, the same mapping for every destination, or not, or unknown. */
export type Mapping = "none" | "endpoint-independent" | "dependent" | "unknown";

/** Parses `stun:HOST:PORT` (RFC 7064; IPv6 in brackets; port default 3478). Null if not STUN. */
export function parseStunUrl(url: string): StunTarget | null {
  const m = /^stuns?:(\[[0-9A-Fa-f:.]+\]|[^:\[\]/?#@\s]+)(?::(\d{1,5}))?$/.exec(url.trim());
  if (!m || url.startsWith("stuns:")) return null; // stuns (TLS) is not something we speak
  const port = m[2] === undefined ? 3478 : Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

/** `host:port`, IPv6 in brackets. */
export function hostPort(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/** Resolves `host` to one address (a literal stays as is); rejects after `timeoutMs`. */
export async function resolveHost(host: string, timeoutMs: number): Promise<string> {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":")) return host;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const found = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`resolving ${host} took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return found.address;
  } finally {
    clearTimeout(timer);
  }
}

/** One UDP socket asking STUN servers; answers are matched to requests by transaction id. */
export class StunProbe {
  #socket: dgram.Socket;
  #waiting = new Map<string, (reply: Uint8Array, from: dgram.RemoteInfo) => void>();

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on("message", (data: Uint8Array, from: dgram.RemoteInfo) => {
      // Anything may arrive on a UDP port: only a well-formed success for a pending id counts.
      let id: string;
      try {
        const msg = decodeStunMessage(new Uint8Array(data));
        if (msg.type !== BINDING_SUCCESS) return;
        id = hex(msg.transactionId);
      } catch (err) {
        if (err instanceof StunError) return;
        throw err;
      }
      this.#waiting.get(id)?.(new Uint8Array(data), from);
    });
    socket.on("error", () => {
      // An ICMP error on one destination must not end the others' requests; they time out.
    });
  }

  /** Opens a socket of `family` on every address, port chosen by the system. */
  static async open(family: 4 | 6): Promise<StunProbe> {
    const socket = dgram.createSocket({ type: family === 6 ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, family === 6 ? "::" : "0.0.0.0", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new StunProbe(socket);
  }

  /** The local port every request leaves from. */
  get port(): number {
    return this.#socket.address().port;
  }

  /**
   * Sends a Binding request to `address:port` (a literal address), resent after 250, 750 and
   * 1,500 ms; resolves to the answer, or null when none came within `timeoutMs`.
   */
  query(address: string, port: number, timeoutMs: number): Promise<StunAnswer | null> {
    const tid = crypto.getRandomValues(new Uint8Array(12));
    const request = encodeBindingRequest(tid);
    const id = hex(tid);
    const started = performance.now();
    return new Promise((resolve) => {
      const timers: ReturnType<typeof setTimeout>[] = [];
      const finish = (answer: StunAnswer | null) => {
        for (const t of timers) clearTimeout(t);
        this.#waiting.delete(id);
        resolve(answer);
      };
      this.#waiting.set(id, (reply) => {
        const msg = decodeStunMessage(reply);
        const mapped = decodeXorMappedAddress(msg) ?? decodeMappedAddress(msg);
        if (!mapped) return; // an answer without an address tells nothing; keep waiting
        finish({
          server: { address, port },
          mapped,
          other: decodeOtherAddress(msg),
          rttMs: Math.round((performance.now() - started) * 10) / 10,
        });
      });
      const send = () => {
        try {
          this.#socket.send(request, port, address);
        } catch {
          // e.g. no route: the request simply gets no answer
        }
      };
      send();
      for (const at of [250, 750, 1500]) if (at < timeoutMs) timers.push(setTimeout(send, at));
      timers.push(setTimeout(() => finish(null), timeoutMs));
    });
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The second destination to ask after `first` answered from `primary`: the server's other port
 * at the address we reached it at (our STUN server names its own, possibly wildcard, bind
 * address; only the port matters since it listens on both ports of every address), or null.
 */
export function otherPortTarget(
  primary: { address: string; port: number },
  first: StunAnswer,
): { address: string; port: number } | null {
  const other = first.other;
  if (!other || other.port === 0 || other.port === primary.port) return null;
  return { address: primary.address, port: other.port };
}

/**
 * What the answers (all from one local socket on `localPort`) say about the NAT: "none" when the
 * mapped address is one of this host's own (`localAddresses`) with the same port; with two or
 * more answers, "endpoint-independent" when every answer saw the same address and port, else
 * "dependent"; "unknown" with fewer than two answers behind a NAT.
 */
export function classifyMapping(
  answers: readonly StunAnswer[],
  localAddresses: readonly string[],
  localPort: number,
): Mapping {
  if (answers.length === 0) return "unknown";
  const first = answers[0].mapped;
  const own = localAddresses.includes(first.address) && first.port === localPort;
  const same = answers.every((a) =>
    a.mapped.address === first.address && a.mapped.port === first.port
  );
  if (own && same) return "none";
  if (answers.length < 2) return "unknown";
  return same ? "endpoint-independent" : "dependent";
}
