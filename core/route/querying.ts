/**
 * Where this node's own queries go and how they look. Every query (discovery, asking, greeting)
 * is built here, so ids and the prior the walk is steered by are the same for all of them.
 *
 * @module
 */

import type { Destination } from "./destination.ts";
import type { RouteQuery } from "./messages.ts";
import { qValue } from "./q_table.ts";
import type { AgentState } from "./state.ts";

/** Queues a query for `name` from this node to the neighbour `to`. */
export function sendQuery(s: AgentState, to: string, name: string, ttl: number): void {
  const message: RouteQuery = {
    kind: "query",
    // One id per branch: branches that cross must not suppress each other as duplicates.
    queryId: s.nextQueryId++ >>> 0,
    origin: s.self,
    destination: name,
    ttl,
    path: [s.self],
    closestMs: s.tuning.heuristic(s.self, name),
    stall: 0,
  };
  s.queries.push({ to, message });
  s.stats.queriesSent++;
}

/**
 * Up to `count` neighbours not in `skip`, most promising for `name` first: a known Q wins, else
 * the prior, with the tether's own cost weighted low so that a walk makes progress towards the
 * destination rather than inching along cheap tethers (`queryCostWeight`).
 */
export function queryTargets(
  s: AgentState,
  name: string,
  d: Destination,
  skip: Set<string>,
  count: number,
): string[] {
  const scored: { n: string; score: number }[] = [];
  for (const n of s.links.up()) {
    if (skip.has(n)) continue;
    const known = qValue(s, name, d, n).estimateMs;
    const score = Number.isFinite(known)
      ? known
      : s.tuning.queryCostWeight * s.links.cost(n) + s.tuning.heuristic(n, name);
    scored.push({ n, score });
  }
  scored.sort((a, b) => a.score - b.score);
  return scored.slice(0, count).map((t) => t.n);
}
