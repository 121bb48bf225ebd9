/**
 * Looking for better routes without risking data: a node that sends or relays towards a
 * destination asks one tether peer that is not yet a candidate, with a short query, once per
 * ask interval. The interval backs off while asking finds nothing (Trickle, RFC 6206), and a
 * per-node budget caps asks over all destinations, so a node that carries many routes asks no
 * more than one that carries few. A tether that just came up is asked at once instead.
 *
 * @module
 */

import { bestRoute } from "./best_route.ts";
import type { Destination } from "./destination.ts";
import { qValue } from "./q_table.ts";
import { queryTargets, sendQuery } from "./querying.ts";
import type { AgentState } from "./state.ts";

/** Asks a node may save up (see `askBudgetPerSec`), or one second's worth if more. */
const ASK_BURST = 2;
/** Destinations in use a tether that just came up is asked about (most recently used first). */
const GREET_LIMIT = 16;

/** The per-node token bucket of asks (`askBudgetPerSec`, bursts of {@link ASK_BURST}). */
export class AskBudget {
  readonly #perSec: number;
  #tokens = ASK_BURST;
  #at = -Infinity;

  /** A full bucket refilled at `perSec` tokens a second. */
  constructor(perSec: number) {
    this.#perSec = perSec;
  }

  /** Takes one ask token at `now` if there is one. */
  take(now: number): boolean {
    const elapsed = Number.isFinite(this.#at) ? Math.max(0, now - this.#at) : 0;
    const burst = Math.max(ASK_BURST, this.#perSec);
    this.#tokens = Math.min(burst, this.#tokens + (elapsed / 1000) * this.#perSec);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

/**
 * Asks one tether peer that is not yet a candidate for `name` (most promising first) and sets
 * when to ask next. Costs at most `askTtl` messages per destination in use per ask interval.
 */
export function askOneNeighbour(s: AgentState, name: string, d: Destination, now: number): void {
  const t = s.tuning;
  const best = bestRoute(s, name, d, undefined).best.estimateMs;
  d.askEveryMs = best < d.askedBestMs * (1 - t.reportChange)
    ? t.askIntervalMs
    : Math.min(t.askMaxIntervalMs, d.askEveryMs * 2);
  d.askedBestMs = best;
  d.nextAskAt = now + d.askEveryMs;
  // Peers that route through us for `name` cannot offer a route that avoids us.
  // A candidate that last reported "no route" is worth asking again: its answer is stale,
  // and a peer's subscription to it ended long ago, so it will not tell us by itself.
  const base = [s.self, name, ...d.subscribers.keys()];
  for (const y of d.candidates.keys()) {
    if (Number.isFinite(qValue(s, name, d, y).estimateMs)) base.push(y);
  }
  const asked = d.asked ??= new Set();
  let to = queryTargets(s, name, d, new Set([...base, ...asked]), 1)[0];
  if (to === undefined && asked.size > 0) {
    asked.clear(); // every peer was asked: start a new round, answers may have changed
    to = queryTargets(s, name, d, new Set(base), 1)[0];
  }
  if (to === undefined) return;
  asked.add(to);
  sendQuery(s, to, name, t.askTtl);
}

/**
 * Asks a tether that just came up about the destinations this node sends to. Otherwise a route
 * through it would be learnt only at the next ask, up to `askMaxIntervalMs` later, and a
 * failover would first have to discover it.
 */
export function greet(s: AgentState, neighbour: string, now: number): void {
  const inUse: { name: string; at: number }[] = [];
  for (const [name, d] of s.dests) {
    // Peers that route through us for `name` cannot offer a route that avoids us.
    if (name === neighbour || d.subscribers.has(neighbour)) continue;
    if (now - d.lastWanted < s.tuning.subscriptionTtlMs) inUse.push({ name, at: d.lastWanted });
  }
  inUse.sort((a, b) => b.at - a.at);
  for (const { name } of inUse.slice(0, GREET_LIMIT)) {
    sendQuery(s, neighbour, name, s.tuning.askTtl);
    s.dests.get(name)!.asked?.add(neighbour);
  }
}
