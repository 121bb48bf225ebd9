import assert from "node:assert/strict";
import {
  decodeProbe,
  encodeProbe,
  PROBE_BYE,
  PROBE_PING,
  PROBE_PONG,
  PROBE_SIZE,
  ProbeTracker,
} from "./probe.ts";

Deno.test("probe: encode/decode round trip", () => {
  for (const type of [PROBE_PING, PROBE_PONG, PROBE_BYE] as const) {
    const bytes = encodeProbe({ type, seq: 4_000_000_000, time: 1234.5 });
    assert.equal(bytes.length, PROBE_SIZE);
    assert.deepEqual(decodeProbe(bytes), { type, seq: 4_000_000_000, time: 1234.5 });
  }
});

Deno.test("probe: malformed control messages decode to null", () => {
  assert.equal(decodeProbe(new Uint8Array(0)), null);
  assert.equal(decodeProbe(new Uint8Array(12)), null);
  assert.equal(decodeProbe(new Uint8Array(14)), null);
  const bad = encodeProbe({ type: PROBE_PING, seq: 1, time: 1 });
  bad[0] = 9;
  assert.equal(decodeProbe(bad), null);
  const nan = encodeProbe({ type: PROBE_PING, seq: 1, time: 1 });
  new DataView(nan.buffer).setFloat64(5, NaN);
  assert.equal(decodeProbe(nan), null);
  // A view into a larger buffer decodes from its own offset.
  const big = new Uint8Array(PROBE_SIZE + 3);
  big.set(encodeProbe({ type: PROBE_PONG, seq: 5, time: 9 }), 3);
  assert.deepEqual(decodeProbe(big.subarray(3)), { type: PROBE_PONG, seq: 5, time: 9 });
});

Deno.test("probe tracker: RTT from replies, loss from timeouts, unknown replies ignored", () => {
  const t = new ProbeTracker({ timeoutMs: 100, window: 4 });
  assert.ok(Number.isNaN(t.srtt));
  const p1 = t.ping(1000);
  assert.equal(t.pong({ ...p1, type: PROBE_PONG }, 1010), 10);
  assert.equal(t.pong({ ...p1, type: PROBE_PONG }, 1011), null, "duplicate reply");
  assert.equal(t.pong({ type: PROBE_PONG, seq: 999, time: 0 }, 1011), null, "unknown seq");
  assert.equal(t.srtt, 10);
  const p2 = t.ping(2000);
  t.pong({ ...p2, type: PROBE_PONG }, 2030);
  assert.equal(t.srtt, 0.875 * 10 + 0.125 * 30);
  t.ping(3000); // never answered
  t.expire(3100);
  assert.equal(t.loss, 1 / 3);
  assert.equal(t.sent, 3);
  assert.equal(t.answered, 2);
  assert.equal(t.rttP50, 30);
  for (let i = 0; i < 4; i++) t.pong({ ...t.ping(4000 + i), type: PROBE_PONG }, 4001 + i);
  assert.equal(t.loss, 0, "window forgets old losses");
});
