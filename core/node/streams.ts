/**
 * Streams: both sides of the stream handshake (STREAM_REQUEST / STREAM_RESPONSE by
 * request/reply on the peer's control subject), the ingress streams this node accepted, and
 * STREAM_CLOSE. Team affinity is checked on every request and response; a message without it is
 * dropped with one debug line.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ACCEPT_RANDOM_LENGTH,
  acceptStreamRequest,
  completeStreamRequest,
  createStreamRequest,
  REQUEST_RANDOM_LENGTH,
} from "../stream/handshake.ts";
import { type RekeyOptions, StreamReceiver, StreamSender } from "../stream/session.ts";
import { allocateStreamId } from "../stream/stream_id.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import { MessageType, StreamCloseSchema } from "../wire/gen/veilnet_pb.ts";
import type { NodeContext } from "./context.ts";
import type { PeerRef } from "./peer_ref.ts";
import { peerOf, servedSubnetsOf } from "./peer_ref.ts";
import { parseIpv4 } from "./packet.ts";

/** How long a stream handshake may take before the egresser backs off. */
export const HANDSHAKE_TIMEOUT_MS = 3000;
/** Most ingress streams one peer may hold at this node (older ones are dropped). */
export const MAX_INGRESS_STREAMS_PER_PEER = 4;

/** One stream a peer opened to us. */
export interface Ingresser {
  receiver: StreamReceiver;
  peer: PeerRef;
}

/** Told when a peer closes a stream we opened to it; true when it was one of ours. */
export type EgressClosed = (peerId: string, streamId: number, reason: string) => boolean;

/** The stream handshakes and ingress streams of one node. */
export class Streams {
  readonly #ctx: NodeContext;
  readonly #ingress = new Map<number, Ingresser>();
  readonly #onEgressClosed: EgressClosed;
  readonly #rekey: RekeyOptions;

  /** `rekey` sets when senders move to the next epoch key (tests make it early). */
  constructor(ctx: NodeContext, onEgressClosed: EgressClosed, rekey: RekeyOptions = {}) {
    this.#ctx = ctx;
    this.#onEgressClosed = onEgressClosed;
    this.#rekey = rekey;
  }

  /** The ingress stream `streamId`. */
  ingress(streamId: number): Ingresser | undefined {
    return this.#ingress.get(streamId);
  }

  /** Every ingress stream by id (status output). */
  ingressStreams(): IterableIterator<[number, Ingresser]> {
    return this.#ingress.entries();
  }

  /**
   * Opens a stream to `peer` (whose address is `ipText`): a signed request, the responder's
   * signed answer, both checked for identity and affinity. Fills in `peer`'s certificate facts.
   */
  async open(peer: PeerRef, ipText: string): Promise<StreamSender> {
    const ctx = this.#ctx;
    const { body, pending } = createStreamRequest(peer.id, ctx.random(REQUEST_RANDOM_LENGTH));
    const reply = await ctx.control.request(
      ctx.subjects.control(peer.id),
      ctx.seal(MessageType.STREAM_REQUEST, body),
      HANDSHAKE_TIMEOUT_MS,
    );
    const opened = ctx.messenger.open(reply, ctx.now());
    if (opened.type !== MessageType.STREAM_RESPONSE) throw new Error("unexpected stream reply");
    if (opened.sender.confluxId !== peer.id || opened.sender.overlayIp !== ipText) {
      throw new Error("stream response from another conflux");
    }
    if (!ctx.messenger.affine(opened.sender.mldsaPublicKey, opened.affinityTags)) {
      ctx.log.debug("stream response without team affinity dropped", { peer: peer.id });
      throw new Error("stream response without team affinity");
    }
    const secrets = completeStreamRequest(pending, opened.body, {
      initiatorCertificateHash: ctx.messenger.ownCertificateHash,
      responderCertificateHash: opened.senderCertificateHash,
    });
    peer.publicKey = opened.sender.mldsaPublicKey;
    peer.tags = opened.affinityTags;
    peer.certificateHash = opened.senderCertificateHash;
    peer.subnets = servedSubnetsOf(opened.sender);
    return new StreamSender(secrets, ctx.now(), this.#rekey);
  }

  /** A verified STREAM_REQUEST: answers it and keeps the new ingress stream. */
  onRequest(opened: OpenedEnvelope, reply: string | undefined): void {
    const ctx = this.#ctx;
    const from = opened.sender;
    if (!reply) return;
    if (!ctx.messenger.affine(from.mldsaPublicKey, opened.affinityTags)) {
      ctx.log.debug("stream request without team affinity dropped", { from: from.confluxId });
      return;
    }
    const peerIp = parseIpv4(from.overlayIp);
    if (peerIp < 0) return;
    const streamId = allocateStreamId(this.#ingress, ctx.random(64));
    const { body, secrets } = acceptStreamRequest(opened.body, {
      ownId: ctx.id,
      streamId,
      random: ctx.random(ACCEPT_RANDOM_LENGTH),
      initiatorCertificateHash: opened.senderCertificateHash,
      responderCertificateHash: ctx.messenger.ownCertificateHash,
    });
    // Bound what one peer can hold here: keep its newest few streams.
    const mine = [...this.#ingress.entries()].filter(([, i]) => i.peer.id === from.confluxId);
    for (const [id] of mine.slice(0, Math.max(0, mine.length - MAX_INGRESS_STREAMS_PER_PEER + 1))) {
      this.#ingress.delete(id);
    }
    const now = ctx.now();
    this.#ingress.set(streamId, {
      receiver: new StreamReceiver(secrets, now),
      peer: peerOf(opened, peerIp),
    });
    ctx.control.publish(reply, ctx.seal(MessageType.STREAM_RESPONSE, body));
    ctx.log.debug("ingress stream up", { peer: from.confluxId, stream: streamId });
  }

  /**
   * A verified STREAM_CLOSE (raw envelope `data`): ends our ingress stream of that id, or tells
   * egress; one about a stream we only relayed goes on, as signed, toward the stream's sender
   * (a restarted destination does not know who sends it a stream it lost: it tells the relay the
   * frames came through).
   */
  onClose(opened: OpenedEnvelope, data: Uint8Array): void {
    const msg = fromBinary(StreamCloseSchema, opened.body);
    const from = opened.sender.confluxId;
    const ing = this.#ingress.get(msg.streamId);
    if (ing && ing.peer.id === from) this.#ingress.delete(msg.streamId);
    if (this.#onEgressClosed(from, msg.streamId, msg.reason)) return;
    const ip = parseIpv4(opened.sender.overlayIp);
    const origin = ip < 0 ? undefined : this.origins?.(ip, msg.streamId);
    if (origin === undefined || origin === from) return;
    const now = this.#ctx.now();
    const key = `${origin}:${msg.streamId}`;
    if (now - (this.#passedOn.get(key) ?? -Infinity) < 1000) return;
    if (this.#passedOn.size >= 1024) this.#passedOn.clear();
    this.#passedOn.set(key, now);
    this.#ctx.publish(this.#ctx.subjects.control(origin), data);
  }

  /** Set by the node: the previous hop of a relayed stream (Forwarder.originOf). */
  origins?: (destination: number, streamId: number) => string | undefined;
  /** When a close was last passed on, by origin and stream (at most once a second each). */
  readonly #passedOn = new Map<string, number>();

  /** Tells `peerId` that stream `streamId` is over (never throws). */
  sendClose(peerId: string, streamId: number, reason: string): void {
    const ctx = this.#ctx;
    try {
      const body = toBinary(StreamCloseSchema, create(StreamCloseSchema, { streamId, reason }));
      ctx.control.publish(ctx.subjects.control(peerId), ctx.seal(MessageType.STREAM_CLOSE, body));
    } catch (e) {
      ctx.log.debug("stream close not sent", { peer: peerId, error: String(e) });
    }
  }

  /** A frame of `peerId` named a stream we do not hold: say so, at most once a second. */
  unknownStream(peerId: string, streamId: number, now: number): void {
    const peer = this.#ctx.peers.get(peerId);
    if (!peer) return;
    if (now - (peer.closeSentAt ?? 0) < 1000) return;
    peer.closeSentAt = now;
    this.sendClose(peerId, streamId, "unknown stream");
  }

  /** Teams changed: ingress streams of peers we no longer share a team with end. */
  recheckAffinity(): void {
    for (const [id, ing] of this.#ingress) {
      if (this.#ctx.affine(ing.peer)) continue;
      this.#ingress.delete(id);
      this.#ctx.log.info("stream closed: team affinity lost", { peer: ing.peer.id, stream: id });
      this.sendClose(ing.peer.id, id, "affinity");
    }
  }

  /** Ends ingress streams idle for the idle timeout; adds the peers still in use to `used`. */
  sweep(now: number, used: Set<string>): void {
    for (const [id, ing] of this.#ingress) {
      if (now - ing.receiver.lastUsedAt >= this.#ctx.idleTimeoutMs) {
        this.#ingress.delete(id);
        this.#ctx.log.debug("ingress stream dissolved (idle)", { peer: ing.peer.id, stream: id });
      } else used.add(ing.peer.id);
    }
  }

  /** Forgets every ingress stream (stop). */
  clear(): void {
    this.#ingress.clear();
  }
}
