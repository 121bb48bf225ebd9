/**
 * Per-key token-bucket rate limiter (keys are client IP addresses).
 *
 * Pure: the caller passes the current time. Memory is bounded: when more than `maxKeys` buckets
 * exist, full (idle) buckets are dropped first, then the oldest.
 *
 * @module
 */

/** Settings of one limiter. */
export interface RateLimitOptions {
  /** Requests allowed in a burst. */
  burst: number;
  /** Sustained requests per second. */
  perSecond: number;
  /** Most keys tracked at once (default 10,000). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** A token bucket per key. */
export class RateLimiter {
  readonly #options: Required<RateLimitOptions>;
  readonly #buckets = new Map<string, Bucket>();

  /** Creates a limiter; `burst` and `perSecond` must be positive. */
  constructor(options: RateLimitOptions) {
    if (!(options.burst > 0) || !(options.perSecond > 0)) {
      throw new RangeError("rate limit burst and perSecond must be positive");
    }
    this.#options = { maxKeys: 10_000, ...options };
  }

  /** Takes one token for `key` at time `now` (ms); false when the key is over its limit. */
  take(key: string, now: number): boolean {
    const { burst, perSecond } = this.#options;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      this.#evict(now);
      bucket = { tokens: burst, updated: now };
      this.#buckets.set(key, bucket);
    } else {
      const elapsed = Math.max(0, now - bucket.updated) / 1000;
      bucket.tokens = Math.min(burst, bucket.tokens + elapsed * perSecond);
      bucket.updated = now;
      // Re-insert so Map order tracks recency for eviction.
      this.#buckets.delete(key);
      this.#buckets.set(key, bucket);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #evict(now: number): void {
    const { maxKeys, burst, perSecond } = this.#options;
    if (this.#buckets.size < maxKeys) return;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.updated) / 1000) * perSecond >= burst) this.#buckets.delete(key);
    }
    while (this.#buckets.size >= maxKeys) {
      const oldest = this.#buckets.keys().next().value as string;
      this.#buckets.delete(oldest);
    }
  }
}
