import assert from "node:assert/strict";
import {
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeFrame,
  FLAG_KEY_PHASE,
  type Frame,
  FRAME_HEADER_LENGTH,
  frameAad,
  FrameType,
  isBatch,
  MAX_BATCH_FRAMES,
  splitMessage,
  writeFrameHeader,
} from "./frame.ts";
import { WireError } from "./errors.ts";
import { PacketCipher } from "../crypto/aead.ts";

const code = (c: string) => (e: unknown) => e instanceof WireError && e.code === c;

const frame: Frame = {
  type: FrameType.Data,
  hopLimit: 8,
  flags: FLAG_KEY_PHASE,
  destination: 0x6440_0007,
  streamId: 0xdead_beef,
  counter: 0x0102_0304_0506_0708n,
  payload: new Uint8Array(100).map((_, i) => i),
};

Deno.test("frame: fixed layout, byte for byte", () => {
  const bytes = encodeFrame(frame);
  assert.equal(bytes.length, FRAME_HEADER_LENGTH + 100);
  assert.deepEqual(
    Array.from(bytes.subarray(0, FRAME_HEADER_LENGTH)),
    [0x11, 8, 1, 0, 0x64, 0x40, 0, 7, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  const decoded = decodeFrame(bytes);
  assert.deepEqual(decoded, frame);
  // The payload is a view, not a copy.
  assert.equal(decoded.payload.buffer, bytes.buffer);
});

Deno.test("frame: limits of every field", () => {
  const edge: Frame = {
    type: FrameType.Feedback,
    hopLimit: 255,
    flags: 0,
    destination: 0xffff_ffff,
    streamId: 0,
    counter: 0xffff_ffff_ffff_ffffn,
    payload: new Uint8Array(0),
  };
  assert.deepEqual(decodeFrame(encodeFrame(edge)), edge);
  assert.throws(() => encodeFrame({ ...edge, hopLimit: 256 }), code("malformed"));
  assert.throws(() => encodeFrame({ ...edge, flags: 0x80 }), code("malformed"));
  assert.throws(() => encodeFrame({ ...edge, streamId: -1 }), code("malformed"));
  assert.throws(() => encodeFrame({ ...edge, counter: 1n << 64n }), code("malformed"));
  assert.throws(() => encodeFrame({ ...edge, type: 9 as FrameType }), code("unknown-type"));
  assert.throws(
    () => encodeFrame({ ...edge, payload: new Uint8Array(0x10000) }),
    code("oversized"),
  );
});

Deno.test("frame: decoder rejects truncated, wrong version, unknown type, bad flags", () => {
  const bytes = encodeFrame(frame);
  assert.throws(() => decodeFrame(bytes.subarray(0, 19)), code("truncated"));
  assert.throws(() => decodeFrame(bytes.subarray(0, 20 + 15)), code("truncated"));
  const v2 = bytes.slice();
  v2[0] = 0x21;
  assert.throws(() => decodeFrame(v2), code("version"));
  const t = bytes.slice();
  t[0] = 0x17;
  assert.throws(() => decodeFrame(t), code("unknown-type"));
  const f = bytes.slice();
  f[2] = 0x40;
  assert.throws(() => decodeFrame(f), code("malformed"));
  const r = bytes.slice();
  r[3] = 1;
  assert.throws(() => decodeFrame(r), code("malformed"));
  assert.throws(() => decodeFrame(new Uint8Array(0x10000)), code("oversized"));
});

Deno.test("frame: AAD excludes only the hop limit, so relays may decrement it", () => {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 1400 + 16);
  writeFrameHeader(frame, { out, offset: 0 });
  const keys = { key: new Uint8Array(32).fill(4), salt: new Uint8Array(4).fill(5) };
  const plaintext = new Uint8Array(1400).fill(6);
  PacketCipher.create(keys).sealInto(frame.counter, frameAad(out), plaintext, {
    out,
    offset: FRAME_HEADER_LENGTH,
  });
  const receiver = PacketCipher.create(keys);
  const relayed = out.slice();
  relayed[1] -= 1; // a relay decremented the hop limit
  const d = decodeFrame(relayed);
  assert.equal(d.hopLimit, 7);
  const scratch = new Uint8Array(FRAME_HEADER_LENGTH);
  assert.deepEqual(receiver.open(d.counter, frameAad(relayed, scratch), d.payload), plaintext);
  // Any other header byte is authenticated.
  for (const index of [0, 2, 4, 8, 12, 19]) {
    const bad = out.slice();
    bad[index] ^= index === 0 ? 0x02 : 0x01;
    const aad = frameAad(bad);
    assert.equal(receiver.open(frame.counter, aad, bad.subarray(20)), null, `byte ${index}`);
  }
});

Deno.test("frame: batch round trip with views", () => {
  const frames = [1, 2, 3].map((n) =>
    encodeFrame({ ...frame, counter: BigInt(n), payload: new Uint8Array(16 * n).fill(n) })
  );
  const batch = encodeBatch(frames);
  assert.ok(isBatch(batch));
  assert.equal(isBatch(frames[0]), false);
  const parts = decodeBatch(batch);
  assert.equal(parts.length, 3);
  parts.forEach((part, i) => {
    assert.deepEqual(part, frames[i]);
    assert.equal(part.buffer, batch.buffer);
    assert.equal(decodeFrame(part).counter, BigInt(i + 1));
  });
  assert.deepEqual(splitMessage(batch), parts);
  assert.deepEqual(splitMessage(frames[0]), [frames[0]]);
  const full = Array.from({ length: MAX_BATCH_FRAMES }, () => frames[0]);
  assert.equal(decodeBatch(encodeBatch(full)).length, MAX_BATCH_FRAMES);
  assert.throws(() => encodeBatch([...full, frames[0]]), code("malformed"));
  assert.throws(() => encodeBatch([]), code("malformed"));
});

Deno.test("frame: batch decoder rejects truncated, trailing, bad lengths", () => {
  const f = encodeFrame(frame);
  const batch = encodeBatch([f, f]);
  assert.throws(() => decodeBatch(batch.subarray(0, 1)), code("truncated"));
  assert.throws(() => decodeBatch(batch.subarray(0, batch.length - 1)), code("truncated"));
  assert.throws(() => decodeBatch(batch.subarray(0, 2 + 2 + f.length + 1)), code("truncated"));
  const trailing = new Uint8Array(batch.length + 3);
  trailing.set(batch);
  assert.throws(() => decodeBatch(trailing), code("trailing"));
  const zero = batch.slice();
  zero[1] = 0;
  assert.throws(() => decodeBatch(zero), code("malformed"));
  const short = batch.slice();
  short[2] = 0;
  short[3] = 5;
  assert.throws(() => decodeBatch(short), code("malformed"));
  const v2 = batch.slice();
  v2[0] = 0x2f;
  assert.throws(() => decodeBatch(v2), code("version"));
  assert.throws(() => decodeBatch(f), code("unknown-type"));
  assert.throws(() => decodeBatch(new Uint8Array(300 * 1024)), code("oversized"));
});
