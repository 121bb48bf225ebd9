/**
 * The routing agent: Q-routing (Boyan & Littman, 1994) per destination, one agent per node.
 *
 * For every destination the agent keeps, per candidate next hop y, an estimate of the delivery
 * time through y: Q(d, y) = cost(y) + R(d, y), where cost(y) is the node's own measurement of the
 * link to y (probe RTT / 2 plus queue delay, inflated by loss) and R(d, y) is what y last
 * reported as its own best time to d, smoothed with a learning rate. A direct tether to d is the
 * candidate y = d with R = 0. Next hops are chosen greedily with exploration that is capped per
 * destination, so a realm of many similar peers does not spend more than the cap exploring.
 *
 * Feedback is sparse on purpose so that control load stays flat as the realm grows: a node
 * reports estimates only to neighbours that route frames through it ({@link RouteAgent.noteUpstream})
 * or asked it (a query), only when the value moved noticeably or a slow refresh is due, batched
 * per neighbour. Discovery is a query forwarded towards the destination along a bounded number
 * of paths (not a flood), steered by progress towards it, and answered only by the first node
 * that has a finite estimate. Sources and relays that carry frames occasionally ask one more
 * neighbour for a better route, backing off while that finds nothing. After the route in use
 * breaks, a short hold-down accepts only neighbours that cannot be routing through us, so no
 * loop forms while the news spreads.
 *
 * Pure: time is a millisecond number passed in, randomness a `Random`; no I/O, no timers.
 * The runtime calls {@link RouteAgent.poll} regularly (every ~100–250 ms and after events) and
 * sends what it returns.
 *
 * The parts live beside this file, one concept each: options.ts (tuning), neighbours.ts (link
 * costs), q_table.ts and best_route.ts (Q values and the one best-route selection), learning.ts
 * (incoming reports), reports.ts (outgoing reports), hold_down.ts, exploration.ts, discovery.ts,
 * asking.ts, querying.ts and query_relay.ts (queries), link_events.ts and upkeep.ts (the poll
 * pass), over the shared state of state.ts. This class is the only public way in.
 *
 * @module
 */

import { bestRoute, excluding, rankedRoutes } from "./best_route.ts";
import { destinationFor, isFull, subscribe } from "./destination.ts";
import { startDiscovery } from "./discovery.ts";
import { explore } from "./exploration.ts";
import { learnReport } from "./learning.ts";
import { onLinkDown, onLinkMeasured } from "./link_events.ts";
import type { OutboundRouteMessage, RouteMessage } from "./messages.ts";
import type { LinkSample } from "./neighbours.ts";
import type { RouteAgentOptions } from "./options.ts";
import { qValue, type RouteEntry } from "./q_table.ts";
import { onQuery } from "./query_relay.ts";
import { flushReports } from "./reports.ts";
import { type AgentState, newAgentState, type RouteAgentStats } from "./state.ts";
import { upkeep } from "./upkeep.ts";

export type { LinkSample } from "./neighbours.ts";
export type { RouteAgentOptions } from "./options.ts";
export type { RouteEntry } from "./q_table.ts";
export type { RouteAgentStats } from "./state.ts";

/** The outcome of {@link RouteAgent.choose}. */
export type RouteChoice =
  | { kind: "local" }
  | {
    kind: "next-hop";
    nextHop: string;
    /** Estimated delivery time through `nextHop` in ms. */
    estimateMs: number;
    hops: number;
    /** True when exploration picked a non-greedy candidate. */
    explored: boolean;
  }
  | {
    kind: "no-route";
    /** True while discovery for this destination is under way (the runtime may queue or drop). */
    discovering: boolean;
  };

/** What the agent knows about one destination, for status output (`GET /info`). */
export interface RouteSnapshot {
  destination: string;
  best: RouteEntry | null;
  candidates: RouteEntry[];
  discovering: boolean;
  subscribers: string[];
}

/** A Q-routing agent for one node. See the module documentation. */
export class RouteAgent {
  /** This node's id. */
  readonly self: string;
  readonly #s: AgentState;

  /** Creates an agent; throws `RouteError` `options` on out-of-range tuning. */
  constructor(options: RouteAgentOptions) {
    this.#s = newAgentState(options);
    this.self = this.#s.self;
  }

  /** Counters since creation (a copy). */
  get stats(): RouteAgentStats {
    return { ...this.#s.stats };
  }

  /** Ids of neighbours whose tether is up. */
  neighbours(): string[] {
    return this.#s.links.up();
  }

  // ---- own measurements -------------------------------------------------------------------

  /**
   * Records a probe result for the tether to `neighbour`; the first sample of a new or
   * recovered tether brings the link up.
   */
  linkMeasured(neighbour: string, now: number, sample: LinkSample): void {
    onLinkMeasured(this.#s, neighbour, now, sample);
  }

  /**
   * The tether to `neighbour` failed (probes lost, channel closed): every estimate through it
   * becomes infinite at once, so the next {@link choose} moves traffic to the next best route,
   * and neighbours routing through us hear about it at the next {@link poll}.
   */
  linkDown(neighbour: string, now: number): void {
    onLinkDown(this.#s, neighbour, now);
  }

  /**
   * `neighbour` just sent us a frame for `destination` (we relay it), so it uses us as next
   * hop: it will get our estimate for that destination when it changes.
   */
  noteUpstream(neighbour: string, destination: string, now: number): void {
    const s = this.#s;
    // Frames for us end here: there is nothing to relay and no route of ours to report.
    if (neighbour === s.self || destination === neighbour || destination === s.self) return;
    if (isFull(s, destination)) return;
    const d = destinationFor(s, destination, now);
    // A relay that just started carrying this destination (often only because an upstream
    // node explored through it) waits an ask interval before asking around: most such paths
    // carry a frame or two and are dropped again.
    if (now - d.relayedAt >= s.tuning.subscriptionTtlMs) {
      d.nextAskAt = Math.max(d.nextAskAt, now + s.tuning.askIntervalMs);
    }
    d.relayedAt = now;
    if (subscribe(d, neighbour, now + s.tuning.subscriptionTtlMs)) s.dirty.add(destination);
  }

  // ---- decisions --------------------------------------------------------------------------

  /**
   * Picks the next hop for a frame to `destination`. `exclude` is the neighbour the frame came
   * from (a relay never sends a frame back). With no finite candidate the answer is `no-route`,
   * and, unless `discover` is false, discovery starts (its queries come out of {@link poll}).
   */
  choose(
    destination: string,
    now: number,
    options: { exclude?: string; discover?: boolean } = {},
  ): RouteChoice {
    const s = this.#s;
    if (destination === s.self) return { kind: "local" };
    const d = destinationFor(s, destination, now);
    const discover = options.discover ?? true;
    const firstUse = discover && d.lastWanted === -Infinity;
    if (discover) d.lastWanted = now;
    const skip = excluding(options.exclude);
    const { best, usable } = bestRoute(s, destination, d, skip);
    if (usable === 0) {
      if (discover) startDiscovery(s, destination, d, now);
      return { kind: "no-route", discovering: d.discovery !== null };
    }
    // A route learnt on the side (from answering or forwarding someone else's query) is one
    // neighbour's view: on first use, ask another peer at once rather than after the first ask
    // interval, so that the choice is made between them.
    if (firstUse) {
      d.nextAskAt = now;
      d.firstAsk = true;
      s.dirty.add(destination);
    }
    d.decisions++;
    s.stats.decisions++;
    const explored = explore(s, destination, d, skip, usable, now);
    const pick = explored ?? best;
    return {
      kind: "next-hop",
      nextHop: pick.nextHop,
      estimateMs: pick.estimateMs,
      hops: pick.hops,
      explored: explored !== null,
    };
  }

  /** The greedy best route to `destination` (no exploration, no side effects), or null. */
  best(destination: string, options: { exclude?: string } = {}): RouteEntry | null {
    const s = this.#s;
    if (destination === s.self) return { nextHop: s.self, estimateMs: 0, hops: 0 };
    const d = s.dests.get(destination);
    const e = bestRoute(s, destination, d, excluding(options.exclude)).best;
    return Number.isFinite(e.estimateMs) ? e : null;
  }

  /** Estimated delivery time to `destination` through `nextHop` in ms (Infinity if none). */
  estimateVia(destination: string, nextHop: string): number {
    return qValue(this.#s, destination, this.#s.dests.get(destination), nextHop).estimateMs;
  }

  /** Every finite candidate for `destination`, best first. */
  candidates(destination: string, options: { exclude?: string } = {}): RouteEntry[] {
    const d = this.#s.dests.get(destination);
    // Without state only the direct tether is known; it has always been listed then, even
    // when excluded, and status output relies on nothing else here.
    const skip = d ? excluding(options.exclude) : undefined;
    return rankedRoutes(this.#s, destination, d, skip);
  }

  // ---- neighbour messages -----------------------------------------------------------------

  /**
   * Handles a parsed message from the neighbour `from` (see `parseRouteMessage`). Messages from
   * nodes that are not current neighbours are ignored: estimates are only meaningful per tether.
   */
  receive(from: string, message: RouteMessage, now: number): void {
    if (!this.#s.links.isUp(from) || from === this.self) return;
    if (message.kind === "report") learnReport(this.#s, from, message, now);
    else onQuery(this.#s, from, message, now);
  }

  /**
   * Advances timers (discovery retries, refreshes, expiries) and returns the messages to send
   * now, reports batched per neighbour. Call after events and every ~100–250 ms.
   */
  poll(now: number): OutboundRouteMessage[] {
    upkeep(this.#s, now);
    const out: OutboundRouteMessage[] = this.#s.queries.splice(0);
    flushReports(this.#s, out);
    return out;
  }

  /** What the agent knows, per destination, for status output. */
  snapshot(): RouteSnapshot[] {
    return [...this.#s.dests].map(([name, d]) => ({
      destination: name,
      best: this.best(name),
      candidates: rankedRoutes(this.#s, name, d, undefined),
      discovering: d.discovery !== null,
      subscribers: [...d.subscribers.keys()],
    }));
  }
}
