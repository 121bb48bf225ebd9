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
 * Pure: time is a millisecond number passed in, randomness a {@link Random}; no I/O, no timers.
 * The runtime calls {@link RouteAgent.poll} regularly (every ~100–250 ms and after events) and
 * sends what it returns.
 *
 * @module
 */

import { RouteError } from "./errors.ts";
import type {
  OutboundRouteMessage,
  RouteEstimate,
  RouteMessage,
  RouteQuery,
  RouteReport,
} from "./messages.ts";
import { MAX_ESTIMATES_PER_REPORT, MAX_QUERY_PATH } from "./messages.ts";
import type { Random } from "./prng.ts";

/** One liveness-probe result for a tether (the node's own measurement). */
export interface LinkSample {
  /** Round-trip time of the probe in ms. */
  rttMs: number;
  /** Fraction of probes lost recently, 0..1. */
  loss?: number;
  /** Current send-queue delay on the tether in ms (buffered bytes / send rate). */
  queueMs?: number;
}

/** Tuning of a {@link RouteAgent}; every field but `self` and `random` has a default. */
export interface RouteAgentOptions {
  /** This node's id. */
  self: string;
  /** Uniform [0, 1) source used for exploration. */
  random: Random;
  /** Routes longer than this many hops count as no route (default 16). */
  hopLimit?: number;
  /** Weight of a neighbour's new report in R(d, y), 0..1 (default 0.5). */
  learningRate?: number;
  /** Weight of a new RTT sample in the smoothed link RTT, 0..1 (default 0.3). */
  linkSmoothing?: number;
  /** Largest fraction of choices per destination that may explore, 0..1 (default 0.05). */
  explorationCap?: number;
  /** Only candidates within this factor of the best estimate are explored (default 2). */
  explorationSlack?: number;
  /** Relative change of an estimate that triggers a report (default 0.1). */
  reportChange?: number;
  /** Least time between two reports of a finite change to one neighbour (default 250 ms). */
  reportMinIntervalMs?: number;
  /** A subscribed neighbour gets an unchanged estimate again after this long (default 30 s). */
  reportRefreshMs?: number;
  /** A neighbour stops getting reports this long after it last routed through us (default 30 s). */
  subscriptionTtlMs?: number;
  /** A discovery attempt without an answer is retried after this long (default 1 s). */
  queryTimeoutMs?: number;
  /** Hops a discovery query may travel (default = hopLimit). */
  queryTtl?: number;
  /** Neighbours the origin sends each discovery attempt through (default [2, 4, 8]). */
  queryFanout?: number[];
  /**
   * Hops of the query a node that has a route sends, once per `askIntervalMs`, through one
   * tether peer that is not yet a candidate, to find better routes (default 3).
   */
  askTtl?: number;
  /** Time between two such queries for one destination (default 15 s). */
  askIntervalMs?: number;
  /**
   * Asking backs off while it finds nothing better (Trickle, RFC 6206): after an ask that did
   * not improve the best estimate the interval doubles, up to this (default 120 s); losing a
   * route or finding a better one resets it to `askIntervalMs`. Steady routes then cost almost
   * nothing, whatever the size of the realm.
   */
  askMaxIntervalMs?: number;
  /**
   * Asks this node may start per second over all destinations (default 0.5, bursts of 2): a
   * node that carries many routes (long paths in a large realm) asks no more than one that
   * carries few, so query load per node stays flat as the realm grows. A destination refused
   * by the budget is tried again at a random point of the next ask interval.
   */
  askBudgetPerSec?: number;
  /** Pause before discovery starts over after every attempt failed (default 5 s). */
  discoveryBackoffMs?: number;
  /**
   * After the route in use breaks (its tether failed or its next hop reported no route), for
   * this long only neighbours that reported less than our old estimate may carry traffic
   * (default 200 ms; 0 turns it off). Such a neighbour cannot be routing through us, so no loop
   * forms while the bad news spreads (the feasibility condition of DUAL and Babel); without it
   * stale estimates can form loops that count up for seconds. A longer route is taken once the
   * hold ends or discovery finds a feasible one, so a longer hold also delays recovery: 200 ms
   * gave the best recovery p99 over seven simulated relay failures (sim/README.md).
   */
  holdDownMs?: number;
  /** Candidates kept per destination; the worst is dropped beyond it (default 8). */
  maxCandidates?: number;
  /**
   * Most destinations with state (default 65,536). Beyond it, what neighbours send (reports,
   * queries, relayed frames) about new destinations is ignored, so a neighbour that invents
   * destinations cannot grow the node's memory without bound; the node's own choices still count.
   */
  maxDestinations?: number;
  /** State of a destination nobody uses is forgotten after this long (default 120 s). */
  idleDestinationMs?: number;
  /**
   * Prior guess (ms) of the delay from neighbour to destination, used only to pick which way a
   * discovery query goes first (e.g. from network coordinates). Default: 0 for every pair.
   */
  heuristic?: (neighbour: string, destination: string) => number;
  /**
   * Weight of the tether's own cost when a discovery query picks its next hop by the prior
   * (default 0.1). Low on purpose: a query should make progress towards the destination, and a
   * long tether that jumps close to it is worth more than a cheap one that inches along (with a
   * weight of 1 every hop scores as the whole detour and the walk crawls through dense regions,
   * running out of TTL). The route itself is then learned from measured estimates, not from this.
   */
  queryCostWeight?: number;
}

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

/** A route estimate through one next hop. */
export interface RouteEntry {
  nextHop: string;
  estimateMs: number;
  hops: number;
}

/** What the agent knows about one destination, for status output (`GET /info`). */
export interface RouteSnapshot {
  destination: string;
  best: RouteEntry | null;
  candidates: RouteEntry[];
  discovering: boolean;
  subscribers: string[];
}

/** Counters for tests, the simulator and status output. */
export interface RouteAgentStats {
  queriesSent: number;
  reportsSent: number;
  estimatesSent: number;
  decisions: number;
  explorations: number;
  discoveriesStarted: number;
  discoveriesFailed: number;
}

interface Link {
  srttMs: number;
  loss: number;
  queueMs: number;
  up: boolean;
  /** Cost when routes through this link were last re-evaluated. */
  announcedCost: number;
}

interface Candidate {
  remainingMs: number;
  hops: number;
  updatedAt: number;
  /** Last time exploration sent a frame this way (exploration goes to the stalest). */
  triedAt: number;
}

interface Subscription {
  expires: number;
  sentMs: number;
  sentHops: number;
  sentAt: number;
  /** Version of destination and links when last evaluated with nothing to send. */
  version: number;
  linkVersion: number;
}

interface Discovery {
  attempt: number;
  deadline: number;
}

interface Destination {
  candidates: Map<string, Candidate>;
  subscribers: Map<string, Subscription>;
  version: number;
  decisions: number;
  explorations: number;
  lastWanted: number;
  lastActive: number;
  discovery: Discovery | null;
  retryAfter: number;
  /** Last poll at which a finite route existed (relays repair only routes they had). */
  routedAt: number;
  /**
   * Last time a neighbour sent us a frame for this destination. Only relays that carry data
   * look for better routes or repair broken ones: a node that merely answered or forwarded a
   * query must not, or every answer would make it ask its own neighbours and asking would
   * spread over the whole realm like a flood.
   */
  relayedAt: number;
  /** When the origin may next ask one more neighbour for this destination. */
  nextAskAt: number;
  /** Current time between asks (grows while asking finds nothing better). */
  askEveryMs: number;
  /** The next ask is the check of a side-learnt route on first use: it needs no ask token. */
  firstAsk: boolean;
  /** Best estimate when we last asked (Infinity before the first ask). */
  askedBestMs: number;
  /** Neighbours asked so far in the current round of asking (null until the first ask). */
  asked: Set<string> | null;
  /**
   * While holding down after a loss: candidates must have reported less than this (our
   * estimate before the loss). Infinity when not holding.
   */
  feasibleMs: number;
  holdUntil: number;
}

const NONE: RouteEntry = { nextHop: "", estimateMs: Infinity, hops: 0 };
const MIN_DELIVERY_PROBABILITY = 0.1;
/** Hops without progress after which a discovery query jumps along the longest tether. */
const ESCAPE_AFTER = 3;
/** Asks a node may save up (see `askBudgetPerSec`), or one second's worth if more. */
const ASK_BURST = 2;
/** Destinations in use a tether that just came up is asked about (most recently used first). */
const GREET_LIMIT = 16;
/** Refreshes and expiries are checked this often; events are handled at every poll. */
const SWEEP_INTERVAL_MS = 1_000;

/** One-way delivery time over a tether, inflated by loss (retransmissions). */
function linkCost(l: Link): number {
  return (l.srttMs / 2 + l.queueMs) / Math.max(MIN_DELIVERY_PROBABILITY, 1 - l.loss);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new RouteError("options", `${name} must be >= 0`);
  return v;
}

function fraction(value: number | undefined, fallback: number, name: string): number {
  const v = positive(value, fallback, name);
  if (v > 1) throw new RouteError("options", `${name} must be in [0, 1]`);
  return v;
}

/** A Q-routing agent for one node. See the module documentation. */
export class RouteAgent {
  /** This node's id. */
  readonly self: string;
  readonly #random: Random;
  readonly #hopLimit: number;
  readonly #eta: number;
  readonly #linkAlpha: number;
  readonly #cap: number;
  readonly #slack: number;
  readonly #change: number;
  readonly #minInterval: number;
  readonly #refresh: number;
  readonly #subTtl: number;
  readonly #queryTimeout: number;
  readonly #queryTtl: number;
  readonly #fanout: number[];
  readonly #backoff: number;
  readonly #askTtl: number;
  readonly #askInterval: number;
  readonly #askMaxInterval: number;
  readonly #askBudget: number;
  #askTokens = ASK_BURST;
  #askTokensAt = -Infinity;
  readonly #maxCandidates: number;
  readonly #maxDests: number;
  readonly #holdMs: number;
  readonly #idle: number;
  readonly #heuristic: (neighbour: string, destination: string) => number;
  readonly #queryCostWeight: number;

  readonly #links = new Map<string, Link>();
  readonly #dests = new Map<string, Destination>();
  readonly #seenQueries = new Map<string, number>();
  readonly #outbox = new Map<string, RouteEstimate[]>();
  readonly #queries: OutboundRouteMessage[] = [];
  /** Destinations to look at in the next poll even if it is not a full sweep. */
  readonly #dirty = new Set<string>();
  #linkVersion = 0;
  #nextQueryId = 1;
  #lastSweep = -Infinity;
  readonly #stats: RouteAgentStats = {
    queriesSent: 0,
    reportsSent: 0,
    estimatesSent: 0,
    decisions: 0,
    explorations: 0,
    discoveriesStarted: 0,
    discoveriesFailed: 0,
  };

  /** Creates an agent; throws {@link RouteError} `options` on out-of-range tuning. */
  constructor(options: RouteAgentOptions) {
    if (!options.self) throw new RouteError("options", "self must be a non-empty id");
    this.self = options.self;
    this.#random = options.random;
    this.#hopLimit = Math.floor(positive(options.hopLimit, 16, "hopLimit"));
    if (this.#hopLimit < 1 || this.#hopLimit > MAX_QUERY_PATH) {
      throw new RouteError("options", `hopLimit must be in [1, ${MAX_QUERY_PATH}]`);
    }
    this.#eta = fraction(options.learningRate, 0.5, "learningRate");
    this.#linkAlpha = fraction(options.linkSmoothing, 0.3, "linkSmoothing");
    this.#cap = fraction(options.explorationCap, 0.05, "explorationCap");
    this.#slack = Math.max(1, positive(options.explorationSlack, 2, "explorationSlack"));
    this.#change = positive(options.reportChange, 0.1, "reportChange");
    this.#minInterval = positive(options.reportMinIntervalMs, 250, "reportMinIntervalMs");
    this.#refresh = positive(options.reportRefreshMs, 30_000, "reportRefreshMs");
    this.#subTtl = positive(options.subscriptionTtlMs, 30_000, "subscriptionTtlMs");
    this.#queryTimeout = positive(options.queryTimeoutMs, 1_000, "queryTimeoutMs");
    this.#queryTtl = Math.min(
      MAX_QUERY_PATH,
      Math.floor(positive(options.queryTtl, this.#hopLimit, "queryTtl")),
    );
    this.#fanout = (options.queryFanout ?? [2, 4, 8]).map((f) =>
      Math.max(1, Math.floor(positive(f, 1, "queryFanout")))
    );
    if (this.#fanout.length === 0) throw new RouteError("options", "queryFanout is empty");
    this.#backoff = positive(options.discoveryBackoffMs, 5_000, "discoveryBackoffMs");
    this.#askInterval = positive(options.askIntervalMs, 15_000, "askIntervalMs");
    this.#askMaxInterval = Math.max(
      this.#askInterval,
      positive(options.askMaxIntervalMs, 120_000, "askMaxIntervalMs"),
    );
    this.#askTtl = Math.min(
      this.#queryTtl,
      Math.max(1, Math.floor(positive(options.askTtl, 3, "askTtl"))),
    );
    this.#maxCandidates = Math.max(1, Math.floor(positive(options.maxCandidates, 8, "max")));
    this.#maxDests = Math.max(1, Math.floor(positive(options.maxDestinations, 65_536, "max")));
    this.#askBudget = positive(options.askBudgetPerSec, 0.5, "askBudgetPerSec");
    this.#holdMs = positive(options.holdDownMs, 200, "holdDownMs");
    this.#idle = positive(options.idleDestinationMs, 120_000, "idleDestinationMs");
    this.#heuristic = options.heuristic ?? (() => 0);
    this.#queryCostWeight = positive(options.queryCostWeight, 0.1, "queryCostWeight");
  }

  /** Counters since creation (a copy). */
  get stats(): RouteAgentStats {
    return { ...this.#stats };
  }

  /** Ids of neighbours whose tether is up. */
  neighbours(): string[] {
    return [...this.#links].filter(([, l]) => l.up).map(([n]) => n);
  }

  // ---- own measurements -------------------------------------------------------------------

  /**
   * Records a probe result for the tether to `neighbour`; the first sample of a new or
   * recovered tether brings the link up.
   */
  linkMeasured(neighbour: string, now: number, sample: LinkSample): void {
    if (neighbour === this.self) return;
    const rtt = Number.isFinite(sample.rttMs) && sample.rttMs >= 0 ? sample.rttMs : NaN;
    if (Number.isNaN(rtt)) return;
    const loss = Math.min(1, Math.max(0, sample.loss ?? 0));
    const queueMs = Math.max(0, sample.queueMs ?? 0);
    const link = this.#links.get(neighbour);
    if (!link || !link.up) {
      this.#links.set(neighbour, { srttMs: rtt, loss, queueMs, up: true, announcedCost: 0 });
      if (link && !link.up) {
        // A recovered tether must earn its estimates again through fresh reports.
        for (const d of this.#dests.values()) d.candidates.delete(neighbour);
      }
    } else {
      link.srttMs += this.#linkAlpha * (rtt - link.srttMs);
      link.loss = loss;
      link.queueMs = queueMs;
      // Probe noise must not make every route through this link be re-evaluated (and every
      // subscriber re-checked) at each probe: only a move of half the report threshold since
      // the last re-evaluation counts, and slow drift adds up until it does.
      const cost = this.#cost(neighbour);
      const moved = Math.abs(cost - link.announcedCost);
      if (moved <= Math.max(0.05, (this.#change / 2) * link.announcedCost)) return;
    }
    this.#links.get(neighbour)!.announcedCost = this.#cost(neighbour);
    this.#touchDirect(neighbour, now);
    this.#linkVersion++;
    if (!link || !link.up) this.#greet(neighbour, now);
  }

  /**
   * The tether to `neighbour` failed (probes lost, channel closed): every estimate through it
   * becomes infinite at once, so the next {@link choose} moves traffic to the next best route,
   * and neighbours routing through us hear about it at the next {@link poll}.
   */
  linkDown(neighbour: string, now: number): void {
    const link = this.#links.get(neighbour);
    if (!link || !link.up) return;
    link.up = false;
    this.#linkVersion++;
    for (const [name, d] of this.#dests) {
      d.subscribers.delete(neighbour);
      if (d.candidates.has(neighbour) || name === neighbour) {
        // The link is already down, so the best route before the loss is computed by hand.
        const c = d.candidates.get(neighbour);
        const viaLost = linkCost(link) + (name === neighbour ? 0 : c ? c.remainingMs : Infinity);
        const other = this.#bestOf(name, d, neighbour);
        d.candidates.delete(neighbour);
        if (viaLost < other.estimateMs) this.#startHold(name, d, viaLost, now);
        d.version++;
      }
      d.lastActive = Math.max(d.lastActive, now);
      // Report the change and, for destinations in use, look for a new route right away.
      if (d.subscribers.size > 0 || now - d.lastWanted < this.#subTtl) this.#dirty.add(name);
    }
    this.#outbox.delete(neighbour);
  }

  /**
   * `neighbour` just sent us a frame for `destination` (we relay it), so it uses us as next
   * hop: it will get our estimate for that destination when it changes.
   */
  noteUpstream(neighbour: string, destination: string, now: number): void {
    // Frames for us end here: there is nothing to relay and no route of ours to report.
    if (neighbour === this.self || destination === neighbour || destination === this.self) return;
    if (this.#full(destination)) return;
    const d = this.#dest(destination, now);
    // A relay that just started carrying this destination (often only because an upstream
    // node explored through it) waits an ask interval before asking around: most such paths
    // carry a frame or two and are dropped again.
    if (now - d.relayedAt >= this.#subTtl) {
      d.nextAskAt = Math.max(d.nextAskAt, now + this.#askInterval);
    }
    d.relayedAt = now;
    if (this.#subscribe(d, neighbour, now + this.#subTtl)) this.#dirty.add(destination);
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
    if (destination === this.self) return { kind: "local" };
    const d = this.#dest(destination, now);
    const discover = options.discover ?? true;
    const firstUse = discover && d.lastWanted === -Infinity;
    if (discover) d.lastWanted = now;
    // Every frame of every flow comes through here: the greedy case neither sorts nor builds
    // a list; the ranking is built only when exploring.
    const exclude = options.exclude;
    let pick = NONE;
    let finite = 0;
    if (destination !== exclude) {
      pick = this.#q(destination, d, destination);
      if (pick !== NONE) finite++;
    }
    for (const y of d.candidates.keys()) {
      if (y === exclude || y === destination) continue;
      const e = this.#q(destination, d, y);
      if (e === NONE) continue;
      finite++;
      if (
        e.estimateMs < pick.estimateMs || (e.estimateMs === pick.estimateMs && e.hops < pick.hops)
      ) {
        pick = e;
      }
    }
    if (finite === 0) {
      if (discover) this.#startDiscovery(destination, d, now);
      return { kind: "no-route", discovering: d.discovery !== null };
    }
    // A route learnt on the side (from answering or forwarding someone else's query) is one
    // neighbour's view: on first use, ask another peer at once rather than after the first ask
    // interval, so that the choice is made between them.
    if (firstUse) {
      d.nextAskAt = now;
      d.firstAsk = true;
      this.#dirty.add(destination);
    }
    d.decisions++;
    this.#stats.decisions++;
    let explored = false;
    if (finite > 1 && this.#cap > 0 && this.#random() < this.#cap) {
      // Deterministic cap: explorations never exceed cap × decisions for a destination.
      if (d.explorations + 1 <= this.#cap * d.decisions) {
        const ranked = this.#ranked(destination, d, exclude);
        const limit = ranked[0].estimateMs * this.#slack;
        let stalest: RouteEntry | null = null;
        let stalestAt = Infinity;
        for (let i = 1; i < ranked.length; i++) {
          const e = ranked[i];
          if (e.estimateMs > limit) break;
          const c = d.candidates.get(e.nextHop);
          const at = c ? Math.max(c.updatedAt, c.triedAt) : now;
          if (at < stalestAt) {
            stalestAt = at;
            stalest = e;
          }
        }
        if (stalest) {
          const c = d.candidates.get(stalest.nextHop);
          if (c) c.triedAt = now;
          pick = stalest;
          explored = true;
          d.explorations++;
          this.#stats.explorations++;
        }
      }
    }
    return {
      kind: "next-hop",
      nextHop: pick.nextHop,
      estimateMs: pick.estimateMs,
      hops: pick.hops,
      explored,
    };
  }

  /** The greedy best route to `destination` (no exploration, no side effects), or null. */
  best(destination: string, options: { exclude?: string } = {}): RouteEntry | null {
    if (destination === this.self) return { nextHop: this.self, estimateMs: 0, hops: 0 };
    const d = this.#dests.get(destination);
    const e = this.#bestOf(destination, d, options.exclude);
    return Number.isFinite(e.estimateMs) ? e : null;
  }

  /** Estimated delivery time to `destination` through `nextHop` in ms (Infinity if none). */
  estimateVia(destination: string, nextHop: string): number {
    return this.#q(destination, this.#dests.get(destination), nextHop).estimateMs;
  }

  /** Every finite candidate for `destination`, best first. */
  candidates(destination: string, options: { exclude?: string } = {}): RouteEntry[] {
    const d = this.#dests.get(destination);
    return d ? this.#ranked(destination, d, options.exclude) : this.#directOnly(destination);
  }

  // ---- neighbour messages -----------------------------------------------------------------

  /**
   * Handles a parsed message from the neighbour `from` (see `parseRouteMessage`). Messages from
   * nodes that are not current neighbours are ignored: estimates are only meaningful per tether.
   */
  receive(from: string, message: RouteMessage, now: number): void {
    const link = this.#links.get(from);
    if (!link || !link.up || from === this.self) return;
    if (message.kind === "report") this.#onReport(from, message, now);
    else this.#onQuery(from, message, now);
  }

  /**
   * Advances timers (discovery retries, refreshes, expiries) and returns the messages to send
   * now, reports batched per neighbour. Call after events and every ~100–250 ms.
   */
  poll(now: number): OutboundRouteMessage[] {
    // A full sweep (refreshes, expiries, link-cost changes) runs at most once per interval; in
    // between only destinations touched by an event are looked at, so polling stays cheap.
    const sweep = now - this.#lastSweep >= SWEEP_INTERVAL_MS;
    const names = sweep ? [...this.#dests.keys()] : [...this.#dirty];
    this.#dirty.clear();
    for (const name of names) {
      const d = this.#dests.get(name);
      if (!d) continue;
      if (d.feasibleMs !== Infinity) {
        if (now >= d.holdUntil) {
          d.feasibleMs = Infinity;
          d.version++;
        } else this.#dirty.add(name); // looked at again at the next poll, to end the hold
      }
      if (d.subscribers.size === 0 && d.discovery === null && now - d.lastWanted >= this.#subTtl) {
        // Nobody uses it and nobody routes through us for it: only its expiry may be due. Most
        // destinations a node knows are like this (it forwarded a query once), so skipping
        // them keeps a sweep proportional to the routes the node actually carries.
        // A destination we only forwarded a query for, and learnt nothing about, goes soon.
        const ttl = d.candidates.size === 0 && d.lastWanted === -Infinity
          ? this.#queryTimeout * 4
          : this.#idle;
        if (sweep && now - Math.max(d.lastActive, d.lastWanted) > ttl) this.#dests.delete(name);
        continue;
      }
      this.#pollDiscovery(name, d, now);
      for (const [to, sub] of d.subscribers) {
        if (sub.expires <= now) {
          d.subscribers.delete(to);
          continue;
        }
        const dueRefresh = Number.isFinite(sub.sentMs) && now - sub.sentAt >= this.#refresh;
        const stale = sub.version !== d.version || sub.linkVersion !== this.#linkVersion;
        if (!stale && !dueRefresh) continue;
        if (!sweep && !stale) continue;
        if (!this.#maybeReport(name, d, to, sub, now, dueRefresh)) this.#dirty.add(name);
      }
      if (d.discovery !== null) this.#dirty.add(name);
      if (
        sweep && d.subscribers.size === 0 && d.discovery === null &&
        now - Math.max(d.lastActive, d.lastWanted) > this.#idle
      ) {
        this.#dests.delete(name);
        this.#dirty.delete(name);
      }
    }
    if (sweep) {
      this.#lastSweep = now;
      for (const [key, expires] of this.#seenQueries) {
        if (expires <= now) this.#seenQueries.delete(key);
      }
    }
    const out: OutboundRouteMessage[] = this.#queries.splice(0);
    for (const [to, estimates] of this.#outbox) {
      for (let i = 0; i < estimates.length; i += MAX_ESTIMATES_PER_REPORT) {
        const report: RouteReport = {
          kind: "report",
          estimates: estimates.slice(i, i + MAX_ESTIMATES_PER_REPORT),
        };
        out.push({ to, message: report });
        this.#stats.reportsSent++;
      }
      this.#stats.estimatesSent += estimates.length;
    }
    this.#outbox.clear();
    return out;
  }

  /** What the agent knows, per destination, for status output. */
  snapshot(): RouteSnapshot[] {
    return [...this.#dests].map(([name, d]) => ({
      destination: name,
      best: this.best(name),
      candidates: this.#ranked(name, d, undefined),
      discovering: d.discovery !== null,
      subscribers: [...d.subscribers.keys()],
    }));
  }

  // ---- internals --------------------------------------------------------------------------

  /** True when `name` has no state yet and there is no room for more. */
  #full(name: string): boolean {
    return this.#dests.size >= this.#maxDests && !this.#dests.has(name);
  }

  #dest(name: string, now: number): Destination {
    let d = this.#dests.get(name);
    if (!d) {
      d = {
        candidates: new Map(),
        subscribers: new Map(),
        version: 0,
        decisions: 0,
        explorations: 0,
        lastWanted: -Infinity,
        lastActive: now,
        discovery: null,
        retryAfter: -Infinity,
        routedAt: -Infinity,
        relayedAt: -Infinity,
        nextAskAt: -Infinity,
        askEveryMs: this.#askInterval,
        firstAsk: false,
        askedBestMs: Infinity,
        asked: null,
        feasibleMs: Infinity,
        holdUntil: -Infinity,
      };
      this.#dests.set(name, d);
    }
    return d;
  }

  #touchDirect(neighbour: string, now: number): void {
    const d = this.#dests.get(neighbour);
    if (d) {
      d.version++;
      d.lastActive = now;
      this.#dirty.add(neighbour);
    }
  }

  #cost(neighbour: string): number {
    const l = this.#links.get(neighbour);
    return l && l.up ? linkCost(l) : Infinity;
  }

  #q(name: string, d: Destination | undefined, neighbour: string): RouteEntry {
    const cost = this.#cost(neighbour);
    if (!Number.isFinite(cost)) return NONE;
    if (neighbour === name) return { nextHop: neighbour, estimateMs: cost, hops: 1 };
    const c = d?.candidates.get(neighbour);
    if (!c || !Number.isFinite(c.remainingMs) || c.hops + 1 > this.#hopLimit) return NONE;
    if (c.remainingMs >= d!.feasibleMs) return NONE; // holding down: may route through us
    return { nextHop: neighbour, estimateMs: cost + c.remainingMs, hops: c.hops + 1 };
  }

  #directOnly(name: string): RouteEntry[] {
    const e = this.#q(name, undefined, name);
    return Number.isFinite(e.estimateMs) ? [e] : [];
  }

  #ranked(name: string, d: Destination, exclude: string | undefined): RouteEntry[] {
    const out: RouteEntry[] = [];
    if (name !== exclude) {
      const direct = this.#q(name, d, name);
      if (Number.isFinite(direct.estimateMs)) out.push(direct);
    }
    for (const y of d.candidates.keys()) {
      if (y === exclude || y === name) continue;
      const e = this.#q(name, d, y);
      if (Number.isFinite(e.estimateMs)) out.push(e);
    }
    return out.sort((a, b) => a.estimateMs - b.estimateMs || a.hops - b.hops);
  }

  #bestOf(name: string, d: Destination | undefined, exclude: string | undefined): RouteEntry {
    let best = NONE;
    if (name !== exclude) best = this.#q(name, d, name);
    if (d) {
      for (const y of d.candidates.keys()) {
        if (y === exclude || y === name) continue;
        const e = this.#q(name, d, y);
        if (
          e.estimateMs < best.estimateMs ||
          (e.estimateMs === best.estimateMs && e.hops < best.hops)
        ) best = e;
      }
    }
    return best;
  }

  /** Returns true when the subscription is new. */
  #subscribe(d: Destination, neighbour: string, expires: number): boolean {
    const sub = d.subscribers.get(neighbour);
    if (sub) {
      if (expires > sub.expires) sub.expires = expires;
      return false;
    }
    d.subscribers.set(neighbour, {
      expires,
      sentMs: Infinity,
      sentHops: 0,
      sentAt: -Infinity,
      version: -1,
      linkVersion: -1,
    });
    return true;
  }

  #maybeReport(
    name: string,
    d: Destination,
    to: string,
    sub: Subscription,
    now: number,
    dueRefresh: boolean,
  ): boolean {
    // Poisoned reverse: never offer `to` a route that goes back through `to`.
    const v = this.#bestOf(name, d, to);
    const finiteNow = Number.isFinite(v.estimateMs);
    const finiteBefore = Number.isFinite(sub.sentMs);
    // A neighbour that just started routing through us hears our value even if it is "no
    // route": otherwise it would keep a stale finite estimate for us forever.
    let send = sub.sentAt === -Infinity;
    if (finiteNow !== finiteBefore) send = true;
    else if (finiteNow) {
      const moved = Math.abs(v.estimateMs - sub.sentMs) > Math.max(1, this.#change * sub.sentMs) ||
        v.hops !== sub.sentHops;
      if (dueRefresh) send = true;
      else if (moved) {
        if (now - sub.sentAt < this.#minInterval) return false; // postponed to a later poll
        send = true;
      }
    }
    sub.version = d.version;
    sub.linkVersion = this.#linkVersion;
    if (!send) return true;
    sub.sentMs = v.estimateMs;
    sub.sentHops = v.hops;
    sub.sentAt = now;
    this.#queueEstimate(to, { destination: name, estimateMs: v.estimateMs, hops: v.hops });
    return true;
  }

  #queueEstimate(to: string, e: RouteEstimate): void {
    let list = this.#outbox.get(to);
    if (!list) this.#outbox.set(to, list = []);
    const i = list.findIndex((x) => x.destination === e.destination);
    if (i >= 0) list[i] = e;
    else list.push(e);
  }

  #onReport(from: string, report: RouteReport, now: number): void {
    for (const e of report.estimates) {
      if (e.destination === this.self) continue;
      const d = this.#dests.get(e.destination) ??
        (Number.isFinite(e.estimateMs) && !this.#full(e.destination)
          ? this.#dest(e.destination, now)
          : undefined);
      if (!d) continue;
      d.lastActive = now;
      const c = d.candidates.get(from);
      if (!Number.isFinite(e.estimateMs) || e.hops + 1 > this.#hopLimit) {
        if (c && Number.isFinite(c.remainingMs)) {
          // Losing the route in use starts a hold-down. A finite increase does not: the next
          // hop still has a route, and holding would cut every upstream node off for a while.
          const before = this.#bestOf(e.destination, d, undefined);
          if (before.nextHop === from) this.#startHold(e.destination, d, before.estimateMs, now);
          c.remainingMs = Infinity;
          c.updatedAt = now;
          d.version++;
          this.#dirty.add(e.destination);
        }
        continue;
      }
      if (c) {
        // Improvements are smoothed; bad news is taken at once, so that a route that broke
        // (or loops and counts up) is abandoned quickly.
        c.remainingMs = Number.isFinite(c.remainingMs) && e.estimateMs < c.remainingMs
          ? c.remainingMs + this.#eta * (e.estimateMs - c.remainingMs)
          : e.estimateMs;
        c.hops = e.hops;
        c.updatedAt = now;
      } else {
        d.candidates.set(from, {
          remainingMs: e.estimateMs,
          hops: e.hops,
          updatedAt: now,
          triedAt: -Infinity,
        });
        this.#trimCandidates(e.destination, d);
      }
      d.version++;
      this.#dirty.add(e.destination);
    }
  }

  /** Starts (or extends) a hold-down with our estimate before the loss as the bound. */
  #startHold(name: string, d: Destination, beforeMs: number, now: number): void {
    if (this.#holdMs <= 0 || !Number.isFinite(beforeMs)) return;
    d.feasibleMs = Math.min(d.feasibleMs, beforeMs);
    d.holdUntil = now + this.#holdMs;
    d.version++;
    this.#dirty.add(name);
  }

  #trimCandidates(name: string, d: Destination): void {
    if (d.candidates.size <= this.#maxCandidates) return;
    let worst = "";
    let worstMs = -1;
    for (const y of d.candidates.keys()) {
      const ms = this.#q(name, d, y).estimateMs;
      if (ms > worstMs) {
        worstMs = ms;
        worst = y;
      }
    }
    d.candidates.delete(worst);
  }

  #onQuery(from: string, q: RouteQuery, now: number): void {
    const key = `${q.origin}\u0000${q.queryId}`;
    if (this.#seenQueries.has(key) || q.origin === this.self) return;
    if (this.#full(q.destination) || this.#seenQueries.size >= this.#maxDests) return;
    this.#seenQueries.set(key, now + this.#queryTimeout * 4);
    const d = this.#dest(q.destination, now);
    // The asker hears from us when we know (now or once the forwarded query is answered).
    const fresh = this.#subscribe(d, from, now + this.#queryTimeout * 3);
    const sub = d.subscribers.get(from)!;
    // An asker has nothing stale to correct: it hears from us only once we know something.
    if (fresh) sub.sentAt = now;
    if (q.destination === this.self) {
      sub.sentMs = 0;
      sub.sentAt = now;
      this.#queueEstimate(from, { destination: this.self, estimateMs: 0, hops: 0 });
      return;
    }
    const visited = new Set(q.path);
    visited.add(from);
    let best = NONE;
    if (!visited.has(q.destination)) best = this.#q(q.destination, d, q.destination);
    for (const y of d.candidates.keys()) {
      if (visited.has(y)) continue;
      const e = this.#q(q.destination, d, y);
      if (e.estimateMs < best.estimateMs) best = e;
    }
    if (Number.isFinite(best.estimateMs)) {
      // Answer even if this subscriber heard the same value before: it asked because it forgot.
      sub.sentMs = best.estimateMs;
      sub.sentHops = best.hops;
      sub.sentAt = now;
      sub.version = d.version;
      sub.linkVersion = this.#linkVersion;
      this.#queueEstimate(from, {
        destination: q.destination,
        estimateMs: best.estimateMs,
        hops: best.hops,
      });
      return;
    }
    if (q.ttl <= 1) return;
    // Greedy by prior gets stuck in local minima (a cluster whose tethers all point away from
    // the destination). After ESCAPE_AFTER hops without getting closer, take the longest
    // unvisited tether once, then resume greedy search from where it lands.
    const prior = this.#heuristic(this.self, q.destination);
    let closestMs = q.closestMs;
    let stall = q.stall + 1;
    if (prior < closestMs) {
      closestMs = prior;
      stall = 0;
    }
    const escape = stall >= ESCAPE_AFTER;
    const next = escape
      ? this.#longestTether(visited)
      : this.#queryTargets(q.destination, d, visited, 1)[0];
    if (next === undefined) return;
    if (escape) {
      closestMs = Infinity;
      stall = 0;
    }
    const path = q.path.length < MAX_QUERY_PATH ? [...q.path, this.self] : q.path;
    this.#queries.push({ to: next, message: { ...q, ttl: q.ttl - 1, path, closestMs, stall } });
    this.#stats.queriesSent++;
  }

  #longestTether(skip: Set<string>): string | undefined {
    let best: string | undefined;
    let bestCost = -1;
    for (const [n, l] of this.#links) {
      if (!l.up || skip.has(n)) continue;
      const c = this.#cost(n);
      if (c > bestCost) {
        bestCost = c;
        best = n;
      }
    }
    return best;
  }

  /** Neighbours ordered by how promising they look for `name`: known Q first, then prior. */
  #queryTargets(name: string, d: Destination, skip: Set<string>, count: number): string[] {
    const scored: { n: string; score: number }[] = [];
    for (const [n, l] of this.#links) {
      if (!l.up || skip.has(n)) continue;
      const known = this.#q(name, d, n).estimateMs;
      const score = Number.isFinite(known)
        ? known
        : this.#queryCostWeight * this.#cost(n) + this.#heuristic(n, name);
      scored.push({ n, score });
    }
    scored.sort((a, b) => a.score - b.score);
    return scored.slice(0, count).map((s) => s.n);
  }

  #startDiscovery(name: string, d: Destination, now: number): void {
    if (d.discovery !== null || now < d.retryAfter) return;
    this.#stats.discoveriesStarted++;
    d.discovery = { attempt: 0, deadline: now + this.#queryTimeout };
    this.#dirty.add(name);
    this.#sendQueries(name, d, 0);
  }

  #sendQueries(name: string, d: Destination, attempt: number): void {
    const targets = this.#queryTargets(name, d, new Set([this.self]), this.#fanout[attempt]);
    for (const to of targets) this.#query(to, name, this.#queryTtl);
  }

  /**
   * Candidate exploration without risking data: once per ask interval a node that sends or
   * relays towards `name` asks one tether peer that is not yet a candidate (most promising
   * first) with a short query; only a node that has a route answers. Costs at most `askTtl`
   * messages per destination in use per ask interval.
   */
  #askOneNeighbour(name: string, d: Destination, now: number): void {
    const best = this.#bestOf(name, d, undefined).estimateMs;
    d.askEveryMs = best < d.askedBestMs * (1 - this.#change)
      ? this.#askInterval
      : Math.min(this.#askMaxInterval, d.askEveryMs * 2);
    d.askedBestMs = best;
    d.nextAskAt = now + d.askEveryMs;
    // Peers that route through us for `name` cannot offer a route that avoids us.
    // A candidate that last reported "no route" is worth asking again: its answer is stale,
    // and a peer's subscription to it ended long ago, so it will not tell us by itself.
    const base = [this.self, name, ...d.subscribers.keys()];
    for (const y of d.candidates.keys()) {
      if (Number.isFinite(this.#q(name, d, y).estimateMs)) base.push(y);
    }
    const asked = d.asked ??= new Set();
    let to = this.#queryTargets(name, d, new Set([...base, ...asked]), 1)[0];
    if (to === undefined && asked.size > 0) {
      asked.clear(); // every peer was asked: start a new round, answers may have changed
      to = this.#queryTargets(name, d, new Set(base), 1)[0];
    }
    if (to === undefined) return;
    asked.add(to);
    this.#query(to, name, this.#askTtl);
  }

  /**
   * A tether that just came up (new, or back after a failure) is asked at once about the
   * destinations this node sends to. Otherwise a route through it would be learnt only at the
   * next ask, up to `askMaxIntervalMs` later, and a failover would first have to discover it.
   */
  #greet(neighbour: string, now: number): void {
    const inUse: { name: string; at: number }[] = [];
    for (const [name, d] of this.#dests) {
      // Peers that route through us for `name` cannot offer a route that avoids us.
      if (name === neighbour || d.subscribers.has(neighbour)) continue;
      if (now - d.lastWanted < this.#subTtl) inUse.push({ name, at: d.lastWanted });
    }
    inUse.sort((a, b) => b.at - a.at);
    for (const { name } of inUse.slice(0, GREET_LIMIT)) {
      this.#query(neighbour, name, this.#askTtl);
      this.#dests.get(name)!.asked?.add(neighbour);
    }
  }

  /** Queues a query for `name` from this node to the neighbour `to`. */
  #query(to: string, name: string, ttl: number): void {
    const message: RouteQuery = {
      kind: "query",
      // One id per branch: branches that cross must not suppress each other as duplicates.
      queryId: this.#nextQueryId++ >>> 0,
      origin: this.self,
      destination: name,
      ttl,
      path: [this.self],
      closestMs: this.#heuristic(this.self, name),
      stall: 0,
    };
    this.#queries.push({ to, message });
    this.#stats.queriesSent++;
  }

  #takeAskToken(now: number): boolean {
    const elapsed = Number.isFinite(this.#askTokensAt) ? Math.max(0, now - this.#askTokensAt) : 0;
    const burst = Math.max(ASK_BURST, this.#askBudget);
    this.#askTokens = Math.min(burst, this.#askTokens + (elapsed / 1000) * this.#askBudget);
    this.#askTokensAt = now;
    if (this.#askTokens < 1) return false;
    this.#askTokens--;
    return true;
  }

  #pollDiscovery(name: string, d: Destination, now: number): void {
    const bestMs = this.#bestOf(name, d, undefined).estimateMs;
    const hasRoute = Number.isFinite(bestMs);
    if (hasRoute) d.routedAt = now;
    if (bestMs > d.askedBestMs * (1 + 2 * this.#change)) {
      // The route got clearly worse (a relay failed, a link is loaded): ask again at once and
      // at the short interval, as there may be something better now.
      d.askedBestMs = Infinity;
      d.askEveryMs = this.#askInterval;
      d.nextAskAt = Math.min(d.nextAskAt, now);
    }
    if (d.discovery === null) {
      const inUse = now - d.lastWanted < this.#subTtl;
      const relaying = d.subscribers.size > 0 && now - d.relayedAt < this.#subTtl;
      // Self-healing: a destination in use that lost its last route is looked for again, by
      // its sources and also by relays that carry it (repair next to the break is faster).
      const repair = relaying && now - d.routedAt < this.#subTtl;
      if (!hasRoute && (inUse || repair)) this.#startDiscovery(name, d, now);
      else if (hasRoute && (inUse || relaying) && now >= d.nextAskAt) {
        // The first-use ask happens once per destination a node itself sends to, so it stays
        // outside the ask budget.
        if (d.firstAsk || this.#takeAskToken(now)) this.#askOneNeighbour(name, d, now);
        else d.nextAskAt = now + this.#random() * this.#askInterval;
        d.firstAsk = false;
      }
      return;
    }
    if (hasRoute) {
      d.discovery = null;
      d.retryAfter = -Infinity;
      return;
    }
    if (now < d.discovery.deadline) return;
    const attempt = d.discovery.attempt + 1;
    if (attempt >= this.#fanout.length) {
      d.discovery = null;
      d.retryAfter = now + this.#backoff;
      this.#stats.discoveriesFailed++;
      return;
    }
    d.discovery = { attempt, deadline: now + this.#queryTimeout };
    this.#sendQueries(name, d, attempt);
  }
}
