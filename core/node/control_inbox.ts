/**
 * ControlInbox: the node's two subscriptions — its own control subject (stream requests and
 * closes, tether signals, neighbour requests, relay queries sent to it and relay offers) and the
 * realm's discover subject (DISCOVER, answered only by the owner and only to a teammate, and
 * RELAY_QUERY). Cheap checks come before signature checks, and every signature check takes from
 * the verify budget, so a flood costs bounded CPU. Also the sending side of tether signalling.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { TokenBuckets } from "../limit/token_buckets.ts";
import { decodeSignal, encodeSignal, type Signal } from "../tether/signaler.ts";
import type { RtcEngineChoice } from "../tether/tether.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import {
  DiscoverReplySchema,
  DiscoverSchema,
  MessageType,
  NeighboursReplySchema,
  NeighboursRequestSchema,
  Signal_Kind,
  SignalSchema,
} from "../wire/gen/veilnet_pb.ts";
import { isConfluxId, type NodeContext } from "./context.ts";
import { peekEnvelope } from "./messenger.ts";
import { parseIpv4 } from "./packet.ts";
import { RELAY_FANOUT } from "./path_finder.ts";
import type { ControlMessage } from "./ports.ts";
import type { Names } from "./names.ts";
import type { RelayFinder } from "./relay_finder.ts";
import type { Streams } from "./streams.ts";

/** Most neighbours listed in a NEIGHBOURS_REPLY. */
export const MAX_NEIGHBOURS = 32;
/**
 * Tether offers from confluxes without a shared team (a relay's far side, a suggested relay)
 * answered per second, all such senders together, and per sender (per 10 s, burst 2).
 */
export const STRANGER_OFFERS_PER_SECOND = 4;
export const STRANGER_OFFERS_PER_SENDER_PER_10S = 2;
/** NEIGHBOURS_REQUESTs (each may start relay tethers) served per second per sender (burst 2). */
export const NEIGHBOURS_PER_SENDER = 1;

/** Handles what arrives on the control channel. */
export class ControlInbox {
  readonly #ctx: NodeContext;
  readonly #streams: Streams;
  readonly #relays: RelayFinder;
  readonly #engine: RtcEngineChoice;
  readonly #names?: Names;
  readonly #strangerOffers = new TokenBuckets({
    ratePerSecond: STRANGER_OFFERS_PER_SECOND,
    burst: STRANGER_OFFERS_PER_SECOND,
    maxKeys: 1,
  });
  readonly #strangerOffersBySender = new TokenBuckets({
    ratePerSecond: STRANGER_OFFERS_PER_SENDER_PER_10S / 10,
    burst: STRANGER_OFFERS_PER_SENDER_PER_10S,
  });
  #loggedAt = -Infinity;
  readonly #neighbours = new TokenBuckets({
    ratePerSecond: NEIGHBOURS_PER_SENDER,
    burst: 2,
  });

  constructor(
    ctx: NodeContext,
    streams: Streams,
    relays: RelayFinder,
    engine: RtcEngineChoice,
    names?: Names,
  ) {
    this.#ctx = ctx;
    this.#streams = streams;
    this.#relays = relays;
    this.#engine = engine;
    this.#names = names;
  }

  /** Subscribes to both subjects; resolves when both subscriptions end. */
  run(): Promise<void>[] {
    const { control, subjects, id } = this.#ctx;
    return [
      this.#serve(control.subscribe(subjects.control(id)), (m) => this.#onControl(m)),
      this.#serve(control.subscribe(subjects.discover), (m) => this.#onDiscover(m)),
    ];
  }

  /** Sends one tether signal to `peerId` as a SIGNAL envelope. */
  sendSignal(peerId: string, signal: Signal): Promise<void> {
    const ctx = this.#ctx;
    const kind = signal.kind === "offer"
      ? Signal_Kind.OFFER
      : signal.kind === "answer"
      ? Signal_Kind.ANSWER
      : Signal_Kind.CANDIDATE;
    const body = toBinary(
      SignalSchema,
      create(SignalSchema, {
        tetherId: signal.session,
        kind,
        payload: new TextDecoder().decode(encodeSignal(signal)),
        engine: this.#engine,
      }),
    );
    ctx.control.publish(ctx.subjects.control(peerId), ctx.seal(MessageType.SIGNAL, body));
    return Promise.resolve();
  }

  async #serve(
    messages: AsyncIterable<ControlMessage>,
    handle: (m: ControlMessage) => void,
  ): Promise<void> {
    const ctx = this.#ctx;
    try {
      for await (const m of messages) {
        if (ctx.stopped) return;
        try {
          handle(m);
        } catch (e) {
          ctx.counters.controlDropped++;
          // At most one line a second: a flood must not become a flood of log lines.
          const now = ctx.now();
          if (now - this.#loggedAt >= 1_000) {
            this.#loggedAt = now;
            ctx.log.debug("control message dropped", {
              error: String(e),
              dropped: ctx.counters.controlDropped,
            });
          }
        }
      }
    } catch (e) {
      if (!ctx.stopped) ctx.log.warn("control subscription ended", { error: String(e) });
    }
  }

  #onDiscover(m: ControlMessage): void {
    const ctx = this.#ctx;
    // Cheap look before any signature check: every node of the realm sees every query.
    const peek = peekEnvelope(m.data);
    if (peek?.type === MessageType.RELAY_QUERY) return this.#relays.onRealmQuery(m.data, peek.body);
    if (peek?.type === MessageType.NAME_QUERY) return this.#names?.onQuery(m.data, peek.body);
    if (!peek || peek.type !== MessageType.DISCOVER || !m.reply) return;
    let query;
    try {
      query = fromBinary(DiscoverSchema, peek.body);
    } catch {
      return;
    }
    if (query.overlayIp !== ctx.ipText || !ctx.mayVerify(m.data)) return;
    const opened = ctx.open(m.data);
    if (!ctx.messenger.affine(opened.sender.mldsaPublicKey, opened.affinityTags)) {
      ctx.log.debug("discover without team affinity dropped", { from: opened.sender.confluxId });
      return;
    }
    const body = toBinary(
      DiscoverReplySchema,
      create(DiscoverReplySchema, { overlayIp: ctx.ipText, confluxId: ctx.id }),
    );
    ctx.control.publish(m.reply, ctx.seal(MessageType.DISCOVER_REPLY, body));
  }

  #onControl(m: ControlMessage): void {
    const ctx = this.#ctx;
    if (!ctx.mayVerify(m.data)) return;
    const opened = ctx.open(m.data);
    const ip = parseIpv4(opened.sender.overlayIp);
    if (ip >= 0) ctx.peers.learn(opened.sender.confluxId, ip);
    switch (opened.type) {
      case MessageType.NEIGHBOURS_REQUEST:
        return this.#onNeighbours(opened, m.reply);
      case MessageType.STREAM_REQUEST:
        return this.#streams.onRequest(opened, m.reply);
      case MessageType.STREAM_CLOSE:
        return this.#streams.onClose(opened, m.data);
      case MessageType.SIGNAL:
        return this.#onSignal(opened);
      case MessageType.RELAY_QUERY:
        return this.#relays.serve(opened);
      case MessageType.RELAY_OFFER:
        return this.#relays.onOffer(opened);
      case MessageType.NAME_REPLY:
        if (this.#names) return this.#names.onReply(opened);
        ctx.counters.controlDropped++;
        return;
      default:
        ctx.counters.controlDropped++;
    }
  }

  #onNeighbours(opened: OpenedEnvelope, reply: string | undefined): void {
    const ctx = this.#ctx;
    if (!reply) return;
    const from = opened.sender;
    if (!ctx.messenger.affine(from.mldsaPublicKey, opened.affinityTags)) {
      ctx.log.debug("neighbours request without team affinity dropped", { from: from.confluxId });
      return;
    }
    const query = fromBinary(NeighboursRequestSchema, opened.body);
    if (query.destinationId !== ctx.id) return;
    if (!this.#neighbours.take(from.confluxId, ctx.now())) {
      ctx.counters.controlDropped++;
      return;
    }
    const ids = ctx.tethers.tethers().map((t) => t.peerId)
      .filter((id) => id !== from.confluxId).slice(0, MAX_NEIGHBOURS);
    // No relay in common yet: tether to a few of the requester's peers (they decide whether to
    // relay for us; the requester tries them right away).
    const fresh = query.candidateIds.slice(0, 8)
      .filter((id) =>
        isConfluxId(id) && id !== ctx.id && id !== from.confluxId && !ids.includes(id)
      )
      .slice(0, Math.max(0, RELAY_FANOUT - ids.length));
    for (const id of fresh) {
      ctx.tethers.ensure(id).catch((e) =>
        ctx.log.debug("relay tether failed", { relay: id, error: String(e) })
      );
    }
    ids.push(...fresh);
    const body = toBinary(
      NeighboursReplySchema,
      create(NeighboursReplySchema, { confluxIds: ids }),
    );
    ctx.control.publish(reply, ctx.seal(MessageType.NEIGHBOURS_REPLY, body));
  }

  #onSignal(opened: OpenedEnvelope): void {
    const ctx = this.#ctx;
    const from = opened.sender;
    // Strangers' signals are taken whether or not we relay: a conflux that relays for nobody is
    // still reached through relays that share no team with it (they tether to it). Their
    // offers are budgeted below and answered without host candidates; the forwarder, not
    // this, keeps a non-relaying conflux from carrying others' frames.
    const teammate = ctx.messenger.affine(from.mldsaPublicKey, opened.affinityTags);
    const msg = fromBinary(SignalSchema, opened.body);
    if (msg.kind === Signal_Kind.CLOSE) {
      ctx.tethers.close(from.confluxId, "closed by peer");
      return;
    }
    const signal = decodeSignal(new TextEncoder().encode(msg.payload));
    if (signal.kind === "offer" && !teammate) {
      // A relay answers a stranger (its far side, or a relay suggested by a neighbours answer)
      // within a small budget, and shows it no host candidates (see tether_pool.ts).
      const now = ctx.now();
      if (
        !this.#strangerOffersBySender.take(from.confluxId, now) ||
        !this.#strangerOffers.take("", now)
      ) {
        ctx.counters.controlDropped++;
        ctx.log.debug("tether offer of a stranger over budget", { from: from.confluxId });
        return;
      }
      signal.stranger = true;
    }
    ctx.tethers.onSignal(from.confluxId, signal);
  }
}
