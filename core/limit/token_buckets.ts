/**
 * Token buckets per key (a relaying source, a client address, a sender): a key that floods
 * empties only its own bucket. The one rate limiter of the code base; the relay limiter of
 * core/route and the Guardian's request limiter are named uses of it.
 *
 * Pure: time is passed in. Memory is bounded: beyond `maxKeys`, buckets that have refilled (idle
 * keys, which would start full anyway) go first, then the oldest. Taking a token does not move a
 * key in that order, so the check costs a map lookup on the data path.
 *
 * @module
 */

/** Tuning of {@link TokenBuckets}. */
export interface TokenBucketOptions {
  /** Tokens each key earns per second on average. */
  ratePerSecond: number;
  /** Bucket size: tokens a key may spend in a burst. */
  burst: number;
  /** Keys tracked at once (default 4,096). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per key. */
export class TokenBuckets {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  #refused = 0;

  /** Throws RangeError for a rate or burst that is not a positive finite number. */
  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError("ratePerSecond must be > 0");
    }
    if (!(options.burst > 0) || !Number.isFinite(options.burst)) {
      throw new RangeError("burst must be > 0");
    }
    this.#perMs = options.ratePerSecond / 1000;
    this.#burst = options.burst;
    this.#max = Math.max(1, Math.floor(options.maxKeys ?? 4_096));
  }

  /** Tokens refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token of `key` at `now` (ms); false when its bucket is empty. */
  take(key: string, now: number): boolean {
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.#max) this.#evict(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    this.#refused++;
    return false;
  }

  #evict(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
    while (this.#buckets.size >= this.#max) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
  }
}
