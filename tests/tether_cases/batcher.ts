/**
 * FrameBatcher over a real tether: frames pushed in one event-loop turn travel as batch
 * messages (core/wire/frame.ts container), a lone frame travels as itself, and a back-pressured
 * tether makes frames wait for the drain event instead of being lost.
 */

import assert from "node:assert/strict";
import { FrameBatcher } from "../../core/tether/batcher.ts";
import {
  decodeFrame,
  encodeFrame,
  FrameType,
  isBatch,
  splitMessage,
} from "../../core/wire/frame.ts";
import { closePair, openPair, waitFor } from "../tether_helpers.ts";

function frame(counter: number, size = 1200): Uint8Array {
  return encodeFrame({
    type: FrameType.Data,
    hopLimit: 8,
    flags: 0,
    destination: 0x64400001,
    streamId: 7,
    counter: BigInt(counter),
    payload: new Uint8Array(size).fill(counter & 0xff),
  });
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "frame batcher: one turn's frames become batches, a lone frame goes alone",
  ...opts,
}, async () => {
  const [a, b] = await openPair("libdatachannel", "libdatachannel");
  try {
    const messages: Uint8Array[] = [];
    b.onMessage((m) => messages.push(m.slice()));
    const batcher = new FrameBatcher(a, { maxBatchBytes: 16 * 1024 });

    assert.equal(batcher.push(frame(0)), true);
    await waitFor(() => messages.length === 1, "lone frame");
    assert.equal(isBatch(messages[0]), false);
    assert.equal(decodeFrame(messages[0]).counter, 0n);

    messages.length = 0;
    for (let i = 1; i <= 100; i++) batcher.push(frame(i));
    const counters: bigint[] = [];
    await waitFor(() => {
      counters.length = 0;
      for (const m of messages) {
        for (const f of splitMessage(m)) counters.push(decodeFrame(f).counter);
      }
      return counters.length === 100;
    }, "100 batched frames");
    assert.ok(messages.every(isBatch), "several frames per message");
    // 16 KB batches of 1,222-byte frames hold 13 each: 100 frames take 8 messages.
    assert.equal(messages.length, Math.ceil(100 / Math.floor((16 * 1024 - 2) / 1222)));
    assert.deepEqual(
      counters.sort((x, y) => Number(x - y)),
      Array.from({ length: 100 }, (_, i) => BigInt(i + 1)),
    );
    for (const m of messages) {
      for (const f of splitMessage(m)) {
        const d = decodeFrame(f);
        assert.ok(d.payload.every((x) => x === Number(d.counter & 0xffn)));
      }
    }
    assert.equal(batcher.dropped, 0);
  } finally {
    await closePair(a, b);
  }
});

Deno.test(
  { name: "frame batcher: frames wait through back-pressure and all arrive", ...opts },
  async () => {
    const [a, b] = await openPair("werift", "werift", {
      channels: 1,
      highWater: 8192,
      lowWater: 2048,
    });
    try {
      let frames = 0;
      b.onMessage((m) => frames += splitMessage(m).length);
      const batcher = new FrameBatcher(a, { maxBatchBytes: 4096, maxQueue: 4096 });
      const total = 600;
      for (let i = 0; i < total; i++) assert.equal(batcher.push(frame(i, 1000)), true);
      await new Promise((r) => setTimeout(r, 0));
      assert.ok(a.stats().backpressured >= 1, "the tether pushed back");
      assert.ok(batcher.queued > 0, "frames waited in the batcher");
      await waitFor(() => frames === total, `all ${total} frames`, 10_000);
      assert.equal(batcher.queued, 0);
      assert.equal(batcher.dropped, 0);
    } finally {
      await closePair(a, b);
    }
  },
);
