/**
 * Learning from neighbours' reports: R(d, y) is smoothed towards what y reports, bad news is
 * taken at once, and losing the route in use starts a hold-down. A row keeps at most
 * `maxCandidates` neighbours, the worst dropped, so a dense realm costs bounded memory.
 *
 * @module
 */

import { bestRoute } from "./best_route.ts";
import { type Destination, destinationFor, isFull } from "./destination.ts";
import { startHold } from "./hold_down.ts";
import type { RouteReport } from "./messages.ts";
import { qValue } from "./q_table.ts";
import type { AgentState } from "./state.ts";

/** Applies a report from the neighbour `from` (already known to be up). */
export function learnReport(s: AgentState, from: string, report: RouteReport, now: number): void {
  for (const e of report.estimates) {
    if (e.destination === s.self) continue;
    // Only finite news about an unknown destination is worth state, and only if there is room.
    const d = s.dests.get(e.destination) ??
      (Number.isFinite(e.estimateMs) && !isFull(s, e.destination)
        ? destinationFor(s, e.destination, now)
        : undefined);
    if (!d) continue;
    d.lastActive = now;
    const c = d.candidates.get(from);
    if (!Number.isFinite(e.estimateMs) || e.hops + 1 > s.tuning.hopLimit) {
      if (c && Number.isFinite(c.remainingMs)) {
        // Losing the route in use starts a hold-down. A finite increase does not: the next
        // hop still has a route, and holding would cut every upstream node off for a while.
        const before = bestRoute(s, e.destination, d, undefined).best;
        if (before.nextHop === from) startHold(s, e.destination, d, before.estimateMs, now);
        c.remainingMs = Infinity;
        c.updatedAt = now;
        d.version++;
        s.dirty.add(e.destination);
      }
      continue;
    }
    if (c) {
      // Improvements are smoothed; bad news is taken at once, so that a route that broke
      // (or loops and counts up) is abandoned quickly.
      c.remainingMs = Number.isFinite(c.remainingMs) && e.estimateMs < c.remainingMs
        ? c.remainingMs + s.tuning.learningRate * (e.estimateMs - c.remainingMs)
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
      trimCandidates(s, e.destination, d);
    }
    d.version++;
    s.dirty.add(e.destination);
  }
}

/** Drops the worst candidate beyond `maxCandidates` (the first of equals, unusable ones first). */
export function trimCandidates(s: AgentState, name: string, d: Destination): void {
  if (d.candidates.size <= s.tuning.maxCandidates) return;
  let worst = "";
  let worstMs = -1;
  for (const y of d.candidates.keys()) {
    const ms = qValue(s, name, d, y).estimateMs;
    if (ms > worstMs) {
      worstMs = ms;
      worst = y;
    }
  }
  d.candidates.delete(worst);
}
