/**
 * Per-key token-bucket rate limiter (keys are client IP addresses).
 *
 * Pure: the caller passes the current time. Memory is bounded: when more than `maxKeys` buckets
 * exist, full (idle) buckets are dropped first, then the oldest.
 *
 * @module
 */
import { TokenBuckets } from "../core/limit/token_buckets.ts";

/** Settings of one limiter. */
export interface RateLimitOptions {
  /** Requests allowed in a burst. */
  burst: number;
  /** Sustained requests per second. */
  perSecond: number;
  /** Most keys tracked at once (default 10,000). */
  maxKeys?: number;
}

/** A token bucket per key (core/limit/token_buckets.ts, tuned the Guardian's way). */
export class RateLimiter {
  readonly #buckets: TokenBuckets;

  /** Creates a limiter; `burst` and `perSecond` must be positive. */
  constructor(options: RateLimitOptions) {
    if (!(options.burst > 0) || !(options.perSecond > 0)) {
      throw new RangeError("rate limit burst and perSecond must be positive");
    }
    this.#buckets = new TokenBuckets({
      ratePerSecond: options.perSecond,
      burst: options.burst,
      maxKeys: options.maxKeys ?? 10_000,
    });
  }

  /** Takes one token for `key` at time `now` (ms); false when the key is over its limit. */
  take(key: string, now: number): boolean {
    return this.#buckets.take(key, now);
  }
}
