import assert from "node:assert/strict";
import { TokenBuckets } from "./token_buckets.ts";

Deno.test("token buckets: a burst, then the rate; one key's flood leaves the others alone", () => {
  const b = new TokenBuckets({ ratePerSecond: 10, burst: 3 });
  assert.deepEqual([1, 2, 3, 4].map(() => b.take("flood", 0)), [true, true, true, false]);
  assert.equal(b.take("other", 0), true);
  assert.equal(b.take("flood", 99), false);
  assert.equal(b.take("flood", 100), true);
  assert.equal(b.refused, 2);
});

Deno.test("token buckets: memory is bounded, idle keys go first", () => {
  const b = new TokenBuckets({ ratePerSecond: 1, burst: 2, maxKeys: 3 });
  b.take("busy", 0);
  b.take("busy", 0);
  b.take("idle-1", 0);
  b.take("idle-2", 0);
  // Later, idle keys have refilled; "busy" has not (it spent two tokens at 0, earns 1 per s).
  b.take("busy", 1500);
  b.take("new", 1500);
  assert.ok(b.size <= 3);
  assert.equal(b.take("busy", 1500), false, "busy kept its (empty) bucket");
});

Deno.test("token buckets: bad tuning is refused", () => {
  assert.throws(() => new TokenBuckets({ ratePerSecond: 0, burst: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ ratePerSecond: 1, burst: NaN }), RangeError);
});
