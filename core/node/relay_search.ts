/**
 * Finding a relay on a cold network: the bookkeeping of both sides of RELAY_QUERY / RELAY_OFFER
 * (PROTOCOL.md, "Relay discovery"). Pure: time comes in as arguments; the node sends and
 * receives the messages and opens the tethers.
 *
 * Why: asking the destination for its tether peers (NEIGHBOURS_REQUEST) finds nothing when no
 * tether exists anywhere yet, e.g. right after a realm starts or after idle teardown. So the asker
 * also asks the realm "who can reach D?"; a relay that holds a tether to D, or can open one (and
 * one to the asker), answers. Bounded on both sides: an asker sends at most one realm-wide query
 * per destination per {@link QUERY_INTERVAL_MS}, first to the relays it remembers; a relay serves
 * one query per (asker, destination) per {@link SERVE_DEDUPE_MS}, and opens tethers for queries
 * it cannot answer at once within a token bucket and a concurrency cap, so a query never makes
 * every node of a large realm dial the destination at once.
 *
 * @module
 */
import { RelayLimiter } from "../route/relay_limiter.ts";

/** Shortest time between two realm-wide queries for one destination. */
export const QUERY_INTERVAL_MS = 5_000;
/** How long an asker waits for offers to one query. */
export const QUERY_TIMEOUT_MS = 6_000;
/** How long an asker waits for remembered relays before asking the whole realm. */
export const REMEMBERED_WAIT_MS = 800;
/** A relay serves one query per (asker, destination) within this window. */
export const SERVE_DEDUPE_MS = 3_000;
/** Tether attempts a relay starts per second for queries it cannot answer at once (and burst). */
export const SERVE_ATTEMPTS_PER_SECOND = 1;
export const SERVE_ATTEMPT_BURST = 4;
/** Queries a relay works on at once. */
export const SERVE_CONCURRENT = 4;
/** Deepest search: a relay that itself needs a relay may ask once more, not further. */
export const MAX_QUERY_DEPTH = 1;
/** Relays remembered per destination, and destinations remembered. */
export const REMEMBERED_PER_DESTINATION = 4;
export const REMEMBERED_DESTINATIONS = 1024;
/** A remembered relay is forgotten after this long. */
export const REMEMBER_MS = 10 * 60_000;

interface Pending {
  destinationId: string;
  expiresAt: number;
  offers: string[];
  waiters: ((relayId: string) => void)[];
}

/** What a relay decides for one query. */
export type ServeDecision =
  | { serve: true; needsAttempt: boolean }
  | { serve: false; why: "duplicate" | "busy" | "rate" | "depth" };

/** Both sides' state; see the module documentation. */
export class RelaySearch {
  #pending = new Map<string, Pending>();
  #askedAt = new Map<string, number>();
  #remembered = new Map<string, { relays: string[]; at: number }>();
  #served = new Map<string, number>();
  #attempts = new RelayLimiter({
    ratePerSecond: SERVE_ATTEMPTS_PER_SECOND,
    burst: SERVE_ATTEMPT_BURST,
    maxSources: 1,
  });
  #working = 0;

  // ---- asker ----

  /** True when a realm-wide query for `destinationId` may go out at `now` (and notes it). */
  mayAskRealm(destinationId: string, now: number): boolean {
    const last = this.#askedAt.get(destinationId);
    if (last !== undefined && now - last < QUERY_INTERVAL_MS) return false;
    if (this.#askedAt.size >= REMEMBERED_DESTINATIONS) this.#askedAt.clear();
    this.#askedAt.set(destinationId, now);
    return true;
  }

  /**
   * Starts a query for `destinationId`, or joins the one already open for it: `onOffer` hears
   * every relay that offers (those already offered at once). `fresh` says the caller must send
   * the query (`queryId` is then `newId`).
   */
  begin(
    destinationId: string,
    now: number,
    onOffer: (relayId: string) => void,
    newId: string,
  ): { queryId: string; fresh: boolean } {
    for (const [id, p] of this.#pending) {
      if (p.destinationId !== destinationId || now > p.expiresAt) continue;
      p.waiters.push(onOffer);
      for (const r of p.offers) onOffer(r);
      return { queryId: id, fresh: false };
    }
    this.#pending.set(newId, {
      destinationId,
      expiresAt: now + QUERY_TIMEOUT_MS,
      offers: [],
      waiters: [onOffer],
    });
    return { queryId: newId, fresh: true };
  }

  /** True while query `queryId` is ours and open (NATS echoes our own publications to us). */
  isOpen(queryId: string): boolean {
    return this.#pending.has(queryId);
  }

  /** True when a relay could not take another query now (checked before any signature check). */
  busy(): boolean {
    return this.#working >= SERVE_CONCURRENT;
  }

  /**
   * Records an offer of `relayId` for query `queryId`; true when it belongs to an open query for
   * `destinationId` and is new (the waiters were told).
   */
  offer(queryId: string, relayId: string, destinationId: string, now: number): boolean {
    const p = this.#pending.get(queryId);
    if (!p || p.destinationId !== destinationId || now > p.expiresAt) return false;
    if (p.offers.includes(relayId) || p.offers.length >= REMEMBERED_PER_DESTINATION) return false;
    p.offers.push(relayId);
    // Not remembered yet: only a relay that carried the destination's authenticated traffic back
    // is (the node calls remember then), so a member answering every query gains nothing lasting.
    for (const w of p.waiters) w(relayId);
    return true;
  }

  /** Notes that `relayId` led to `destinationId` (an offer, or a relay that carried traffic). */
  remember(destinationId: string, relayId: string, now: number): void {
    const entry = this.#remembered.get(destinationId) ?? { relays: [], at: now };
    entry.relays = [relayId, ...entry.relays.filter((r) => r !== relayId)]
      .slice(0, REMEMBERED_PER_DESTINATION);
    entry.at = now;
    this.#remembered.delete(destinationId);
    if (this.#remembered.size >= REMEMBERED_DESTINATIONS) {
      const oldest = this.#remembered.keys().next().value;
      if (oldest !== undefined) this.#remembered.delete(oldest);
    }
    this.#remembered.set(destinationId, entry);
  }

  /** Relays remembered for `destinationId`, most recent first. */
  remembered(destinationId: string, now: number): string[] {
    const entry = this.#remembered.get(destinationId);
    if (!entry) return [];
    if (now - entry.at > REMEMBER_MS) {
      this.#remembered.delete(destinationId);
      return [];
    }
    return entry.relays.slice();
  }

  // ---- relay ----

  /**
   * Whether to serve a query from `askerId` for `destinationId`; `hasRoute` when a tether toward
   * the destination is already open (answered without new work, so never rate-limited).
   * Call {@link done} when a served query is finished.
   */
  decide(
    askerId: string,
    destinationId: string,
    depth: number,
    hasRoute: boolean,
    now: number,
  ): ServeDecision {
    if (depth > MAX_QUERY_DEPTH) return { serve: false, why: "depth" };
    const key = `${askerId} ${destinationId}`;
    const last = this.#served.get(key);
    if (last !== undefined && now - last < SERVE_DEDUPE_MS) {
      return { serve: false, why: "duplicate" };
    }
    if (this.#working >= SERVE_CONCURRENT) return { serve: false, why: "busy" };
    if (!hasRoute && !this.#attempts.allow("attempts", now)) return { serve: false, why: "rate" };
    if (this.#served.size >= 4096) this.#served.clear();
    this.#served.set(key, now);
    this.#working++;
    return { serve: true, needsAttempt: !hasRoute };
  }

  /** A served query is finished (offered or failed). */
  done(): void {
    this.#working = Math.max(0, this.#working - 1);
  }

  /** Drops expired queries and stale notes; call now and then. */
  sweep(now: number): void {
    for (const [id, p] of this.#pending) if (now > p.expiresAt) this.#pending.delete(id);
    for (const [k, at] of this.#served) if (now - at > SERVE_DEDUPE_MS) this.#served.delete(k);
    for (const [d, at] of this.#askedAt) if (now - at > QUERY_INTERVAL_MS) this.#askedAt.delete(d);
    for (const [d, e] of this.#remembered) {
      if (now - e.at > REMEMBER_MS) this.#remembered.delete(d);
    }
  }
}
