/**
 * PathFinder: who owns an overlay address (DISCOVER on the realm subject, answered only by the
 * owner and only to a teammate) and which tether leads to it — the direct one, a neighbour the
 * routing agent knows a route through, the way the peer's frames came in, a relay among the
 * destination's own tether peers (NEIGHBOURS_REQUEST), or one found from the realm
 * (RelayFinder).
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  DiscoverReplySchema,
  DiscoverSchema,
  MessageType,
  NeighboursReplySchema,
  NeighboursRequestSchema,
} from "../wire/gen/veilnet_pb.ts";
import { hex, isConfluxId, type NodeContext } from "./context.ts";
import { peekEnvelope as peekWireEnvelope } from "../wire/envelope.ts";
import { peerOf, type PeerRef, unverifiedPeer } from "./peer_ref.ts";
import { RELAY_GRACE_MS, type RelayFinder } from "./relay_finder.ts";
import { ROUTER_TICK_MS } from "./router.ts";
import { HANDSHAKE_TIMEOUT_MS } from "./streams.ts";

/** How long discovery waits for the owner of an address. */
export const DISCOVER_TIMEOUT_MS = 1500;
/** How long a direct tether may take before it counts as failed. */
export const DIRECT_TETHER_TIMEOUT_MS = 6000;
/** Relays tethered at once when the destination has no direct path (more give failover). */
export const RELAY_FANOUT = 3;
/** Discover replies checked at most per discovery (each costs a signature check). */
export const MAX_DISCOVER_REPLIES = 8;
/** How long a sender whose discover reply was junk is not listened to. */
const JUNK_SENDER_MS = 60_000;
/** Grace before relays when the direct tether failed within the last minute. */
const RELAY_GRACE_AFTER_FAILURE_MS = 300;

/** Finds the owner of an address and a tether toward it. */
export class PathFinder {
  readonly #ctx: NodeContext;
  readonly #relays: RelayFinder;
  /** Claimed certificate hashes (hex) of senders whose discover replies were junk. */
  readonly #junkSenders = new Set<string>();

  constructor(ctx: NodeContext, relays: RelayFinder) {
    this.#ctx = ctx;
    this.#relays = relays;
  }

  /** The conflux owning overlay address `ip` (dotted `ipText`), verified as a teammate. */
  async discover(ip: number, ipText: string): Promise<PeerRef> {
    const ctx = this.#ctx;
    const known = ctx.peers.byIp(ip);
    if (known?.verified && known.verifiedAt !== undefined) {
      if (ctx.now() - known.verifiedAt < ctx.idleTimeoutMs) return known.verified;
    }
    // A conflux that already sent us a verified message (e.g. it opened a stream to us) need not
    // be discovered: its certificate named the address. The handshake checks affinity anyway.
    if (known) return unverifiedPeer(known.id, ip);
    const body = toBinary(DiscoverSchema, create(DiscoverSchema, { overlayIp: ipText }));
    const replies = ctx.control.requestMany(
      ctx.subjects.discover,
      ctx.seal(MessageType.DISCOVER, body),
      DISCOVER_TIMEOUT_MS,
    );
    // Any realm member may answer: the first reply that proves ownership wins, junk is skipped
    // (bounded: a member flooding replies costs at most MAX_DISCOVER_REPLIES signature checks,
    // and one that answered junk is not heard again for a while).
    let examined = 0;
    let junk = 0;
    for await (const reply of replies) {
      const claimed = claimedSender(reply);
      if (claimed && this.#junkSenders.has(claimed)) continue;
      if (++examined > MAX_DISCOVER_REPLIES) break;
      const r = this.#ownerOf(reply, ip, ipText);
      if (r.peer) {
        ctx.peers.verify(r.peer, ctx.now());
        return r.peer;
      }
      junk++;
      // Only a sender whose signature verified is held to its junk: a forged envelope may claim
      // anyone's certificate, the real owner's too.
      if (r.verifiedSender) this.#noteJunk(r.verifiedSender);
    }
    throw new Error(
      junk > 0 ? `no valid discover reply (${junk} refused)` : "no conflux answered the discovery",
    );
  }

  /**
   * The peer `reply` proves owns `ip` (the owner's signed reply with team affinity); otherwise,
   * when the reply was signed by a realm member but says something else, that member's
   * certificate hash (hex).
   */
  #ownerOf(
    reply: Uint8Array,
    ip: number,
    ipText: string,
  ): { peer?: PeerRef; verifiedSender?: string } {
    const ctx = this.#ctx;
    let opened;
    try {
      opened = ctx.messenger.open(reply, ctx.now());
    } catch {
      return {};
    }
    const sender = hex(opened.senderCertificateHash);
    try {
      if (opened.type !== MessageType.DISCOVER_REPLY) return { verifiedSender: sender };
      const answer = fromBinary(DiscoverReplySchema, opened.body);
      if (
        opened.sender.overlayIp !== ipText || answer.overlayIp !== ipText ||
        answer.confluxId !== opened.sender.confluxId
      ) return { verifiedSender: sender };
      // No team in common (any more): not junk, teams may change back at any time.
      if (!ctx.messenger.affine(opened.sender.mldsaPublicKey, opened.affinityTags)) return {};
      return { peer: peerOf(opened, ip) };
    } catch {
      return { verifiedSender: sender };
    }
  }

  /** Remembers that the member with certificate hash `claimed` answered junk. */
  #noteJunk(claimed: string): void {
    if (this.#junkSenders.size >= 1024) this.#junkSenders.clear();
    this.#junkSenders.add(claimed);
    this.#ctx.after(JUNK_SENDER_MS, () => this.#junkSenders.delete(claimed));
  }

  /**
   * A tether peer that leads to `peer`. The direct attempt and the search for a route run side
   * by side; relays are tethered only after {@link RELAY_GRACE_MS} (or sooner when the direct
   * attempt failed within the last minute, which is then not retried).
   */
  async path(peer: PeerRef): Promise<string> {
    const ctx = this.#ctx;
    if (ctx.tethers.tether(peer.id)) return peer.id;
    const direct = !ctx.peers.directFailedRecently(peer.id, ctx.now());
    const settled = { value: false };
    const attempts = [
      this.#routed(peer, direct ? RELAY_GRACE_MS : RELAY_GRACE_AFTER_FAILURE_MS, settled),
    ];
    if (direct) attempts.push(this.#direct(peer));
    try {
      return await Promise.any(attempts);
    } catch {
      throw new Error("neither a direct tether nor a relay reaches the destination");
    } finally {
      settled.value = true;
    }
  }

  async #direct(peer: PeerRef): Promise<string> {
    const ctx = this.#ctx;
    try {
      await ctx.tethers.ensure(peer.id);
      const p = ctx.peers.get(peer.id);
      if (p) p.directFailedAt = undefined;
      return peer.id;
    } catch (e) {
      if (!ctx.stopped) ctx.peers.learn(peer.id, peer.ip).directFailedAt = ctx.now();
      ctx.log.debug("no direct tether", { peer: peer.id, error: String(e) });
      throw e;
    }
  }

  /**
   * Resolves with a tether peer that leads to `peer`: whatever the routing agent finds through
   * the tethers we hold (asking starts its discovery, which may find routes of several hops), the
   * way its frames came in, or, from `graceMs` on, a relay. Gives up when all have nothing after
   * {@link DIRECT_TETHER_TIMEOUT_MS}.
   */
  async #routed(peer: PeerRef, graceMs: number, settled: { value: boolean }): Promise<string> {
    const ctx = this.#ctx;
    const name = ctx.peers.learn(peer.id, peer.ip).ipText;
    const start = ctx.now();
    let relay: { id?: string; failed?: boolean } | undefined;
    for (;;) {
      if (settled.value || ctx.stopped) throw new Error("path settled");
      const choice = ctx.router.agent.choose(name, ctx.now());
      if (choice.kind === "next-hop") {
        const id = ctx.peers.neighbourId(choice.nextHop);
        if (id !== undefined && ctx.tethers.tether(id)) return id;
      }
      if (ctx.tethers.tether(peer.id)) return peer.id;
      if (relay?.id !== undefined) return relay.id;
      const back = ctx.peers.get(peer.id)?.heardVia;
      if (back !== undefined && ctx.tethers.tether(back)) return back;
      const waited = ctx.now() - start;
      if (!relay && waited >= graceMs) {
        const r: { id?: string; failed?: boolean } = relay = {};
        this.#relay(peer).then((id) => r.id = id, (e) => {
          r.failed = true;
          ctx.log.debug("no relay reaches the destination", { error: String(e) });
        });
      }
      if (relay?.failed && waited >= DIRECT_TETHER_TIMEOUT_MS) throw new Error("no route");
      await ctx.sleep(ROUTER_TICK_MS);
    }
  }

  /**
   * A relay toward `peer`: among the destination's own tether peers (warm network) or, side by
   * side, from the realm (cold network: nobody holds a tether yet). Resolves with the first.
   */
  async #relay(peer: PeerRef): Promise<string> {
    try {
      return await Promise.any([this.#neighbourRelays(peer), this.#relays.search(peer, 0)]);
    } catch {
      throw new Error("no relay reaches the destination");
    }
  }

  /**
   * Asks `peer` for its tether peers and tethers up to {@link RELAY_FANOUT} of them at once;
   * resolves with the first that opens (the others open in the background and give the routing
   * agent a second path for failover).
   */
  async #neighbourRelays(peer: PeerRef): Promise<string> {
    const ctx = this.#ctx;
    const request = ctx.seal(
      MessageType.NEIGHBOURS_REQUEST,
      toBinary(
        NeighboursRequestSchema,
        create(NeighboursRequestSchema, {
          destinationId: peer.id,
          candidateIds: ctx.tethers.tethers().map((t) => t.peerId)
            .filter((id) => id !== peer.id).slice(0, 8),
        }),
      ),
    );
    const reply = ctx.messenger.open(
      await ctx.control.request(ctx.subjects.control(peer.id), request, HANDSHAKE_TIMEOUT_MS),
      ctx.now(),
    );
    if (reply.type !== MessageType.NEIGHBOURS_REPLY || reply.sender.confluxId !== peer.id) {
      throw new Error("unexpected neighbours reply");
    }
    const ids = fromBinary(NeighboursReplySchema, reply.body).confluxIds
      .filter((id) => isConfluxId(id) && id !== ctx.id && id !== peer.id);
    // Relays we already hold a tether to first.
    const held = (id: string) => Number(ctx.tethers.tether(id) !== undefined);
    ids.sort((x, y) => held(y) - held(x));
    const tries = ids.slice(0, RELAY_FANOUT).map((id) =>
      ctx.tethers.ensure(id).then(() => id, (e) => {
        ctx.log.debug("relay candidate unreachable", { relay: id, error: String(e) });
        throw e;
      })
    );
    if (tries.length === 0) throw new Error("the destination holds no tethers to relay through");
    return await Promise.any(tries);
  }
}

/** The certificate hash an envelope claims (unverified), hex; null when it does not decode. */
function claimedSender(bytes: Uint8Array): string | null {
  try {
    return hex(peekWireEnvelope(bytes).senderCertificateHash);
  } catch {
    return null;
  }
}
