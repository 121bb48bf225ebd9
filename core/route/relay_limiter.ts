/**
 * Per-source rate limiting of relayed frames, so that one node cannot exhaust a relay.
 *
 * Each source (the conflux id a relayed frame comes from) has its own token bucket: a flooding
 * source empties only its own bucket, and every other source keeps its full rate. Memory is
 * bounded; beyond `maxSources` the source that was inserted first is forgotten (it simply
 * starts again with a full bucket, which is the state an idle source would be in anyway).
 *
 * Pure: time is passed in.
 *
 * @module
 */

import { RouteError } from "./errors.ts";

/** Tuning of a {@link RelayLimiter}. */
export interface RelayLimiterOptions {
  /** Frames per second each source may relay through this node on average. */
  ratePerSecond: number;
  /** Frames a source may send in a burst above its rate (bucket size). */
  burst: number;
  /** Sources remembered at once (default 4,096). */
  maxSources?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets per source. See the module documentation. */
export class RelayLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  #dropped = 0;

  /** Creates a limiter; throws {@link RouteError} `options` on non-positive rate or burst. */
  constructor(options: RelayLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RouteError("options", "ratePerSecond must be > 0");
    }
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) {
      throw new RouteError("options", "burst must be >= 1");
    }
    this.#rate = options.ratePerSecond / 1000;
    this.#burst = options.burst;
    this.#max = Math.max(1, Math.floor(options.maxSources ?? 4_096));
  }

  /** Frames refused so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for a frame from `source` at `now` (ms); false means drop the frame. */
  allow(source: string, now: number): boolean {
    let b = this.#buckets.get(source);
    if (!b) {
      if (this.#buckets.size >= this.#max) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(source, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    this.#dropped++;
    return false;
  }
}
