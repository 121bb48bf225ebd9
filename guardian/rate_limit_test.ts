import assert from "node:assert/strict";
import { RateLimiter } from "./rate_limit.ts";

Deno.test("RateLimiter allows a burst, refuses beyond it, refills over time", () => {
  const limiter = new RateLimiter({ burst: 3, perSecond: 1 });
  const results = [0, 0, 0, 0].map(() => limiter.take("198.18.0.1", 1000));
  assert.deepEqual(results, [true, true, true, false]);
  assert.equal(limiter.take("198.18.0.2", 1000), true, "other keys have their own bucket");
  assert.equal(limiter.take("198.18.0.1", 2000), true, "one token back after a second");
  assert.equal(limiter.take("198.18.0.1", 2000), false);
});

Deno.test("RateLimiter bounds the number of tracked keys", () => {
  const limiter = new RateLimiter({ burst: 1, perSecond: 0.001, maxKeys: 2 });
  assert.equal(limiter.take("a", 0), true);
  assert.equal(limiter.take("b", 0), true);
  assert.equal(limiter.take("c", 0), true);
  // "a" was evicted as the oldest, so it starts with a fresh bucket again.
  assert.equal(limiter.take("a", 0), true);
  assert.throws(() => new RateLimiter({ burst: 0, perSecond: 1 }), RangeError);
});
