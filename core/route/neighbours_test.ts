import assert from "node:assert/strict";
import { linkCost, Neighbours } from "./neighbours.ts";

Deno.test("link cost: half the RTT plus queueing, inflated by loss, bounded", () => {
  const link = { srttMs: 10, loss: 0, queueMs: 2, up: true, announcedCost: 0 };
  assert.equal(linkCost(link), 7);
  assert.equal(linkCost({ ...link, loss: 0.5 }), 14);
  assert.equal(linkCost({ ...link, loss: 1 }), 70); // never below 10 % delivery
});

Deno.test("neighbours: a tether comes up, moves only noticeably, goes down and recovers", () => {
  const n = new Neighbours(0.5, 0.1);
  assert.equal(n.measure("a", { rttMs: 20 }), "up");
  assert.equal(n.cost("a"), 10);
  const v = n.version;
  // 20 → 21 ms smoothed to 20.5: the cost moves by 0.25 ms, under half the 10 % threshold.
  assert.equal(n.measure("a", { rttMs: 21 }), null);
  assert.equal(n.version, v);
  assert.equal(n.measure("a", { rttMs: 40 }), "moved");
  assert.ok(n.version > v);
  assert.equal(n.measure("a", { rttMs: NaN }), null);
  assert.deepEqual(n.up(), ["a"]);
  const before = n.cost("a");
  assert.equal(n.down("a"), before, "down returns what routes through it were worth");
  assert.equal(n.cost("a"), Infinity);
  assert.equal(n.isUp("a"), false);
  assert.equal(n.down("a"), null);
  assert.equal(n.measure("b", { rttMs: 2 }), "up");
  assert.equal(n.measure("a", { rttMs: 4 }), "recovered");
  assert.deepEqual(n.up(), ["a", "b"], "a keeps its place");
});
