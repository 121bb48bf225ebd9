/**
 * The state one `RouteAgent` shares between its parts. It is a plain record passed to functions
 * (not spread over private fields of one class) so that each concept of the agent can live in
 * its own module and be tested on its own; the class is the only public way in.
 *
 * @module
 */

import { AskBudget } from "./asking.ts";
import type { Destination } from "./destination.ts";
import { RouteError } from "./errors.ts";
import type { OutboundRouteMessage, RouteEstimate } from "./messages.ts";
import { Neighbours } from "./neighbours.ts";
import { resolveTuning, type RouteAgentOptions, type Tuning } from "./options.ts";
import type { Random } from "./prng.ts";

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

/** Everything one agent knows and has queued; see the module documentation. */
export interface AgentState {
  /** This node's id. */
  readonly self: string;
  /** Uniform [0, 1) source: exploration and the spread of asks refused by the budget. */
  readonly random: Random;
  readonly tuning: Tuning;
  readonly links: Neighbours;
  readonly dests: Map<string, Destination>;
  /** Queries seen (origin and id), until when they count as duplicates. */
  readonly seenQueries: Map<string, number>;
  /** Estimates to send, per neighbour, batched into reports at the next poll. */
  readonly outbox: Map<string, RouteEstimate[]>;
  /** Queries to send at the next poll, in the order they were made. */
  readonly queries: OutboundRouteMessage[];
  /** Destinations to look at in the next poll even if it is not a full sweep. */
  readonly dirty: Set<string>;
  readonly askBudget: AskBudget;
  nextQueryId: number;
  lastSweep: number;
  readonly stats: RouteAgentStats;
}

/** Fresh state for an agent; throws {@link RouteError} `options` on out-of-range tuning. */
export function newAgentState(options: RouteAgentOptions): AgentState {
  if (!options.self) throw new RouteError("options", "self must be a non-empty id");
  const tuning = resolveTuning(options);
  return {
    self: options.self,
    random: options.random,
    tuning,
    links: new Neighbours(tuning.linkSmoothing, tuning.reportChange),
    dests: new Map(),
    seenQueries: new Map(),
    outbox: new Map(),
    queries: [],
    dirty: new Set(),
    askBudget: new AskBudget(tuning.askBudgetPerSec),
    nextQueryId: 1,
    lastSweep: -Infinity,
    stats: {
      queriesSent: 0,
      reportsSent: 0,
      estimatesSent: 0,
      decisions: 0,
      explorations: 0,
      discoveriesStarted: 0,
      discoveriesFailed: 0,
    },
  };
}
