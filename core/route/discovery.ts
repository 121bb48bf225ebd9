/**
 * Discovery and upkeep of one destination's route: a destination in use without a route is
 * looked for by queries sent through a growing number of neighbours (`queryFanout`, one attempt
 * per `queryTimeoutMs`), then discovery pauses (`discoveryBackoffMs`). A destination with a route
 * is checked for better ones by asking (asking.ts). Relays that carry a destination repair it
 * too, since repair next to the break is faster than from the source.
 *
 * @module
 */

import { askOneNeighbour } from "./asking.ts";
import { bestRoute } from "./best_route.ts";
import type { Destination } from "./destination.ts";
import { queryTargets, sendQuery } from "./querying.ts";
import type { AgentState } from "./state.ts";

/** Starts discovery for `name` unless it is under way or backing off. */
export function startDiscovery(s: AgentState, name: string, d: Destination, now: number): void {
  if (d.discovery !== null || now < d.retryAfter) return;
  s.stats.discoveriesStarted++;
  d.discovery = { attempt: 0, deadline: now + s.tuning.queryTimeoutMs };
  s.dirty.add(name);
  sendQueries(s, name, d, 0);
}

function sendQueries(s: AgentState, name: string, d: Destination, attempt: number): void {
  const targets = queryTargets(s, name, d, new Set([s.self]), s.tuning.queryFanout[attempt]);
  for (const to of targets) sendQuery(s, to, name, s.tuning.queryTtl);
}

/** Advances discovery and asking for `name` at a poll. */
export function pollDiscovery(s: AgentState, name: string, d: Destination, now: number): void {
  const t = s.tuning;
  const bestMs = bestRoute(s, name, d, undefined).best.estimateMs;
  const hasRoute = Number.isFinite(bestMs);
  if (hasRoute) d.routedAt = now;
  if (bestMs > d.askedBestMs * (1 + 2 * t.reportChange)) {
    // The route got clearly worse (a relay failed, a link is loaded): ask again at once and
    // at the short interval, as there may be something better now.
    d.askedBestMs = Infinity;
    d.askEveryMs = t.askIntervalMs;
    d.nextAskAt = Math.min(d.nextAskAt, now);
  }
  if (d.discovery === null) {
    const inUse = now - d.lastWanted < t.subscriptionTtlMs;
    const relaying = d.subscribers.size > 0 && now - d.relayedAt < t.subscriptionTtlMs;
    // Self-healing: a destination in use that lost its last route is looked for again, by
    // its sources and also by relays that carry it (repair next to the break is faster).
    const repair = relaying && now - d.routedAt < t.subscriptionTtlMs;
    if (!hasRoute && (inUse || repair)) startDiscovery(s, name, d, now);
    else if (hasRoute && (inUse || relaying) && now >= d.nextAskAt) {
      // The first-use ask happens once per destination a node itself sends to, so it stays
      // outside the ask budget.
      if (d.firstAsk || s.askBudget.take(now)) askOneNeighbour(s, name, d, now);
      else d.nextAskAt = now + s.random() * t.askIntervalMs;
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
  if (attempt >= t.queryFanout.length) {
    d.discovery = null;
    d.retryAfter = now + t.discoveryBackoffMs;
    s.stats.discoveriesFailed++;
    return;
  }
  d.discovery = { attempt, deadline: now + t.queryTimeoutMs };
  sendQueries(s, name, d, attempt);
}
