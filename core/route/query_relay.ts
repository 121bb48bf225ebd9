/**
 * A neighbour's query: answered by the first node that has a finite estimate, otherwise
 * forwarded one hop towards the destination, so discovery is a bounded walk, not a flood.
 * Greedy steering by the prior gets stuck in local minima (a cluster whose tethers all point
 * away from the destination); after {@link ESCAPE_AFTER} hops without progress the walk takes
 * the longest unvisited tether once, then resumes greedy search from where it lands.
 *
 * @module
 */

import { bestRoute } from "./best_route.ts";
import { destinationFor, isFull, subscribe } from "./destination.ts";
import { MAX_QUERY_PATH, type RouteQuery } from "./messages.ts";
import { queryTargets } from "./querying.ts";
import { queueEstimate } from "./reports.ts";
import type { AgentState } from "./state.ts";

/** Hops without progress after which a discovery query jumps along the longest tether. */
export const ESCAPE_AFTER = 3;

/** Answers or forwards the query `q` from the neighbour `from` (already known to be up). */
export function onQuery(s: AgentState, from: string, q: RouteQuery, now: number): void {
  const t = s.tuning;
  const key = `${q.origin}\u0000${q.queryId}`;
  if (s.seenQueries.has(key) || q.origin === s.self) return;
  if (isFull(s, q.destination) || s.seenQueries.size >= t.maxDestinations) return;
  s.seenQueries.set(key, now + t.queryTimeoutMs * 4);
  const d = destinationFor(s, q.destination, now);
  // The asker hears from us when we know (now or once the forwarded query is answered).
  const fresh = subscribe(d, from, now + t.queryTimeoutMs * 3);
  const sub = d.subscribers.get(from)!;
  // An asker has nothing stale to correct: it hears from us only once we know something.
  if (fresh) sub.sentAt = now;
  if (q.destination === s.self) {
    sub.sentMs = 0;
    sub.sentAt = now;
    queueEstimate(s, from, { destination: s.self, estimateMs: 0, hops: 0 });
    return;
  }
  const visited = new Set(q.path);
  visited.add(from);
  // Equal estimates keep the first route walked here (no hop tie-break), as answers always did.
  const best = bestRoute(s, q.destination, d, (y) => visited.has(y), "first").best;
  if (Number.isFinite(best.estimateMs)) {
    // Answer even if this subscriber heard the same value before: it asked because it forgot.
    sub.sentMs = best.estimateMs;
    sub.sentHops = best.hops;
    sub.sentAt = now;
    sub.version = d.version;
    sub.linkVersion = s.links.version;
    queueEstimate(s, from, {
      destination: q.destination,
      estimateMs: best.estimateMs,
      hops: best.hops,
    });
    return;
  }
  if (q.ttl <= 1) return;
  const prior = t.heuristic(s.self, q.destination);
  let closestMs = q.closestMs;
  let stall = q.stall + 1;
  if (prior < closestMs) {
    closestMs = prior;
    stall = 0;
  }
  const escape = stall >= ESCAPE_AFTER;
  const next = escape
    ? longestTether(s, visited)
    : queryTargets(s, q.destination, d, visited, 1)[0];
  if (next === undefined) return;
  if (escape) {
    closestMs = Infinity;
    stall = 0;
  }
  const path = q.path.length < MAX_QUERY_PATH ? [...q.path, s.self] : q.path;
  s.queries.push({ to: next, message: { ...q, ttl: q.ttl - 1, path, closestMs, stall } });
  s.stats.queriesSent++;
}

/** The up tether with the highest cost not in `skip` (the first of equals). */
export function longestTether(s: AgentState, skip: Set<string>): string | undefined {
  let best: string | undefined;
  let bestCost = -1;
  for (const n of s.links.up()) {
    if (skip.has(n)) continue;
    const c = s.links.cost(n);
    if (c > bestCost) {
      bestCost = c;
      best = n;
    }
  }
  return best;
}
