/**
 * What a tether event does to routes: a tether that comes up (or back) is asked about the
 * destinations in use, a noticeable cost change re-evaluates the routes through it, and a tether
 * that fails makes every estimate through it infinite at once, with a hold-down when it carried
 * the best route.
 *
 * @module
 */

import { greet } from "./asking.ts";
import { bestRoute, excluding } from "./best_route.ts";
import { startHold } from "./hold_down.ts";
import type { LinkSample } from "./neighbours.ts";
import type { AgentState } from "./state.ts";

/** Takes a probe result for the tether to `neighbour`; the first sample brings it up. */
export function onLinkMeasured(
  s: AgentState,
  neighbour: string,
  now: number,
  sample: LinkSample,
): void {
  if (neighbour === s.self) return;
  const change = s.links.measure(neighbour, sample);
  if (change === null) return;
  if (change === "recovered") {
    // A recovered tether must earn its estimates again through fresh reports.
    for (const d of s.dests.values()) d.candidates.delete(neighbour);
  }
  // Routes through a tether are re-evaluated via its destination's version and the link
  // version; only the neighbour as a destination itself needs a nudge.
  const d = s.dests.get(neighbour);
  if (d) {
    d.version++;
    d.lastActive = now;
    s.dirty.add(neighbour);
  }
  if (change !== "moved") greet(s, neighbour, now);
}

/** The tether to `neighbour` failed: nothing routes through it from now on. */
export function onLinkDown(s: AgentState, neighbour: string, now: number): void {
  const lostCost = s.links.down(neighbour);
  if (lostCost === null) return;
  for (const [name, d] of s.dests) {
    d.subscribers.delete(neighbour);
    if (d.candidates.has(neighbour) || name === neighbour) {
      // The link is already down, so the best route before the loss is computed by hand.
      const c = d.candidates.get(neighbour);
      const viaLost = lostCost + (name === neighbour ? 0 : c ? c.remainingMs : Infinity);
      const other = bestRoute(s, name, d, excluding(neighbour)).best;
      d.candidates.delete(neighbour);
      if (viaLost < other.estimateMs) startHold(s, name, d, viaLost, now);
      d.version++;
    }
    d.lastActive = Math.max(d.lastActive, now);
    // Report the change and, for destinations in use, look for a new route right away.
    if (d.subscribers.size > 0 || now - d.lastWanted < s.tuning.subscriptionTtlMs) {
      s.dirty.add(name);
    }
  }
  s.outbox.delete(neighbour);
}
