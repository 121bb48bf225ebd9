import assert from "node:assert/strict";
import { TetherError } from "./errors.ts";
import {
  decodeSignal,
  encodeSignal,
  memorySignalerPair,
  parseSignal,
  type Signal,
  SignalQueue,
} from "./signaler.ts";

Deno.test("signal: encode/decode round trip keeps only known fields", () => {
  const s: Signal = {
    kind: "candidate",
    session: "s1",
    candidate: "candidate:1 1 UDP 1 h 1 typ host",
    mid: "0",
  };
  assert.deepEqual(decodeSignal(encodeSignal(s)), s);
  assert.deepEqual(parseSignal({ kind: "offer", session: "s", sdp: "v=0", extra: 1 }), {
    kind: "offer",
    session: "s",
    sdp: "v=0",
  });
});

Deno.test("signal: the optional channel count is checked", () => {
  assert.equal(parseSignal({ kind: "offer", session: "s", sdp: "v=0", channels: 4 }).kind, "offer");
  assert.deepEqual(parseSignal({ kind: "answer", session: "s", sdp: "v=0", channels: 2 }), {
    kind: "answer",
    session: "s",
    sdp: "v=0",
    channels: 2,
  });
  for (const channels of [0, 65, 1.5, "4", null]) {
    assert.throws(
      () => parseSignal({ kind: "offer", session: "s", sdp: "v=0", channels }),
      TetherError,
    );
  }
});

Deno.test("signal: garbage gets a typed error", () => {
  const bad: unknown[] = [
    null,
    42,
    "offer",
    {},
    { kind: "offer", session: "s" },
    { kind: "offer", session: "", sdp: "v=0" },
    { kind: "bye", session: "s" },
    { kind: "answer", session: "s", sdp: "x".repeat(20_000) },
    { kind: "candidate", session: "s", candidate: 5, mid: "0" },
  ];
  for (const v of bad) assert.throws(() => parseSignal(v), TetherError);
  for (const bytes of [new Uint8Array([0xff, 0xfe]), new TextEncoder().encode("{")]) {
    assert.throws(
      () => decodeSignal(bytes),
      (e) => e instanceof TetherError && e.code === "bad-signal",
    );
  }
});

Deno.test("signal queue: ordered delivery, bounded, closes readers", async () => {
  const q = new SignalQueue(2);
  const s = (n: number): Signal => ({ kind: "offer", session: `s${n}`, sdp: "v=0" });
  assert.equal(q.push(s(1)), true);
  assert.equal(q.push(s(2)), true);
  assert.equal(q.push(s(3)), false, "full");
  const it = q[Symbol.asyncIterator]();
  assert.equal(((await it.next()).value as Signal).session, "s1");
  assert.equal(((await it.next()).value as Signal).session, "s2");
  const pending = it.next();
  q.close();
  assert.equal((await pending).done, true);
  assert.equal(q.push(s(4)), false, "closed");
});

Deno.test("memory signaler pair: each side receives what the other sends", async () => {
  const pair = memorySignalerPair();
  const [a, b] = pair;
  await a.send({ kind: "offer", session: "x", sdp: "v=0" });
  await b.send({ kind: "answer", session: "x", sdp: "v=1" });
  const ib = b.incoming[Symbol.asyncIterator]();
  const ia = a.incoming[Symbol.asyncIterator]();
  assert.equal(((await ib.next()).value as Signal).kind, "offer");
  assert.equal(((await ia.next()).value as Signal).kind, "answer");
  pair.close();
  assert.equal((await ia.next()).done, true);
});
