/**
 * Egress: the data path out. TUN read batch → payload per packet (ffi/tun_payload.ts) →
 * egresser of its destination (a realm address, or the portal serving a network) → sealed
 * straight into a frame by the stream's sender → next hop's tether (batched on the microtask).
 * Destinations without a ready stream hold their first packets while discovery, the handshake
 * and the path come up, with backoff after a failure.
 *
 * @module
 */
import { PacketBatch } from "../../ffi/packet_batch.ts";
import { PAYLOAD_HEADER_LENGTH, PayloadReader } from "../../ffi/tun_payload.ts";
import {
  DEFAULT_HOP_LIMIT,
  FLAG_KEY_PHASE,
  FRAME_HEADER_LENGTH,
  frameAad,
  FrameType,
  MAX_FRAME_BYTES,
  writeFrameHeader,
} from "../wire/frame.ts";
import type { NodeContext } from "./context.ts";
import { Egresser, type EgresserState, type EgressProblem } from "./egresser.ts";
import { flowKey, formatIpv4, ipv4Destination } from "./packet.ts";
import type { PathFinder } from "./path_finder.ts";
import type { Streams } from "./streams.ts";

/** Largest payload (virtio header + packet) that fits one frame. */
export const MAX_INNER = MAX_FRAME_BYTES - FRAME_HEADER_LENGTH - 16;
/** Most destinations with an egresser at once (a scan of the realm cannot grow it further). */
export const MAX_EGRESSERS = 4096;

/** What egress knows of the way to one destination. */
export interface PathState {
  /** The egresser's state, or "none" when there is no egresser. */
  state: EgresserState | "none";
  /** The destination conflux, once discovered. */
  peer?: string;
  /** The tether peer its next packet goes to (the peer itself when direct). */
  hop?: string;
  /** Hops to the destination on that path. */
  hops: number;
  /** Why the last attempt failed. */
  problem?: EgressProblem;
}

/** Where packets for addresses outside the realm go (portal mode). */
export interface PortalLookup {
  /** The overlay address of the portal serving `ip`, or undefined. */
  lookup(ip: number): number | undefined;
}

/** The outbound data path of one node. */
export class Egress {
  readonly #ctx: NodeContext;
  readonly #paths: PathFinder;
  readonly #streams: Streams;
  readonly #portals: PortalLookup | null;
  readonly #egress = new Map<number, Egresser>();
  readonly #reader = new PayloadReader(
    MAX_INNER,
    () => new PacketBatch({ capacity: 64, slotSize: 2048 }),
  );
  readonly #aad = new Uint8Array(FRAME_HEADER_LENGTH);
  #out: { out: Uint8Array; offset: number } = { out: new Uint8Array(0), offset: 0 };

  constructor(
    ctx: NodeContext,
    paths: PathFinder,
    streams: Streams,
    portals: PortalLookup | null,
  ) {
    this.#ctx = ctx;
    this.#paths = paths;
    this.#streams = streams;
    this.#portals = portals;
  }

  /** Every egresser (status output). */
  egressers(): IterableIterator<Egresser> {
    return this.#egress.values();
  }

  /** Reads the TUN until the node stops. */
  async run(): Promise<void> {
    const ctx = this.#ctx;
    const tun = ctx.tun;
    const batch = tun.newBatch(64);
    const send = (payload: Uint8Array) => this.packet(payload, ctx.now());
    while (!ctx.stopped) {
      let n: number;
      try {
        n = await tun.readBatch(batch, { timeoutMs: 500 });
      } catch (e) {
        if (ctx.stopped || tun.closed) return;
        ctx.log.warn("TUN read failed", { error: String(e) });
        await ctx.sleep(100);
        continue;
      }
      if (n > 0) this.#reader.forEach(batch, n, tun.vnetHeader, send);
    }
  }

  /**
   * One payload (virtio header ‖ IP packet) from the TUN, in a scratch buffer (copied if it must
   * wait).
   */
  packet(payload: Uint8Array, now: number): void {
    const ctx = this.#ctx;
    let dst = ipv4Destination(payload.subarray(PAYLOAD_HEADER_LENGTH));
    if (dst < 0) return;
    // Outside the realm: a portal's network, carried by the stream to that portal.
    if (!ctx.realm.contains(dst)) dst = this.#portals?.lookup(dst) ?? -1;
    if (dst < 0 || dst === ctx.ip) return;
    let e = this.#egress.get(dst);
    if (!e) {
      // Network and broadcast addresses of the realm belong to nobody.
      if (!ctx.realm.isHost(dst) || this.#egress.size >= MAX_EGRESSERS) return;
      e = new Egresser(dst, now);
      this.#egress.set(dst, e);
    }
    e.lastPacketAt = now;
    if (e.state === "ready" && e.sender && e.peer) {
      if (this.#seal(e, payload, now)) return;
      // No open tether: hold the packet and bring one up.
      this.#hold(e, payload);
      this.#retether(e);
      return;
    }
    if (e.state === "backoff") {
      if (now < e.retryAt) {
        e.dropped++;
        ctx.counters.drops.backoff++;
        return;
      }
      e.state = "idle";
    }
    this.#hold(e, payload);
    if (e.state === "idle") this.#connect(e);
  }

  /** What egress knows of the way to `ip` (ping, status). */
  pathTo(ip: number): PathState {
    const e = this.#egress.get(ip);
    if (!e) return { state: "none", hops: 0 };
    const peer = e.peer?.id;
    const ctx = this.#ctx;
    let hop = peer === undefined ? undefined : e.nextHop ?? peer;
    let hops = hop === peer ? 1 : 2;
    const best = ctx.router.agent.candidates(e.ipText)
      .map((c) => ({ id: ctx.peers.neighbourId(c.nextHop), hops: c.hops }))
      .find((c) => c.id !== undefined && ctx.tethers.tether(c.id));
    if (best) [hop, hops] = [best.id, best.hops];
    if (hop !== undefined && hop === peer) hops = 1;
    return { state: e.state, peer, hop, hops, problem: e.problem };
  }

  /** Teams changed: streams to peers we no longer share a team with end. */
  recheckAffinity(): void {
    const ctx = this.#ctx;
    for (const [ip, e] of this.#egress) {
      if (!e.peer || ctx.affine(e.peer)) continue;
      const streamId = e.sender?.streamId;
      this.#egress.delete(ip);
      ctx.log.info("stream closed: team affinity lost", { peer: e.peer.id, stream: streamId });
      if (streamId !== undefined) this.#streams.sendClose(e.peer.id, streamId, "affinity");
    }
  }

  /** The peer closed stream `streamId` we opened: the next packet reconnects. True if ours. */
  streamClosed(peerId: string, streamId: number, reason: string): boolean {
    let ours = false;
    for (const e of this.#egress.values()) {
      if (e.peer?.id !== peerId || e.sender?.streamId !== streamId) continue;
      this.#ctx.log.debug("stream closed by peer", { peer: peerId, reason });
      e.reset();
      if (reason === "affinity") e.problem = "refused";
      ours = true;
    }
    return ours;
  }

  /** The tether to `peerId` closed: streams relayed through it find another path. */
  tetherClosed(peerId: string): void {
    // The routing agent moves flows to other routes at once; a stream whose own path went with
    // this tether finds a new one with its next packet (#retether) when no route is left.
    for (const e of this.#egress.values()) if (e.nextHop === peerId) e.nextHop = undefined;
  }

  /**
   * Ends egressers idle for the idle timeout; adds the tether peers still in use (the stream's
   * peer, its relay, and every route the agent knows, which stay warm for failover) to `used`.
   */
  sweep(now: number, used: Set<string>): void {
    const ctx = this.#ctx;
    for (const [ip, e] of this.#egress) {
      const last = e.sender ? Math.max(e.sender.lastUsedAt, e.lastPacketAt) : e.lastPacketAt;
      if (now - last >= ctx.idleTimeoutMs && e.state !== "connecting") {
        this.#egress.delete(ip);
        ctx.log.debug("egress stream dissolved (idle)", { dst: formatIpv4(ip) });
        continue;
      }
      if (!e.peer) continue;
      used.add(e.peer.id);
      if (e.nextHop) used.add(e.nextHop);
      for (const c of ctx.router.agent.candidates(e.ipText)) {
        const id = ctx.peers.neighbourId(c.nextHop);
        if (id !== undefined) used.add(id);
      }
    }
  }

  /** Forgets every egresser (stop). */
  clear(): void {
    this.#egress.clear();
  }

  #hold(e: Egresser, payload: Uint8Array): void {
    if (!e.hold(payload)) this.#ctx.counters.drops.queue_full++;
  }

  /** Seals `payload` for `e`'s stream and sends it; false when no tether leads there. */
  #seal(e: Egresser, payload: Uint8Array, now: number): boolean {
    const ctx = this.#ctx;
    const flow = flowKey(payload.subarray(PAYLOAD_HEADER_LENGTH));
    const hop = this.#hopFor(e, flow, now);
    if (hop === undefined) return false;
    ctx.counters.packetsOut++;
    const p = ctx.peers.get(hop);
    if (p) p.dataAt = now;
    // The frame is sealed straight into its place in the tether's next message.
    const frame = ctx.slot(hop, FRAME_HEADER_LENGTH + payload.length + 16, flow);
    if (!frame) {
      e.dropped++;
      ctx.counters.drops.tether_full++;
      return true;
    }
    const sender = e.sender!;
    const counter = sender.next(now);
    writeFrameHeader({
      type: FrameType.Data,
      hopLimit: DEFAULT_HOP_LIMIT,
      flags: sender.epoch & 1 ? FLAG_KEY_PHASE : 0,
      destination: e.peer!.ip,
      streamId: sender.streamId,
      counter,
    }, this.#target(frame, 0));
    sender.sealInto(
      counter,
      frameAad(frame, this.#aad),
      payload,
      this.#target(frame, FRAME_HEADER_LENGTH),
    );
    return true;
  }

  /** The reused write target of the frame codec and the AEAD. */
  #target(out: Uint8Array, offset: number): { out: Uint8Array; offset: number } {
    const t = this.#out;
    t.out = out;
    t.offset = offset;
    return t;
  }

  /**
   * The tether peer a payload of `e` with 5-tuple hash `flow` goes to: the routing agent's choice
   * for its flow, else the path the egresser connected through (a direct tether or the relay
   * found for it); undefined when neither is open.
   */
  #hopFor(e: Egresser, flow: number, now: number): string | undefined {
    const ctx = this.#ctx;
    const via = ctx.router.nextHop(e.ipText, flow, now);
    if (via !== null) {
      const id = ctx.peers.neighbourId(via);
      if (id !== undefined && ctx.tethers.tether(id)) return id;
    }
    const fallback = e.nextHop ?? e.peer!.id;
    return ctx.tethers.tether(fallback) ? fallback : undefined;
  }

  #flush(e: Egresser): void {
    const queued = e.queue;
    e.queue = [];
    const now = this.#ctx.now();
    for (const p of queued) {
      if (this.#seal(e, p, now)) continue;
      e.dropped++;
      this.#ctx.counters.drops.no_tether++;
    }
  }

  #retether(e: Egresser): void {
    if (e.state !== "ready" || !e.peer || e.retethering) return;
    e.retethering = true;
    const peer = e.peer;
    this.#paths.path(peer).then(
      (hop) => {
        e.nextHop = hop === peer.id ? undefined : hop;
        this.#flush(e);
      },
      (err) => {
        this.#ctx.log.debug("tether failed", { peer: e.peer?.id, error: String(err) });
        e.fail(this.#ctx.now());
      },
    ).finally(() => e.retethering = false);
  }

  async #connect(e: Egresser): Promise<void> {
    const ctx = this.#ctx;
    e.state = "connecting";
    const ipText = e.ipText;
    // Who answered: discovery (only the owner, only to a teammate) or the stream handshake. A
    // conflux known from another message skips discovery; its silence then means the same.
    let answered = false;
    try {
      const peer = await this.#paths.discover(e.ip, ipText);
      answered = peer.publicKey.length > 0;
      if (this.#egress.get(e.ip) !== e || ctx.stopped) return;
      const [sender, hop] = await Promise.all([
        this.#streams.open(peer, ipText).then((s) => {
          answered = true;
          return s;
        }),
        this.#paths.path(peer),
      ]);
      if (this.#egress.get(e.ip) !== e || ctx.stopped) return;
      e.peer = peer;
      e.sender = sender;
      e.nextHop = hop === peer.id ? undefined : hop;
      if (e.nextHop) ctx.log.info("relaying via", { dst: ipText, relay: hop });
      e.state = "ready";
      e.failures = 0;
      e.problem = undefined;
      ctx.log.debug("stream up", { peer: peer.id, dst: ipText, stream: sender.streamId });
      this.#flush(e);
    } catch (err) {
      // Forget a possibly stale address → conflux mapping: the next attempt discovers afresh.
      ctx.peers.forgetAddress(e.ip);
      if (this.#egress.get(e.ip) !== e) return;
      ctx.log.debug("no path to destination", { dst: ipText, error: String(err) });
      e.problem = answered ? "no-path" : "unanswered";
      e.fail(ctx.now());
    }
  }
}
