import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, FrameType, isBatch, splitMessage } from "../wire/frame.ts";
import { FrameBatcher } from "./batcher.ts";
import type { Tether, TetherStats } from "./tether.ts";

/** A tether that records what it is given; `room` messages are taken before back-pressure. */
function recorder(channels = 1, room = Infinity) {
  const sent: { message: Uint8Array; lane?: number }[] = [];
  let drain = () => {};
  let left = room;
  const tether = {
    peerId: "p",
    engine: "libdatachannel",
    channelCount: channels,
    maxMessageSize: 256 * 1024,
    bufferedAmount: 0,
    open: true,
    send(message: Uint8Array, lane?: number) {
      if (left <= 0) return false;
      left--;
      sent.push({ message: message.slice(), lane });
      return true;
    },
    onMessage() {},
    onDrain(cb: () => void) {
      drain = cb;
    },
    onClose() {},
    stats: () => ({}) as TetherStats,
    selectedPair: () => null,
    close() {},
  } satisfies Tether;
  return {
    tether,
    sent,
    drain: (more: number) => {
      left = more;
      drain();
    },
  };
}

function frame(counter: number, size = 1000): Uint8Array {
  return encodeFrame({
    type: FrameType.Data,
    hopLimit: 8,
    flags: 0,
    destination: 0x64400001,
    streamId: 1,
    counter: BigInt(counter),
    payload: new Uint8Array(size).fill(counter & 0xff),
  });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("frame batcher: frames written into slots arrive as one batch, in order", async () => {
  const r = recorder();
  const b = new FrameBatcher(r.tether, { maxBatchBytes: 16 * 1024 });
  for (let i = 0; i < 5; i++) {
    const f = frame(i);
    const slot = b.slot(f.length)!;
    slot.set(f);
  }
  assert.equal(b.queued, 5);
  await tick();
  assert.equal(r.sent.length, 1);
  assert.ok(isBatch(r.sent[0].message));
  const counters = splitMessage(r.sent[0].message).map((x) => decodeFrame(x).counter);
  assert.deepEqual(counters, [0n, 1n, 2n, 3n, 4n]);
  assert.equal(b.queued, 0);
});

Deno.test("frame batcher: a lone frame goes as itself; one larger than a batch goes alone", async () => {
  const r = recorder();
  const b = new FrameBatcher(r.tether, { maxBatchBytes: 4096 });
  b.push(frame(1));
  await tick();
  assert.equal(isBatch(r.sent[0].message), false);
  assert.equal(decodeFrame(r.sent[0].message).counter, 1n);
  b.push(frame(2));
  b.push(frame(3, 9000));
  b.push(frame(4));
  await tick();
  const order = r.sent.slice(1).flatMap((s) =>
    splitMessage(s.message).map((x) => decodeFrame(x).counter)
  );
  assert.deepEqual(order, [2n, 3n, 4n]);
  assert.equal(r.sent.length, 4);
});

Deno.test("frame batcher: lanes keep to their channel when the tether has several", async () => {
  const r = recorder(2);
  const b = new FrameBatcher(r.tether);
  b.push(frame(1), 0);
  b.push(frame(2), 1);
  b.push(frame(3), 0);
  await tick();
  const byLane = new Map<number | undefined, bigint[]>();
  for (const s of r.sent) {
    const list = byLane.get(s.lane) ?? [];
    list.push(...splitMessage(s.message).map((x) => decodeFrame(x).counter));
    byLane.set(s.lane, list);
  }
  assert.deepEqual(byLane.get(0), [1n, 3n]);
  assert.deepEqual(byLane.get(1), [2n]);
});

Deno.test("frame batcher: back-pressure holds messages until drain, bounded by the queue", async () => {
  const r = recorder(1, 0);
  const b = new FrameBatcher(r.tether, { maxBatchBytes: 2048, maxQueue: 3 });
  for (let i = 0; i < 5; i++) b.push(frame(i));
  assert.equal(b.dropped, 2);
  await tick();
  assert.equal(r.sent.length, 0);
  r.drain(10);
  const counters = r.sent.flatMap((s) =>
    splitMessage(s.message).map((x) => decodeFrame(x).counter)
  );
  assert.deepEqual(counters, [0n, 1n, 2n]);
  assert.equal(b.queued, 0);
});
