import assert from "node:assert/strict";
import { StreamReceiver, StreamSender } from "./session.ts";
import type { StreamSecrets } from "./handshake.ts";

function secrets(): StreamSecrets {
  return {
    streamId: 9,
    sharedSecret: crypto.getRandomValues(new Uint8Array(32)),
    transcriptHash: crypto.getRandomValues(new Uint8Array(32)),
  };
}

const aad = new Uint8Array([1, 2, 3, 4]);
const packet = (n: number) => new Uint8Array(100).fill(n);

Deno.test("stream session: sealed packets open once, in any order", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0);
  const rx = new StreamReceiver(s, 0);
  const sealed: [bigint, Uint8Array][] = [];
  for (let i = 0; i < 5; i++) {
    const c = tx.next(i);
    sealed.push([c, tx.seal(c, aad, packet(i))]);
  }
  for (const i of [3, 0, 4, 1, 2]) {
    const [c, box] = sealed[i];
    assert.deepEqual(rx.open(c, aad, box, 10), packet(i));
  }
  // replay of every packet is refused
  for (const [c, box] of sealed) assert.equal(rx.open(c, aad, box, 11), null);
  assert.equal(rx.accepted, 5);
  assert.equal(rx.rejected, 5);
});

Deno.test("stream session: tampered ciphertext, header or counter is refused", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0);
  const rx = new StreamReceiver(s, 0);
  const c = tx.next(0);
  const box = tx.seal(c, aad, packet(1));
  const flipped = box.slice();
  flipped[5] ^= 1;
  assert.equal(rx.open(c, aad, flipped, 0), null);
  assert.equal(rx.open(c, new Uint8Array([1, 2, 3, 5]), box, 0), null);
  assert.equal(rx.open(c + 1n, aad, box, 0), null);
  // the failed attempts did not burn the counter
  assert.deepEqual(rx.open(c, aad, box, 0), packet(1));
});

Deno.test("stream session: a receiver with other secrets cannot open", () => {
  const tx = new StreamSender(secrets(), 0);
  const rx = new StreamReceiver(secrets(), 0);
  const c = tx.next(0);
  assert.equal(rx.open(c, aad, tx.seal(c, aad, packet(1)), 0), null);
});

Deno.test("stream session: rekey by packet count moves to a new epoch the receiver follows", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0, { rekeyAfterPackets: 3 });
  const rx = new StreamReceiver(s, 0);
  const counters: bigint[] = [];
  for (let i = 0; i < 7; i++) {
    const c = tx.next(0);
    counters.push(c);
    assert.deepEqual(rx.open(c, aad, tx.seal(c, aad, packet(i)), 0), packet(i));
  }
  assert.deepEqual(counters.map((c) => Number(c >> 32n)), [0, 0, 0, 1, 1, 1, 2]);
  assert.equal(tx.epoch, 2);
  assert.equal(rx.epoch, 2);
});

Deno.test("stream session: rekey by time; epoch keys differ", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0, { rekeyAfterMs: 1000 });
  const c0 = tx.next(10);
  const box0 = tx.seal(c0, aad, packet(1));
  const c1 = tx.next(1500);
  assert.equal(c1 >> 32n, 1n);
  assert.equal(c1 & 0xffffffffn, 0n);
  const box1 = tx.seal(c1, aad, packet(1));
  // same plaintext, index 0 of two epochs: different keys give different ciphertexts
  const c0again = tx.next(1500);
  assert.notEqual(c0again, c0);
  assert.notDeepEqual(box0, box1);
});

Deno.test("stream session: late packets of the previous epoch still open, older ones do not", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0, { rekeyAfterPackets: 2 });
  const rx = new StreamReceiver(s, 0);
  const frames: [bigint, Uint8Array][] = [];
  for (let i = 0; i < 6; i++) {
    const c = tx.next(0);
    frames.push([c, tx.seal(c, aad, packet(i))]);
  }
  // epochs: 0,0,1,1,2,2 — deliver epoch 1 first, then a late epoch-0 packet: accepted
  assert.notEqual(rx.open(frames[2][0], aad, frames[2][1], 0), null);
  assert.notEqual(rx.open(frames[0][0], aad, frames[0][1], 0), null);
  // epoch 2 arrives; now epoch 0 is too old
  assert.notEqual(rx.open(frames[4][0], aad, frames[4][1], 0), null);
  assert.equal(rx.open(frames[1][0], aad, frames[1][1], 0), null);
  assert.notEqual(rx.open(frames[3][0], aad, frames[3][1], 0), null);
});

Deno.test("stream session: counters far in the future are refused without work", () => {
  const s = secrets();
  const rx = new StreamReceiver(s, 0);
  assert.equal(rx.open(50n << 32n, aad, new Uint8Array(40), 0), null);
  assert.equal(rx.open(-1n, aad, new Uint8Array(40), 0), null);
  assert.equal(rx.open(1n << 64n, aad, new Uint8Array(40), 0), null);
  assert.equal(rx.open(0n, aad, new Uint8Array(3), 0), null);
});

Deno.test("stream session: lastUsedAt tracks activity for idle expiry", () => {
  const s = secrets();
  const tx = new StreamSender(s, 5);
  const rx = new StreamReceiver(s, 5);
  const c = tx.next(100);
  assert.equal(tx.lastUsedAt, 100);
  rx.open(c, aad, tx.seal(c, aad, packet(0)), 250);
  assert.equal(rx.lastUsedAt, 250);
});

Deno.test("stream session: sealInto writes after a header and opens like seal", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0);
  const rx = new StreamReceiver(s, 0);
  const c = tx.next(0);
  const out = new Uint8Array(8 + 100 + 16);
  assert.equal(tx.sealInto(c, aad, packet(3), { out, offset: 8 }), 116);
  assert.deepEqual(rx.open(c, aad, out.subarray(8), 0), packet(3));
});

Deno.test("stream session: openInto writes into a reused buffer and refuses like open", () => {
  const s = secrets();
  const tx = new StreamSender(s, 0);
  const rx = new StreamReceiver(s, 0);
  const out = new Uint8Array(256);
  const c = tx.next(0);
  const box = tx.seal(c, aad, packet(7));
  const flipped = box.slice();
  flipped[0] ^= 1;
  assert.equal(rx.openInto(c, aad, flipped, { out, offset: 4, now: 1 }), -1);
  assert.equal(rx.openInto(c, aad, box, { out: new Uint8Array(50), offset: 0, now: 1 }), -1);
  assert.equal(rx.openInto(c, aad, box, { out, offset: 4, now: 5 }), 100);
  assert.deepEqual(out.subarray(4, 104), packet(7));
  assert.equal(rx.lastUsedAt, 5);
  // a replay is refused even into a fresh buffer
  assert.equal(rx.openInto(c, aad, box, { out, offset: 0, now: 6 }), -1);
  assert.equal(rx.accepted, 1);
  assert.equal(rx.rejected, 3);
});
