/**
 * Pinger: `veilnet-conflux ping` from inside the node. An ICMP echo request from our overlay
 * address goes through the same egress as the host's packets (discovery, handshake, tether or
 * relay), the target's kernel answers, and the reply is taken off the data path before the TUN.
 * Each result says which path the request took (direct, or relayed via which conflux and how many
 * hops) or why there is none.
 *
 * @module
 */
import type { NodeContext } from "./context.ts";
import type { Egress, PathState } from "./egress.ts";
import { parseIpv4 } from "./packet.ts";

/** How long one ping waits for its reply (a cold path may need discovery and a tether first). */
export const PING_TIMEOUT_MS = 5000;
/** Most pings waiting at once. */
const MAX_PENDING = 64;
const ICMP = 1;
const ECHO_REPLY = 0;
const ECHO_REQUEST = 8;

/** The path a ping took. */
export interface PingPath {
  /** "direct", or "relayed" through `via`. */
  kind: "direct" | "relayed";
  /** Conflux id of the tether peer it went to. */
  next_hop: string;
  /** Hops to the target (1 when direct). */
  hops: number;
}

/** The outcome of one ping, as the local API returns it. */
export type PingResult =
  | { ok: true; target: string; conflux_id: string; seq: number; rtt_ms: number; path: PingPath }
  | { ok: false; target: string; seq: number; reason: string; detail: string };

interface Pending {
  target: number;
  sentAt: number;
  resolve: (rtt: number) => void;
}

/** Pings through the overlay. */
export class Pinger {
  readonly #ctx: NodeContext;
  readonly #egress: Egress;
  readonly #id: number;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;

  constructor(ctx: NodeContext, egress: Egress) {
    this.#ctx = ctx;
    this.#egress = egress;
    const r = ctx.random(2);
    this.#id = (r[0] << 8) | r[1];
  }

  /** Sends one echo request to `target` (dotted) and resolves with the result. */
  async ping(target: string, timeoutMs = PING_TIMEOUT_MS): Promise<PingResult> {
    const ctx = this.#ctx;
    const ip = parseIpv4(target);
    const seq = this.#seq = (this.#seq + 1) & 0xffff;
    const fail = (reason: string, detail: string): PingResult => ({
      ok: false,
      target,
      seq,
      reason,
      detail,
    });
    if (ip < 0) return fail("bad-target", `"${target}" is not an IPv4 address`);
    if (ip === ctx.ip) return fail("bad-target", "that is this conflux's own address");
    if (!ctx.realm.isHost(ip)) {
      return fail("bad-target", `${target} is not a conflux address of this realm`);
    }
    if (this.#pending.size >= MAX_PENDING) return fail("busy", "too many pings waiting");
    const sentAt = performance.now();
    const replied = new Promise<number>((resolve) => {
      this.#pending.set(seq, { target: ip, sentAt, resolve });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<null>((r) => timer = setTimeout(() => r(null), timeoutMs));
    this.#egress.packet(echoRequest(ctx.ip, ip, this.#id, seq), ctx.now());
    const rtt = await Promise.race([replied, timedOut]);
    clearTimeout(timer);
    this.#pending.delete(seq);
    const state = this.#egress.pathTo(ip);
    if (rtt === null) return fail(...whyNot(state, target));
    return {
      ok: true,
      target,
      conflux_id: state.peer ?? "",
      seq,
      rtt_ms: Math.round(rtt * 1000) / 1000,
      path: {
        kind: state.hop !== undefined && state.hop !== state.peer ? "relayed" : "direct",
        next_hop: state.hop ?? "",
        hops: state.hops,
      },
    };
  }

  /**
   * Ingress offers every delivered packet: an echo reply to one of our pings is taken (true) and
   * never reaches the TUN.
   */
  intercept(packet: Uint8Array): boolean {
    if (this.#pending.size === 0 || packet.length < 28 || packet[9] !== ICMP) return false;
    const ihl = (packet[0] & 0x0f) * 4;
    if (packet.length < ihl + 8 || packet[ihl] !== ECHO_REPLY) return false;
    const id = (packet[ihl + 4] << 8) | packet[ihl + 5];
    if (id !== this.#id) return false;
    const p = this.#pending.get((packet[ihl + 6] << 8) | packet[ihl + 7]);
    const src = ((packet[12] << 24) | (packet[13] << 16) | (packet[14] << 8) | packet[15]) >>> 0;
    if (!p || p.target !== src) return false;
    p.resolve(performance.now() - p.sentAt);
    return true;
  }
}

/** Why a ping got no reply, from what egress knows of the target. */
function whyNot(state: PathState, target: string): [string, string] {
  switch (state.problem) {
    case "unanswered":
      return [
        "no-answer",
        `no conflux answered for ${target}: it is offline, or it shares no team with this ` +
        "conflux (only teammates answer)",
      ];
    case "no-path":
      return [
        "no-route",
        `${target} answered, but neither a direct tether nor a relay reaches it`,
      ];
    case "refused":
      return ["refused", `${target} refused the stream (no team in common any more)`];
    default:
      return state.state === "ready"
        ? [
          "no-reply",
          `the stream to ${target} is up (via ${state.hop ?? "?"}) but its host sent no echo ` +
          "reply (a firewall on it?)",
        ]
        : ["timeout", `no path to ${target} yet (${state.state})`];
  }
}

/** An ICMP echo request from `src` to `dst` as a TUN payload (zero virtio header). */
function echoRequest(src: number, dst: number, id: number, seq: number): Uint8Array {
  const out = new Uint8Array(10 + 20 + 8 + 32);
  const p = out.subarray(10);
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = ICMP;
  v.setUint32(12, src);
  v.setUint32(16, dst);
  v.setUint16(10, checksum(p.subarray(0, 20)));
  p[20] = ECHO_REQUEST;
  v.setUint16(24, id);
  v.setUint16(26, seq);
  p.subarray(28).fill(0x56);
  v.setUint16(22, checksum(p.subarray(20)));
  return out;
}

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.length & 1) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
