/**
 * Reports to neighbours: a subscriber (a neighbour that routes through us, or asked us) hears
 * our estimate only when it moved noticeably, turned finite or infinite, or a slow refresh is
 * due, at most once per `reportMinIntervalMs` for a finite change, and batched per neighbour.
 * This sparseness is what keeps control load flat as the realm grows.
 *
 * @module
 */

import { bestRoute, excluding } from "./best_route.ts";
import type { Destination, Subscription } from "./destination.ts";
import {
  MAX_ESTIMATES_PER_REPORT,
  type OutboundRouteMessage,
  type RouteEstimate,
  type RouteReport,
} from "./messages.ts";
import type { AgentState } from "./state.ts";

/**
 * Checks every subscriber of `name` at a poll: expired ones are dropped, stale ones evaluated.
 * Between sweeps only a changed destination or link is evaluated, not a due refresh.
 */
export function reportToSubscribers(
  s: AgentState,
  name: string,
  d: Destination,
  now: number,
  sweep: boolean,
): void {
  for (const [to, sub] of d.subscribers) {
    if (sub.expires <= now) {
      d.subscribers.delete(to);
      continue;
    }
    const dueRefresh = Number.isFinite(sub.sentMs) && now - sub.sentAt >= s.tuning.reportRefreshMs;
    const stale = sub.version !== d.version || sub.linkVersion !== s.links.version;
    if (!stale && !dueRefresh) continue;
    if (!sweep && !stale) continue;
    if (!maybeReport(s, name, d, to, sub, now, dueRefresh)) s.dirty.add(name);
  }
}

/**
 * Queues our estimate for `name` to the subscriber `to` if it is worth sending. Returns false
 * when a report was postponed by the minimum interval (so the caller looks again soon).
 */
export function maybeReport(
  s: AgentState,
  name: string,
  d: Destination,
  to: string,
  sub: Subscription,
  now: number,
  dueRefresh: boolean,
): boolean {
  // Poisoned reverse: never offer `to` a route that goes back through `to`.
  const v = bestRoute(s, name, d, excluding(to)).best;
  const finiteNow = Number.isFinite(v.estimateMs);
  const finiteBefore = Number.isFinite(sub.sentMs);
  // A neighbour that just started routing through us hears our value even if it is "no
  // route": otherwise it would keep a stale finite estimate for us forever.
  let send = sub.sentAt === -Infinity;
  if (finiteNow !== finiteBefore) send = true;
  else if (finiteNow) {
    const moved =
      Math.abs(v.estimateMs - sub.sentMs) > Math.max(1, s.tuning.reportChange * sub.sentMs) ||
      v.hops !== sub.sentHops;
    if (dueRefresh) send = true;
    else if (moved) {
      if (now - sub.sentAt < s.tuning.reportMinIntervalMs) return false; // postponed
      send = true;
    }
  }
  sub.version = d.version;
  sub.linkVersion = s.links.version;
  if (!send) return true;
  sub.sentMs = v.estimateMs;
  sub.sentHops = v.hops;
  sub.sentAt = now;
  queueEstimate(s, to, { destination: name, estimateMs: v.estimateMs, hops: v.hops });
  return true;
}

/** Queues an estimate for `to`; a newer one for the same destination replaces the older. */
export function queueEstimate(s: AgentState, to: string, e: RouteEstimate): void {
  let list = s.outbox.get(to);
  if (!list) s.outbox.set(to, list = []);
  const i = list.findIndex((x) => x.destination === e.destination);
  if (i >= 0) list[i] = e;
  else list.push(e);
}

/** Moves the queued estimates into `out` as reports, at most the wire limit per report. */
export function flushReports(s: AgentState, out: OutboundRouteMessage[]): void {
  for (const [to, estimates] of s.outbox) {
    for (let i = 0; i < estimates.length; i += MAX_ESTIMATES_PER_REPORT) {
      const report: RouteReport = {
        kind: "report",
        estimates: estimates.slice(i, i + MAX_ESTIMATES_PER_REPORT),
      };
      out.push({ to, message: report });
      s.stats.reportsSent++;
    }
    s.stats.estimatesSent += estimates.length;
  }
  s.outbox.clear();
}
