/**
 * Forwarder: relaying frames for other confluxes. Only when relaying is on, the hop limit allows,
 * the source tether is within its rate, and a next hop other than the one the frame came from
 * leads to the destination: the routing agent's choice for the stream (a relay cannot read the
 * 5-tuple), else a direct tether, else the relay this node found for the destination (a chain).
 * The relay never holds the stream's keys: it moves ciphertext.
 *
 * @module
 */
import { RelayLimiter } from "../route/relay_limiter.ts";
import type { Frame } from "../wire/frame.ts";
import type { NodeContext } from "./context.ts";
import { formatIpv4 } from "./packet.ts";
import type { RelayFinder } from "./relay_finder.ts";

/** Frames per second one source may relay through this node (and its burst). */
export const RELAY_RATE_PER_SECOND = 50_000;

/** Test fault injection on relayed frames (see NodeOptions.relayFault). */
export type RelayFault = (frame: Uint8Array) => void;

/** Relays frames not addressed to us. */
export class Forwarder {
  readonly #ctx: NodeContext;
  readonly #relays: RelayFinder;
  readonly #fault?: RelayFault;
  readonly #names = new Map<number, string>();
  /** Previous hop of each relayed stream, by destination and stream id. */
  readonly #origins = new Map<number, string>();
  readonly #limiter = new RelayLimiter({
    ratePerSecond: RELAY_RATE_PER_SECOND,
    burst: RELAY_RATE_PER_SECOND / 10,
  });

  constructor(ctx: NodeContext, relays: RelayFinder, fault?: RelayFault) {
    this.#ctx = ctx;
    this.#relays = relays;
    this.#fault = fault;
  }

  /** A data frame (`bytes`, decoded as `frame`) for another conflux from tether peer `from`. */
  forward(from: string, bytes: Uint8Array, frame: Frame, now: number): void {
    const ctx = this.#ctx;
    // A relay cannot read the flow's 5-tuple; the stream id stands for the flow.
    const flow = Math.imul(frame.streamId ^ frame.destination, 0x9e3779b1) >>> 0;
    const next = ctx.relay && frame.hopLimit > 1 && this.#limiter.allow(from, now)
      ? this.#nextHop(from, frame, flow, now)
      : undefined;
    if (next === undefined) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.relay_refused++;
      return;
    }
    const out = ctx.slot(next, bytes.length, flow);
    if (!out) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.tether_full++;
      return;
    }
    out.set(bytes);
    out[1] = frame.hopLimit - 1;
    this.#fault?.(out);
    ctx.counters.framesRelayed++;
    this.#noteOrigin(frame.destination, frame.streamId, from);
    const p = ctx.peers.get(next);
    if (p) p.dataAt = now;
  }

  /**
   * The tether peer frames of stream `streamId` toward `destination` last came from: where a
   * destination's "unknown stream" close must go back to (the stream's sender, or the relay
   * before us).
   */
  originOf(destination: number, streamId: number): string | undefined {
    return this.#origins.get(originKey(destination, streamId));
  }

  #noteOrigin(destination: number, streamId: number, from: string): void {
    const key = originKey(destination, streamId);
    if (this.#origins.get(key) === from) return;
    if (this.#origins.size >= 8192) this.#origins.clear();
    this.#origins.set(key, from);
  }

  /** Dotted form of an overlay address, cached (asked per relayed frame). */
  #name(ip: number): string {
    let t = this.#names.get(ip);
    if (t === undefined) {
      if (this.#names.size >= 65_536) this.#names.clear();
      t = formatIpv4(ip);
      this.#names.set(ip, t);
    }
    return t;
  }

  #nextHop(from: string, frame: Frame, flow: number, now: number): string | undefined {
    const ctx = this.#ctx;
    const dst = ctx.peers.byIp(frame.destination);
    const source = ctx.peers.get(from);
    if (source?.neighbour) {
      // The agent may know a route to an address we never heard from (its reports).
      const name = dst?.ipText ?? this.#name(frame.destination);
      ctx.router.forwarded(source.ipText, name, now);
      const via = ctx.router.nextHop(name, flow, now, source.ipText);
      const id = via === null ? undefined : ctx.peers.neighbourId(via);
      if (id !== undefined && id !== from && ctx.tethers.tether(id)) return id;
    }
    if (!dst) return undefined;
    if (dst.id !== from && ctx.tethers.tether(dst.id)) return dst.id;
    // A chain: the relay we found for this destination when we could not tether it, used only
    // because a verified message of the destination tied its address to that conflux id.
    const via = this.#relays.chainHop(dst.id);
    return via !== undefined && via !== from && ctx.tethers.tether(via) ? via : undefined;
  }
}

/** One number for a destination address and a stream id (both 32-bit). */
function originKey(destination: number, streamId: number): number {
  return destination * 4_294_967_296 + streamId;
}
