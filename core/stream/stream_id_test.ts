import assert from "node:assert/strict";
import { allocateStreamId, isStreamId } from "./stream_id.ts";
import { StreamError } from "./errors.ts";

Deno.test("stream id: skips zero and ids in use", () => {
  const random = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6]);
  assert.equal(allocateStreamId(new Set([5]), random), 6);
  assert.equal(allocateStreamId(new Set(), random), 5);
});

Deno.test("stream id: reads big-endian u32", () => {
  assert.equal(allocateStreamId(new Set(), new Uint8Array([0xff, 0xff, 0xff, 0xff])), 0xffffffff);
});

Deno.test("stream id: runs out of randomness with a typed error", () => {
  assert.throws(
    () => allocateStreamId(new Set([1]), new Uint8Array([0, 0, 0, 1])),
    (e: unknown) => e instanceof StreamError && e.code === "stream-id",
  );
});

Deno.test("stream id: validity", () => {
  assert.equal(isStreamId(0), false);
  assert.equal(isStreamId(1), true);
  assert.equal(isStreamId(2 ** 32), false);
  assert.equal(isStreamId(1.5), false);
});
