/**
 * Per-destination state: the candidates (Q-table row), the subscribers that hear our estimate,
 * and the timers of discovery, asking and hold-down. Creation is bounded by `maxDestinations`
 * so a neighbour inventing destinations cannot grow memory without bound.
 *
 * @module
 */

import type { AgentState } from "./state.ts";

/** What one neighbour last told us about one destination: R(d, y) and its hop count. */
export interface Candidate {
  remainingMs: number;
  hops: number;
  updatedAt: number;
  /** Last time exploration sent a frame this way (exploration goes to the stalest). */
  triedAt: number;
}

/** A neighbour that routes through us (or asked us), and what it last heard from us. */
export interface Subscription {
  expires: number;
  sentMs: number;
  sentHops: number;
  sentAt: number;
  /** Version of destination and links when last evaluated with nothing to send. */
  version: number;
  linkVersion: number;
}

/** A discovery under way: which fan-out attempt, and when it counts as unanswered. */
export interface Discovery {
  attempt: number;
  deadline: number;
}

/** Everything the agent keeps about one destination. */
export interface Destination {
  candidates: Map<string, Candidate>;
  subscribers: Map<string, Subscription>;
  version: number;
  decisions: number;
  explorations: number;
  lastWanted: number;
  lastActive: number;
  discovery: Discovery | null;
  retryAfter: number;
  /** Last poll at which a finite route existed (relays repair only routes they had). */
  routedAt: number;
  /**
   * Last time a neighbour sent us a frame for this destination. Only relays that carry data
   * look for better routes or repair broken ones: a node that merely answered or forwarded a
   * query must not, or every answer would make it ask its own neighbours and asking would
   * spread over the whole realm like a flood.
   */
  relayedAt: number;
  /** When the origin may next ask one more neighbour for this destination. */
  nextAskAt: number;
  /** Current time between asks (grows while asking finds nothing better). */
  askEveryMs: number;
  /** The next ask is the check of a side-learnt route on first use: it needs no ask token. */
  firstAsk: boolean;
  /** Best estimate when we last asked (Infinity before the first ask). */
  askedBestMs: number;
  /** Neighbours asked so far in the current round of asking (null until the first ask). */
  asked: Set<string> | null;
  /**
   * While holding down after a loss: candidates must have reported less than this (our
   * estimate before the loss). Infinity when not holding.
   */
  feasibleMs: number;
  holdUntil: number;
}

/** True when `name` has no state yet and there is no room for more. */
export function isFull(s: AgentState, name: string): boolean {
  return s.dests.size >= s.tuning.maxDestinations && !s.dests.has(name);
}

/** The state of `name`, created empty if there is none (callers check {@link isFull} first). */
export function destinationFor(s: AgentState, name: string, now: number): Destination {
  let d = s.dests.get(name);
  if (!d) {
    d = {
      candidates: new Map(),
      subscribers: new Map(),
      version: 0,
      decisions: 0,
      explorations: 0,
      lastWanted: -Infinity,
      lastActive: now,
      discovery: null,
      retryAfter: -Infinity,
      routedAt: -Infinity,
      relayedAt: -Infinity,
      nextAskAt: -Infinity,
      askEveryMs: s.tuning.askIntervalMs,
      firstAsk: false,
      askedBestMs: Infinity,
      asked: null,
      feasibleMs: Infinity,
      holdUntil: -Infinity,
    };
    s.dests.set(name, d);
  }
  return d;
}

/** Subscribes `neighbour` to our estimate for `d` until `expires`; true when it is new. */
export function subscribe(d: Destination, neighbour: string, expires: number): boolean {
  const sub = d.subscribers.get(neighbour);
  if (sub) {
    if (expires > sub.expires) sub.expires = expires;
    return false;
  }
  d.subscribers.set(neighbour, {
    expires,
    sentMs: Infinity,
    sentHops: 0,
    sentAt: -Infinity,
    version: -1,
    linkVersion: -1,
  });
  return true;
}
