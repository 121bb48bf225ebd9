/**
 * Q(d, y): the estimated delivery time to destination d through neighbour y, from the node's
 * own link cost and what y last reported. A direct tether to d is the candidate y = d with
 * R = 0. Estimates that could loop (too many hops, or not feasible during a hold-down) count as
 * no route here, so every selection built on this sees only usable routes.
 *
 * @module
 */

import type { Destination } from "./destination.ts";
import type { AgentState } from "./state.ts";

/** A route estimate through one next hop. */
export interface RouteEntry {
  nextHop: string;
  estimateMs: number;
  hops: number;
}

/** "No route": one shared value, so the hot path can test for it by identity. */
export const NONE: RouteEntry = { nextHop: "", estimateMs: Infinity, hops: 0 };

/** Q(name, neighbour) as a route entry, or {@link NONE}. `d` may be absent (direct only). */
export function qValue(
  s: AgentState,
  name: string,
  d: Destination | undefined,
  neighbour: string,
): RouteEntry {
  const cost = s.links.cost(neighbour);
  if (!Number.isFinite(cost)) return NONE;
  if (neighbour === name) return { nextHop: neighbour, estimateMs: cost, hops: 1 };
  const c = d?.candidates.get(neighbour);
  if (!c || !Number.isFinite(c.remainingMs) || c.hops + 1 > s.tuning.hopLimit) return NONE;
  if (c.remainingMs >= d!.feasibleMs) return NONE; // holding down: may route through us
  return { nextHop: neighbour, estimateMs: cost + c.remainingMs, hops: c.hops + 1 };
}
