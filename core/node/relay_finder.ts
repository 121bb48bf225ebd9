/**
 * RelayFinder: relays on a cold network, both sides. As the asker it sends a signed RELAY_QUERY
 * (first to relays remembered for the destination, then on the realm's discover subject) and
 * tethers the relays that answer with RELAY_OFFER. As a relay it serves queries within the
 * bounds of core/node/relay_search.ts: reach the destination (an open tether, a new one, or one
 * level deep a relay of its own), then offer itself to the asker.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { RelayLimiter } from "../route/relay_limiter.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import {
  MessageType,
  RelayOfferSchema,
  type RelayQuery,
  RelayQuerySchema,
} from "../wire/gen/veilnet_pb.ts";
import { hex, isConfluxId, type NodeContext } from "./context.ts";
import { formatIpv4, parseIpv4 } from "./packet.ts";
import {
  MAX_QUERY_DEPTH,
  QUERY_TIMEOUT_MS,
  RelaySearch,
  REMEMBERED_WAIT_MS,
} from "./relay_search.ts";

/**
 * How long a new destination waits for its direct tether (or for a route through the tethers we
 * hold) before relays are tethered too; the direct attempt goes on meanwhile and takes over the
 * traffic if it succeeds later.
 */
export const RELAY_GRACE_MS = 700;
/** RELAY_QUERY signatures this node checks per second (their own share of the verify budget). */
export const RELAY_QUERY_VERIFY_RATE = 20;

/** A destination conflux and its overlay address. */
export interface Destination {
  id: string;
  ip: number;
}

/** Relay discovery of one node. */
export class RelayFinder {
  readonly #ctx: NodeContext;
  readonly #search = new RelaySearch();
  /**
   * Next hop found for a destination conflux this node could not tether directly (chains), by
   * conflux id.
   */
  readonly #chains = new Map<string, { hop: string; at: number }>();
  readonly #queryBudget = new RelayLimiter({
    ratePerSecond: RELAY_QUERY_VERIFY_RATE,
    burst: RELAY_QUERY_VERIFY_RATE,
  });

  constructor(ctx: NodeContext) {
    this.#ctx = ctx;
  }

  /** An authenticated frame of `source` came through relay `via`: ask it first next time. */
  remember(source: string, via: string, now: number): void {
    this.#search.remember(source, via, now);
  }

  /**
   * Asks the realm who can reach `dst` (the relays remembered for it first) and tethers the
   * relays that offer; resolves with the first whose tether opens. Later offers (up to the
   * query's bound) open in the background: a second path for failover.
   */
  search(dst: Destination, depth: number): Promise<string> {
    const ctx = this.#ctx;
    if (ctx.stopped) return Promise.reject(new Error("stopped"));
    const now = ctx.now();
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const timer = ctx.after(QUERY_TIMEOUT_MS, () => {
        if (settled) return;
        settled = true;
        reject(new Error("no relay offered"));
      });
      const onOffer = (relayId: string) => {
        ctx.tethers.ensure(relayId).then(
          () => {
            if (settled) return;
            settled = true;
            ctx.cancel(timer);
            ctx.log.info("relay found", { dst: formatIpv4(dst.ip), relay: relayId });
            resolve(relayId);
          },
          (e) => ctx.log.debug("offered relay unreachable", { relay: relayId, error: String(e) }),
        );
      };
      const q = this.#search.begin(dst.id, now, onOffer, hex(ctx.random(16)));
      if (!q.fresh) return;
      const message = ctx.seal(
        MessageType.RELAY_QUERY,
        toBinary(
          RelayQuerySchema,
          create(RelayQuerySchema, {
            queryId: q.queryId,
            destinationId: dst.id,
            destinationIp: formatIpv4(dst.ip),
            depth,
          }),
        ),
      );
      const remembered = this.#search.remembered(dst.id, now)
        .filter((r) => r !== ctx.id && r !== dst.id);
      for (const r of remembered) ctx.publish(ctx.subjects.control(r), message);
      const realmWide = () => {
        if (settled || ctx.stopped || !this.#search.mayAskRealm(dst.id, ctx.now())) return;
        ctx.log.debug("asking the realm for a relay", { dst: formatIpv4(dst.ip), depth });
        ctx.publish(ctx.subjects.discover, message);
      };
      if (remembered.length > 0) ctx.after(REMEMBERED_WAIT_MS, realmWide);
      else realmWide();
    });
  }

  /**
   * A RELAY_QUERY on the realm subject, not yet verified: cheap checks first (every node of the
   * realm sees every query), then its own verify budget so a flood of queries cannot starve the
   * stream requests and signals that share the control budget.
   */
  onRealmQuery(data: Uint8Array, body: Uint8Array): void {
    const ctx = this.#ctx;
    const parsed = this.#parse(body);
    if (!ctx.relay || ctx.stopped || !parsed) return;
    // Our own query, echoed by NATS; or one we could not serve anyway: no signature check.
    if (this.#search.isOpen(parsed.q.queryId) || this.#search.busy()) return;
    if (!this.#queryBudget.allow("query", ctx.now())) {
      ctx.counters.controlDropped++;
      return;
    }
    if (!ctx.mayVerify(data)) return;
    this.serve(ctx.open(data), parsed);
  }

  /** Serves a verified RELAY_QUERY (from the realm subject or sent to us directly). */
  serve(opened: OpenedEnvelope, parsed = this.#parse(opened.body)): void {
    const ctx = this.#ctx;
    if (!ctx.relay || ctx.stopped || !parsed) return;
    const { q, dstIp } = parsed;
    const asker = opened.sender.confluxId;
    if (asker === ctx.id || asker === q.destinationId) return;
    // Its certificate names its address: frames relayed back to it need that.
    const askerIp = parseIpv4(opened.sender.overlayIp);
    if (askerIp >= 0) ctx.peers.learn(asker, askerIp);
    // Only a direct tether counts as a route at hand: a relay of our own (a chain) is searched
    // again, so chains stay one level deep and never lead back through the asker.
    const hasRoute = ctx.tethers.tether(q.destinationId) !== undefined;
    const decision = this.#search.decide(asker, q.destinationId, q.depth, hasRoute, ctx.now());
    if (!decision.serve) {
      ctx.log.debug("relay query not served", { from: asker, why: decision.why });
      return;
    }
    const dst = { id: q.destinationId, ip: dstIp };
    const reached = hasRoute ? Promise.resolve(1) : this.#reach(dst, q.depth, asker);
    reached.then((hops) => {
      if (ctx.stopped) return;
      const offer = toBinary(
        RelayOfferSchema,
        create(RelayOfferSchema, { queryId: q.queryId, destinationId: dst.id, hops }),
      );
      ctx.publish(ctx.subjects.control(asker), ctx.seal(MessageType.RELAY_OFFER, offer));
      ctx.log.debug("relay offered", { to: asker, dst: q.destinationIp, hops });
    }).catch((e) => {
      ctx.log.debug("relay query: destination unreachable", {
        dst: q.destinationIp,
        error: String(e),
      });
    }).finally(() => this.#search.done());
  }

  /** A verified RELAY_OFFER: hands the relay to the open query it answers. */
  onOffer(opened: OpenedEnvelope): void {
    const ctx = this.#ctx;
    let offer;
    try {
      offer = fromBinary(RelayOfferSchema, opened.body);
    } catch {
      ctx.counters.controlDropped++;
      return;
    }
    const relay = opened.sender.confluxId;
    if (relay === ctx.id || relay === offer.destinationId) return;
    if (!this.#search.offer(offer.queryId, relay, offer.destinationId, ctx.now())) {
      ctx.log.debug("relay offer for no open query", { from: relay });
    }
  }

  /** Forgets expired queries, memories and chains idle for `idleMs`. */
  sweep(now: number, idleMs: number): void {
    this.#search.sweep(now);
    for (const [id, c] of this.#chains) if (now - c.at >= idleMs) this.#chains.delete(id);
  }

  /** The query in `body` when it is well-formed and not about us; null otherwise. */
  #parse(body: Uint8Array): { q: RelayQuery; dstIp: number } | null {
    let q;
    try {
      q = fromBinary(RelayQuerySchema, body);
    } catch {
      return null;
    }
    const ctx = this.#ctx;
    const dstIp = parseIpv4(q.destinationIp);
    if (
      q.destinationId === ctx.id || !isConfluxId(q.destinationId) || dstIp < 0 ||
      !ctx.realm.contains(dstIp) || q.queryId.length > 64
    ) return null;
    return { q, dstIp };
  }

  /**
   * A tether toward `dst` for relaying: direct, or (when the query may go one level deeper) a
   * relay of our own found the same way; resolves with the hops from us to it.
   */
  async #reach(dst: Destination, depth: number, asker: string): Promise<number> {
    const ctx = this.#ctx;
    const direct = ctx.tethers.ensure(dst.id).then(() => 1);
    if (depth >= MAX_QUERY_DEPTH) return await direct;
    const viaRelay = (async () => {
      await ctx.sleep(RELAY_GRACE_MS);
      if (ctx.stopped) throw new Error("stopped");
      if (ctx.tethers.tether(dst.id)) return 1;
      const hop = await this.search(dst, depth + 1);
      if (hop === asker) throw new Error("the only relay is the asker");
      // Keyed by conflux id: the asker's claim of the address is not trusted, and the chain is
      // used only for an address a verified message of the destination tied to that id.
      if (this.#chains.size >= 4096) this.#chains.clear();
      this.#chains.set(dst.id, { hop, at: ctx.now() });
      return 2;
    })();
    return await Promise.any([direct, viaRelay]);
  }

  /** The relay this node found for conflux `id` when it could not tether it (a chain). */
  chainHop(id: string): string | undefined {
    return this.#chains.get(id)?.hop;
  }

  /** The tether to `peerId` closed: chains through it are gone. */
  tetherClosed(peerId: string): void {
    for (const [id, c] of this.#chains) if (c.hop === peerId) this.#chains.delete(id);
  }
}
