/**
 * The agent's tuning: the options a runtime may pass, their defaults, and their validation.
 * Resolved once at construction so that every part of the agent reads plain numbers and never
 * re-checks a range on the hot path.
 *
 * @module
 */

import { RouteError } from "./errors.ts";
import { MAX_QUERY_PATH } from "./messages.ts";
import type { Random } from "./prng.ts";

/** Tuning of a `RouteAgent`; every field but `self` and `random` has a default. */
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

/** Every option but `self` and `random`, defaulted and checked (see {@link resolveTuning}). */
export type Tuning = Readonly<Required<Omit<RouteAgentOptions, "self" | "random">>>;

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

/**
 * Applies the defaults and checks the ranges; throws {@link RouteError} `options` on the first
 * out-of-range value, in the order below (so the message names the same field as before).
 */
export function resolveTuning(options: RouteAgentOptions): Tuning {
  const hopLimit = Math.floor(positive(options.hopLimit, 16, "hopLimit"));
  if (hopLimit < 1 || hopLimit > MAX_QUERY_PATH) {
    throw new RouteError("options", `hopLimit must be in [1, ${MAX_QUERY_PATH}]`);
  }
  const learningRate = fraction(options.learningRate, 0.5, "learningRate");
  const linkSmoothing = fraction(options.linkSmoothing, 0.3, "linkSmoothing");
  const explorationCap = fraction(options.explorationCap, 0.05, "explorationCap");
  const explorationSlack = Math.max(1, positive(options.explorationSlack, 2, "explorationSlack"));
  const reportChange = positive(options.reportChange, 0.1, "reportChange");
  const reportMinIntervalMs = positive(options.reportMinIntervalMs, 250, "reportMinIntervalMs");
  const reportRefreshMs = positive(options.reportRefreshMs, 30_000, "reportRefreshMs");
  const subscriptionTtlMs = positive(options.subscriptionTtlMs, 30_000, "subscriptionTtlMs");
  const queryTimeoutMs = positive(options.queryTimeoutMs, 1_000, "queryTimeoutMs");
  const queryTtl = Math.min(
    MAX_QUERY_PATH,
    Math.floor(positive(options.queryTtl, hopLimit, "queryTtl")),
  );
  const queryFanout = (options.queryFanout ?? [2, 4, 8]).map((f) =>
    Math.max(1, Math.floor(positive(f, 1, "queryFanout")))
  );
  if (queryFanout.length === 0) throw new RouteError("options", "queryFanout is empty");
  const discoveryBackoffMs = positive(options.discoveryBackoffMs, 5_000, "discoveryBackoffMs");
  const askIntervalMs = positive(options.askIntervalMs, 15_000, "askIntervalMs");
  const askMaxIntervalMs = Math.max(
    askIntervalMs,
    positive(options.askMaxIntervalMs, 120_000, "askMaxIntervalMs"),
  );
  const askTtl = Math.min(
    queryTtl,
    Math.max(1, Math.floor(positive(options.askTtl, 3, "askTtl"))),
  );
  const maxCandidates = Math.max(1, Math.floor(positive(options.maxCandidates, 8, "max")));
  const maxDestinations = Math.max(
    1,
    Math.floor(positive(options.maxDestinations, 65_536, "max")),
  );
  const askBudgetPerSec = positive(options.askBudgetPerSec, 0.5, "askBudgetPerSec");
  const holdDownMs = positive(options.holdDownMs, 200, "holdDownMs");
  const idleDestinationMs = positive(options.idleDestinationMs, 120_000, "idleDestinationMs");
  const heuristic = options.heuristic ?? (() => 0);
  const queryCostWeight = positive(options.queryCostWeight, 0.1, "queryCostWeight");
  return {
    hopLimit,
    learningRate,
    linkSmoothing,
    explorationCap,
    explorationSlack,
    reportChange,
    reportMinIntervalMs,
    reportRefreshMs,
    subscriptionTtlMs,
    queryTimeoutMs,
    queryTtl,
    queryFanout,
    askTtl,
    askIntervalMs,
    askMaxIntervalMs,
    askBudgetPerSec,
    discoveryBackoffMs,
    holdDownMs,
    maxCandidates,
    maxDestinations,
    idleDestinationMs,
    heuristic,
    queryCostWeight,
  };
}
