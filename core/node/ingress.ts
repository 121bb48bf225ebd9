/**
 * Ingress: the data path in. Tether message → frames → link frames to the router, frames for
 * others to the Forwarder, ours to the ingress stream by id → open in place, replay check →
 * inbound filter (a peer speaks only for its own address or the networks its certificate says it
 * serves, and reaches only us or the networks we serve) → one TUN write batch per message.
 *
 * @module
 */
import { OFFLOAD_SLOT_SIZE, PacketBatch } from "../../ffi/packet_batch.ts";
import { PAYLOAD_HEADER_LENGTH, PayloadWriter } from "../../ffi/tun_payload.ts";
import {
  decodeFrame,
  type Frame,
  FRAME_HEADER_LENGTH,
  frameAad,
  FrameType,
  splitMessage,
} from "../wire/frame.ts";
import type { NodeContext } from "./context.ts";
import { MAX_INNER } from "./egress.ts";
import type { Forwarder } from "./forwarder.ts";
import { cidrContains, ipv4Destination, ipv4Source } from "./packet.ts";
import type { PeerRef } from "./peer_ref.ts";
import type { RelayFinder } from "./relay_finder.ts";
import type { Streams } from "./streams.ts";

/** Takes packets meant for the node itself off the data path (ping replies). */
export interface PacketTap {
  /** True when the packet was taken (it does not reach the TUN). */
  intercept(packet: Uint8Array): boolean;
}

/** Whether `dst` is a network this node serves as a portal. */
export interface PortalServing {
  serves(ip: number): boolean;
}

/** The inbound data path of one node. */
export class Ingress {
  readonly #ctx: NodeContext;
  readonly #streams: Streams;
  readonly #forwarder: Forwarder;
  readonly #relays: RelayFinder;
  readonly #portals: PortalServing | null;
  readonly #batch: PacketBatch;
  readonly #writer: PayloadWriter;
  readonly #aad = new Uint8Array(FRAME_HEADER_LENGTH);
  /** Where payloads are opened (one buffer reused; the writer copies out of it). */
  readonly #open = { out: new Uint8Array(MAX_INNER), offset: 0, now: 0 };
  readonly #flush = () => this.#writeTun();
  /** Set by the node: its pinger sees delivered packets first. */
  tap?: PacketTap;
  /** Set by the node: Lane frames (datagram-lane setup) go here. */
  lanes?: { onFrame(peerId: string, frame: Frame): void };

  constructor(
    ctx: NodeContext,
    streams: Streams,
    forwarder: Forwarder,
    relays: RelayFinder,
    portals: PortalServing | null,
  ) {
    this.#ctx = ctx;
    this.#streams = streams;
    this.#forwarder = forwarder;
    this.#relays = relays;
    this.#portals = portals;
    const vnet = ctx.tun.vnetHeader;
    this.#batch = vnet
      ? new PacketBatch({ capacity: 64, slotSize: OFFLOAD_SLOT_SIZE })
      : new PacketBatch({ capacity: 256, slotSize: 2048 });
    this.#writer = new PayloadWriter(vnet);
  }

  /** One message from the tether to `peerId` (unvalidated bytes). */
  message(peerId: string, message: Uint8Array): void {
    const ctx = this.#ctx;
    let frames: Uint8Array[];
    try {
      frames = splitMessage(message);
    } catch {
      ctx.counters.framesDropped++;
      ctx.counters.drops.bad_frame++;
      return;
    }
    const now = ctx.now();
    const from = ctx.peers.get(peerId);
    const fromName = from?.neighbour ? from.ipText : undefined;
    if (fromName !== undefined) ctx.router.heard(fromName, now);
    let data = false;
    // The last source whose authenticated frame came through this relaying peer (noted once).
    let relayedFrom: string | undefined;
    this.#batch.clear();
    for (const bytes of frames) {
      ctx.counters.framesIn++;
      let frame;
      try {
        frame = decodeFrame(bytes);
      } catch {
        ctx.counters.framesDropped++;
        ctx.counters.drops.bad_frame++;
        continue;
      }
      if (frame.type === FrameType.Lane) {
        this.lanes?.onFrame(peerId, frame);
        continue;
      }
      if (frame.type !== FrameType.Data) {
        this.#linkFrame(fromName, frame, now);
        continue;
      }
      data = true;
      if (frame.destination !== ctx.ip) {
        this.#forwarder.forward(peerId, bytes, frame, now);
        continue;
      }
      const source = this.#data(peerId, bytes, frame, now);
      if (source !== undefined && source !== peerId && source !== relayedFrom) {
        relayedFrom = source;
        this.#heardThrough(source, peerId, now);
      }
    }
    if (data && from) from.dataAt = now;
    this.#writeTun();
  }

  /** Opens a data frame for us; returns its stream's peer when it was delivered. */
  #data(peerId: string, bytes: Uint8Array, frame: Frame, now: number): string | undefined {
    const ctx = this.#ctx;
    const ing = this.#streams.ingress(frame.streamId);
    if (!ing) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.unknown_stream++;
      this.#streams.unknownStream(peerId, frame.streamId, now);
      return undefined;
    }
    const target = this.#open;
    target.now = now;
    const n = ing.receiver.openInto(
      frame.counter,
      frameAad(bytes, this.#aad),
      frame.payload,
      target,
    );
    if (n < 0) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.auth++;
      return undefined;
    }
    if (!this.#deliver(target.out.subarray(0, n), ing.peer)) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.source++;
      return undefined;
    }
    return ing.peer.id;
  }

  /** An authenticated frame of `source` arrived through tether peer `via`: the reverse path. */
  #heardThrough(source: string, via: string, now: number): void {
    const p = this.#ctx.peers.get(source);
    if (!p || p.heardVia === via) return;
    p.heardVia = via;
    this.#relays.remember(source, via, now);
  }

  /** A probe, probe reply or route message from a tether neighbour. */
  #linkFrame(from: string | undefined, frame: Frame, now: number): void {
    const ctx = this.#ctx;
    if (from === undefined) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.bad_frame++;
      return;
    }
    try {
      ctx.router.onLinkFrame(from, frame, now);
    } catch (e) {
      ctx.counters.framesDropped++;
      ctx.counters.drops.bad_frame++;
      ctx.log.debug("routing frame dropped", { from, error: String(e) });
    }
  }

  /** Filters an opened payload of `peer` and queues it for the TUN; false when refused. */
  #deliver(payload: Uint8Array, peer: PeerRef): boolean {
    if (payload.length < PAYLOAD_HEADER_LENGTH + 20) return false;
    const packet = payload.subarray(PAYLOAD_HEADER_LENGTH);
    // A peer speaks for its own address, or, if it is a portal, for the networks it serves; and
    // it reaches only us, or the networks we serve as a portal.
    const src = ipv4Source(packet);
    if (src !== peer.ip && !peer.subnets.some((c) => cidrContains(c, src))) return false;
    const dst = ipv4Destination(packet);
    if (dst !== this.#ctx.ip && !this.#portals?.serves(dst)) return false;
    if (this.tap?.intercept(packet)) return true;
    return this.#writer.push(payload, this.#batch, this.#flush);
  }

  #writeTun(): void {
    const batch = this.#batch;
    if (batch.count === 0) return;
    const ctx = this.#ctx;
    try {
      const written = ctx.tun.writeBatch(batch);
      ctx.counters.packetsIn += written;
      ctx.counters.drops.tun_write += batch.count - written;
    } catch (e) {
      ctx.counters.drops.tun_write += batch.count;
      if (!ctx.stopped) ctx.log.warn("TUN write failed", { error: String(e) });
    }
    batch.clear();
  }
}
