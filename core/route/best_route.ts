/**
 * The one selection over a destination's routes: the direct tether first, then the candidates
 * in the order they were learnt. Choosing a next hop, answering a query, reporting to a
 * subscriber, detecting a loss and ranking for exploration or status all walk the same routes
 * in the same order, so they cannot disagree about what the best route is, and ties go to the
 * same route everywhere (the simulator's output depends on it).
 *
 * @module
 */

import type { Destination } from "./destination.ts";
import { NONE, qValue, type RouteEntry } from "./q_table.ts";
import type { AgentState } from "./state.ts";

/** Neighbours a selection must not use (the frame's sender, a query's path), or none. */
export type Skip = ((neighbour: string) => boolean) | undefined;

/** How equal estimates are settled: by fewer hops, or the first route walked keeps it. */
export type TieBreak = "fewer-hops" | "first";

/** The outcome of {@link bestRoute}. */
export interface BestRoute {
  /** The best route, or {@link NONE}. */
  best: RouteEntry;
  /** How many routes were usable (not {@link NONE}) after the skip. */
  usable: number;
}

/** A {@link Skip} for at most one neighbour. */
export function excluding(neighbour: string | undefined): Skip {
  return neighbour === undefined ? undefined : (y) => y === neighbour;
}

/** Calls `visit` for every usable route to `name`, direct tether first. */
function forEachRoute(
  s: AgentState,
  name: string,
  d: Destination | undefined,
  skip: Skip,
  visit: (e: RouteEntry) => void,
): void {
  if (!skip?.(name)) {
    const direct = qValue(s, name, d, name);
    if (direct !== NONE) visit(direct);
  }
  if (!d) return;
  for (const y of d.candidates.keys()) {
    // A candidate keyed by the destination itself is its direct tether, already walked.
    if (y === name || skip?.(y)) continue;
    const e = qValue(s, name, d, y);
    if (e !== NONE) visit(e);
  }
}

/**
 * The lowest estimate to `name` not through a skipped neighbour, and how many routes there
 * were. Every frame comes through here: it neither sorts nor builds a list.
 */
export function bestRoute(
  s: AgentState,
  name: string,
  d: Destination | undefined,
  skip: Skip,
  ties: TieBreak = "fewer-hops",
): BestRoute {
  let best = NONE;
  let usable = 0;
  const byHops = ties === "fewer-hops";
  forEachRoute(s, name, d, skip, (e) => {
    usable++;
    if (
      e.estimateMs < best.estimateMs ||
      (byHops && e.estimateMs === best.estimateMs && e.hops < best.hops)
    ) best = e;
  });
  return { best, usable };
}

/** Every finite route to `name` not through a skipped neighbour, best first (ties: fewer hops). */
export function rankedRoutes(
  s: AgentState,
  name: string,
  d: Destination | undefined,
  skip: Skip,
): RouteEntry[] {
  const out: RouteEntry[] = [];
  forEachRoute(s, name, d, skip, (e) => {
    if (Number.isFinite(e.estimateMs)) out.push(e);
  });
  return out.sort((a, b) => a.estimateMs - b.estimateMs || a.hops - b.hops);
}
