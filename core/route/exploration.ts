/**
 * Exploration: now and then a frame goes to a non-greedy candidate, so that estimates of
 * routes not in use stay fresh. It is capped per destination (`explorationCap`), deterministically,
 * so a realm of many similar peers does not spend more than the cap exploring; only candidates
 * within `explorationSlack` of the best are tried, the stalest first.
 *
 * @module
 */

import { rankedRoutes, type Skip } from "./best_route.ts";
import type { Destination } from "./destination.ts";
import type { RouteEntry } from "./q_table.ts";
import type { AgentState } from "./state.ts";

/**
 * The route to explore instead of the greedy one for this decision, or null. `usable` is how
 * many routes the decision had; `d.decisions` must already count this decision. Draws from
 * `s.random` once when there is something to explore and a cap.
 */
export function explore(
  s: AgentState,
  name: string,
  d: Destination,
  skip: Skip,
  usable: number,
  now: number,
): RouteEntry | null {
  const cap = s.tuning.explorationCap;
  if (!(usable > 1 && cap > 0 && s.random() < cap)) return null;
  // Deterministic cap: explorations never exceed cap × decisions for a destination.
  if (!(d.explorations + 1 <= cap * d.decisions)) return null;
  const ranked = rankedRoutes(s, name, d, skip);
  // Estimates that overflowed to Infinity are usable but not ranked: nothing to explore then.
  if (ranked.length < 2) return null;
  const limit = ranked[0].estimateMs * s.tuning.explorationSlack;
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
  if (!stalest) return null;
  const c = d.candidates.get(stalest.nextHop);
  if (c) c.triedAt = now;
  d.explorations++;
  s.stats.explorations++;
  return stalest;
}
