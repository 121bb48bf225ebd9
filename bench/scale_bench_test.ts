import assert from "node:assert/strict";
import { clusterOf, clusterPath, outageMs, relayOnly, samplePairs } from "./scale_bench.ts";

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
  // One cluster: no pair crosses.
  assert.ok(pairs.every((p) => !p.crossCluster));
});

Deno.test("scale bench: one cluster samples the same pairs as before clusters existed", () => {
  const lcg = () => {
    let x = 7;
    return () => (x = (x * 48271) % 2147483647) / 2147483647;
  };
  const plain = samplePairs(32, 32, lcg());
  const one = samplePairs(32, 32, lcg(), new Set(), (i) => clusterOf(i, 32, 1));
  assert.deepEqual(one, plain);
  // Alternating relay-only and direct, relay-only first.
  assert.deepEqual(plain.slice(0, 4).map((p) => p.relayOnly), [true, false, true, false]);
});

Deno.test("scale bench: clusters are contiguous, balanced blocks holding every site", () => {
  assert.deepEqual(Array.from({ length: 8 }, (_, i) => clusterOf(i, 8, 2)), [
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
  ]);
  assert.ok(Array.from({ length: 32 }, (_, i) => clusterOf(i, 32, 1)).every((c) => c === 0));
  for (const [n, k] of [[32, 2], [33, 2], [32, 3], [48, 4]]) {
    const sizes = Array.from(
      { length: k },
      (_, c) => Array.from({ length: n }, (_, i) => i).filter((i) => clusterOf(i, n, k) === c),
    );
    assert.equal(sizes.flat().length, n);
    assert.ok(
      Math.max(...sizes.map((s) => s.length)) - Math.min(...sizes.map((s) => s.length)) <= 1,
    );
    for (const members of sizes) {
      assert.deepEqual(new Set(members.map((i) => i % 4)).size, 4, `n ${n} k ${k}`);
      // Contiguous.
      assert.equal(members[members.length - 1] - members[0] + 1, members.length);
    }
  }
});

Deno.test("scale bench: a super-cluster sample is two thirds cross-cluster, half relay-only", () => {
  let x = 3;
  const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
  const cl = (i: number) => clusterOf(i, 32, 2);
  const pairs = samplePairs(32, 32, rand, new Set(["0-18"]), cl);
  assert.equal(pairs.length, 32);
  const keys = pairs.map((p) => `${Math.min(p.a, p.b)}-${Math.max(p.a, p.b)}`);
  assert.equal(new Set(keys).size, 32);
  assert.ok(!keys.includes("0-18"));
  for (const p of pairs) {
    assert.equal(p.crossCluster, cl(p.a) !== cl(p.b));
    assert.equal(p.relayOnly, relayOnly(p.a, p.b));
  }
  const count = (cross: boolean, relayed: boolean) =>
    pairs.filter((p) => p.crossCluster === cross && p.relayOnly === relayed).length;
  // 5 full turns of 6 kinds, then cross relay-only and cross direct.
  assert.equal(count(true, true), 11);
  assert.equal(count(true, false), 11);
  assert.equal(count(false, true), 5);
  assert.equal(count(false, false), 5);
  // Both directions occur among cross-cluster pairs (every cluster pings the other).
  const cross = pairs.filter((p) => p.crossCluster);
  assert.ok(cross.some((p) => cl(p.a) === 0) && cross.some((p) => cl(p.a) === 1));
  // A kind that runs out is filled from the next: 8 nodes have only 4 same-cluster relay-only
  // pairs (0-2, 1-3, 4-6, 5-7) and 4 cross-cluster ones (0-6, 1-7, 2-4, 3-5); all 28 pairs.
  const small = samplePairs(8, 28, rand, new Set(), (i) => clusterOf(i, 8, 2));
  assert.equal(small.length, 28);
  assert.equal(small.filter((p) => p.relayOnly && !p.crossCluster).length, 4);
  assert.equal(small.filter((p) => p.relayOnly && p.crossCluster).length, 4);
  // The first six are one of each kind in turn.
  const six = samplePairs(8, 6, rand, new Set(), (i) => clusterOf(i, 8, 2));
  assert.deepEqual(six.map((p) => [p.crossCluster, p.relayOnly]), [
    [true, true],
    [true, false],
    [false, true],
    [true, true],
    [true, false],
    [false, false],
  ]);
});

Deno.test("scale bench: relayed paths are named by clusters relative to the pinger", () => {
  assert.equal(clusterPath(0, 0, 0), "A-A-A");
  assert.equal(clusterPath(1, 1, 1), "A-A-A");
  assert.equal(clusterPath(1, 0, 1), "A-B-A");
  assert.equal(clusterPath(0, 0, 1), "A-A-B");
  assert.equal(clusterPath(1, 0, 0), "A-B-B");
  assert.equal(clusterPath(0, 1, 2), "A-B-C");
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
