import assert from "node:assert/strict";
import {
  EGRESS_BACKOFF_MAX_MS,
  EGRESS_BACKOFF_MIN_MS,
  EGRESS_QUEUE_LIMIT,
  Egresser,
} from "./egresser.ts";

Deno.test("egresser: holds copies up to the limit, then drops", () => {
  const e = new Egresser(1, 0);
  const p = new Uint8Array([1, 2, 3]);
  assert.ok(e.hold(p));
  p[0] = 9;
  assert.deepEqual(e.queue[0], new Uint8Array([1, 2, 3]));
  for (let i = 1; i < EGRESS_QUEUE_LIMIT; i++) assert.ok(e.hold(p));
  assert.equal(e.hold(p), false);
  assert.equal(e.dropped, 1);
});

Deno.test("egresser: failures back off exponentially up to the cap and clear the path", () => {
  const e = new Egresser(1, 0);
  e.nextHop = "relay";
  e.hold(new Uint8Array(4));
  e.fail(1000);
  assert.equal(e.state, "backoff");
  assert.equal(e.retryAt, 1000 + EGRESS_BACKOFF_MIN_MS);
  assert.equal(e.queue.length, 0);
  assert.equal(e.nextHop, undefined);
  for (let i = 0; i < 10; i++) e.fail(1000);
  assert.equal(e.retryAt, 1000 + EGRESS_BACKOFF_MAX_MS);
  e.reset();
  assert.equal(e.state, "idle");
});
