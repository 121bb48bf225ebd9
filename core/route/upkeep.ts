/**
 * The periodic pass over destinations at each poll: hold-downs that end, discovery and asking
 * timers, reports due to subscribers, and forgetting destinations nobody uses. A full sweep
 * (refreshes, expiries, link-cost changes) runs at most once per {@link SWEEP_INTERVAL_MS}; in
 * between only destinations touched by an event are looked at, so polling stays cheap.
 *
 * @module
 */

import { pollDiscovery } from "./discovery.ts";
import { endHoldIfDue } from "./hold_down.ts";
import { reportToSubscribers } from "./reports.ts";
import type { AgentState } from "./state.ts";

/** Refreshes and expiries are checked this often; events are handled at every poll. */
export const SWEEP_INTERVAL_MS = 1_000;

/** Runs the pass for `now`; what it wants sent is left in `s.queries` and `s.outbox`. */
export function upkeep(s: AgentState, now: number): void {
  const t = s.tuning;
  const sweep = now - s.lastSweep >= SWEEP_INTERVAL_MS;
  const names = sweep ? [...s.dests.keys()] : [...s.dirty];
  s.dirty.clear();
  for (const name of names) {
    const d = s.dests.get(name);
    if (!d) continue;
    endHoldIfDue(s, name, d, now);
    if (
      d.subscribers.size === 0 && d.discovery === null && now - d.lastWanted >= t.subscriptionTtlMs
    ) {
      // Nobody uses it and nobody routes through us for it: only its expiry may be due. Most
      // destinations a node knows are like this (it forwarded a query once), so skipping
      // them keeps a sweep proportional to the routes the node actually carries.
      // A destination we only forwarded a query for, and learnt nothing about, goes soon.
      const ttl = d.candidates.size === 0 && d.lastWanted === -Infinity
        ? t.queryTimeoutMs * 4
        : t.idleDestinationMs;
      if (sweep && now - Math.max(d.lastActive, d.lastWanted) > ttl) s.dests.delete(name);
      continue;
    }
    pollDiscovery(s, name, d, now);
    reportToSubscribers(s, name, d, now, sweep);
    if (d.discovery !== null) s.dirty.add(name);
    if (
      sweep && d.subscribers.size === 0 && d.discovery === null &&
      now - Math.max(d.lastActive, d.lastWanted) > t.idleDestinationMs
    ) {
      s.dests.delete(name);
      s.dirty.delete(name);
    }
  }
  if (sweep) {
    s.lastSweep = now;
    for (const [key, expires] of s.seenQueries) {
      if (expires <= now) s.seenQueries.delete(key);
    }
  }
}
