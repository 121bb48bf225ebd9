/**
 * Bounded memory of recently seen envelope nonces.
 *
 * Envelopes are accepted only within ±maxSkew of the receiver's clock, so a nonce needs to be
 * remembered only until its timestamp leaves that window. When the filter is full it forgets the
 * oldest entry and raises a floor: any envelope whose timestamp is not above the floor is then
 * refused as a possible replay. Memory stays bounded and nothing forgotten can be replayed.
 *
 * @module
 */

/** Options of {@link NonceFilter}. */
export interface NonceFilterOptions {
  /** Most nonces remembered at once (default 65,536, about 6 MB worst case). */
  maxEntries?: number;
}

/** Remembers (nonce, timestamp) pairs; pure: the caller passes the time. */
export class NonceFilter {
  readonly #max: number;
  readonly #seen = new Map<string, number>();
  #floor = -Infinity;

  /** Creates an empty filter. */
  constructor(options: NonceFilterOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? 65_536);
  }

  /** Number of nonces held. */
  get size(): number {
    return this.#seen.size;
  }

  /** True when an envelope with this nonce and timestamp must be refused as a (possible) replay. */
  seen(nonce: Uint8Array, timestamp: number): boolean {
    return timestamp <= this.#floor || this.#seen.has(key(nonce));
  }

  /**
   * Records a nonce after its envelope was accepted; forgets entries older than `now - windowMs`.
   */
  record(nonce: Uint8Array, timestamp: number, options: { now: number; windowMs: number }): void {
    const expiredBefore = options.now - options.windowMs;
    for (const [k, ts] of this.#seen) {
      // Entries are roughly in time order; stop at the first one still inside the window.
      if (ts >= expiredBefore) break;
      this.#seen.delete(k);
    }
    while (this.#seen.size >= this.#max) {
      const first = this.#seen.entries().next().value!;
      this.#seen.delete(first[0]);
      if (first[1] > this.#floor) this.#floor = first[1];
    }
    this.#seen.set(key(nonce), timestamp);
  }
}

function key(nonce: Uint8Array): string {
  let s = "";
  for (let i = 0; i < nonce.length; i++) s += String.fromCharCode(nonce[i]);
  return s;
}
