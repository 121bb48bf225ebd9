/**
 * Hold-down after the route in use breaks: for a while only neighbours that reported less than
 * our estimate before the loss may carry traffic. Such a neighbour cannot be routing through us,
 * so no loop forms while the bad news spreads (the feasibility condition of DUAL and Babel).
 * The bound itself is applied where Q is computed (`qValue` in q_table.ts).
 *
 * @module
 */

import type { Destination } from "./destination.ts";
import type { AgentState } from "./state.ts";

/** Starts (or extends) a hold-down with our estimate before the loss as the bound. */
export function startHold(
  s: AgentState,
  name: string,
  d: Destination,
  beforeMs: number,
  now: number,
): void {
  if (s.tuning.holdDownMs <= 0 || !Number.isFinite(beforeMs)) return;
  d.feasibleMs = Math.min(d.feasibleMs, beforeMs);
  d.holdUntil = now + s.tuning.holdDownMs;
  d.version++;
  s.dirty.add(name);
}

/**
 * Ends a hold-down that is over. One still running keeps `name` dirty, so the poll that ends it
 * comes soon even between sweeps.
 */
export function endHoldIfDue(s: AgentState, name: string, d: Destination, now: number): void {
  if (d.feasibleMs === Infinity) return;
  if (now >= d.holdUntil) {
    d.feasibleMs = Infinity;
    d.version++;
  } else s.dirty.add(name);
}
