import assert from "node:assert/strict";
import { outageMs, relayOnly, samplePairs } from "./scale_bench.ts";

Deno.test("scale bench: opposite sites are relay-only, both ways", () => {
  assert.equal(relayOnly(0, 2), true);
  assert.equal(relayOnly(2, 0), true);
  assert.equal(relayOnly(1, 7), true);
  assert.equal(relayOnly(0, 1), false);
  assert.equal(relayOnly(0, 4), false);
});

Deno.test("scale bench: sampled pairs are distinct, half relay-only, never excluded", () => {
  let x = 1;
  const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
  const pairs = samplePairs(32, 32, rand, new Set(["0-2"]));
  assert.equal(pairs.length, 32);
  assert.equal(pairs.filter((p) => p.relayOnly).length, 16);
  const keys = pairs.map((p) => `${Math.min(p.a, p.b)}-${Math.max(p.a, p.b)}`);
  assert.equal(new Set(keys).size, 32);
  assert.ok(!keys.includes("0-2"));
  for (const p of pairs) assert.equal(p.relayOnly, relayOnly(p.a, p.b));
  // Fewer pairs than asked when the nodes have no more.
  assert.equal(samplePairs(4, 10, rand).length, 6);
});

Deno.test("scale bench: outage is the longest gap between replies, minus one interval", () => {
  const every = (from: number, to: number) =>
    Array.from({ length: (to - from) * 2 + 1 }, (_, i) => from + i / 2);
  // Replies every 0.5 s: no outage.
  assert.deepEqual(outageMs(every(0, 10), 2, 8), { ms: 0, recovered: true });
  // A 3 s hole after the event.
  const hole = [...every(0, 5), ...every(8, 12)];
  assert.equal(Math.round(outageMs(hole, 5.2, 12).ms), 2500);
  // No reply after the event: a lower bound, not recovered.
  const r = outageMs(every(0, 5), 5.2, 12);
  assert.equal(r.recovered, false);
  assert.equal(Math.round(r.ms), 6500);
});
