/**
 * Per-source rate limiting of relayed frames, so that one node cannot exhaust a relay.
 *
 * Each source (the conflux id a relayed frame comes from) has its own token bucket: a flooding
 * source empties only its own bucket, and every other source keeps its full rate. Memory is
 * bounded; beyond `maxSources` idle sources are forgotten first (they would start again with a
 * full bucket anyway), then the oldest. The buckets are core/limit/token_buckets.ts.
 *
 * Pure: time is passed in.
 *
 * @module
 */

import { TokenBuckets } from "../limit/token_buckets.ts";
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

/** Token buckets per source. See the module documentation. */
export class RelayLimiter {
  readonly #buckets: TokenBuckets;

  /** Creates a limiter; throws {@link RouteError} `options` on non-positive rate or burst. */
  constructor(options: RelayLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RouteError("options", "ratePerSecond must be > 0");
    }
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) {
      throw new RouteError("options", "burst must be >= 1");
    }
    this.#buckets = new TokenBuckets({
      ratePerSecond: options.ratePerSecond,
      burst: options.burst,
      maxKeys: options.maxSources ?? 4_096,
    });
  }

  /** Frames refused so far. */
  get dropped(): number {
    return this.#buckets.refused;
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for a frame from `source` at `now` (ms); false means drop the frame. */
  allow(source: string, now: number): boolean {
    return this.#buckets.take(source, now);
  }
}
