import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";
import { Net } from "./testing/agent_net.ts";

// A graph where the cheapest first link (A-B) is not on the shortest path (A-C-E).
const GRAPH: [string, string, number][] = [
  ["A", "B", 1],
  ["B", "E", 20],
  ["A", "C", 5],
  ["C", "E", 5],
  ["A", "D", 3],
  ["D", "E", 30],
  ["C", "D", 2],
  ["B", "D", 2],
];

Deno.test("agent converges: estimates approach true delays and the next hop is the shortest", () => {
  const net = new Net(GRAPH, { askIntervalMs: 2_000 });
  net.run(30_000, [["A", "E"], ["B", "E"], ["D", "E"]]);
  for (const src of ["A", "B", "D"]) {
    const truth = net.truth(src, "E");
    const best = net.agent(src).best("E");
    assert.ok(best, `${src} has a route`);
    assert.ok(
      Math.abs(best.estimateMs - truth) / truth < 0.05,
      `${src}: estimate ${best.estimateMs} vs true ${truth}`,
    );
  }
  assert.equal(net.agent("A").best("E")?.nextHop, "C");
  assert.deepEqual(net.send("A", "E"), ["A", "C", "E"]);
});

Deno.test("failure of the used next hop moves traffic at once and tells upstream", () => {
  const net = new Net([
    ["U", "A", 1],
    ["A", "X", 2],
    ["A", "Y", 5],
    ["X", "D", 2],
    ["Y", "D", 2],
  ], { askIntervalMs: 1_000 });
  net.run(10_000, [["U", "D"]]);
  assert.equal(net.agent("A").best("D")?.nextHop, "X");
  assert.ok(Number.isFinite(net.agent("A").estimateVia("D", "Y")), "Y is a known candidate");
  const before = net.agent("U").best("D")!.estimateMs;
  net.sent.length = 0;
  net.fail("A", "X");
  // No poll, no message: the very next choice already avoids X.
  const c = net.agent("A").choose("D", net.now, { exclude: "U", discover: false });
  assert.equal(c.kind, "next-hop");
  if (c.kind === "next-hop") assert.equal(c.nextHop, "Y");
  net.settle();
  const told = net.sent.filter((s) => s.from === "A" && s.to === "U");
  assert.ok(told.length > 0, "upstream hears the new estimate");
  assert.ok(net.agent("U").best("D")!.estimateMs > before);
  assert.deepEqual(net.send("U", "D"), ["U", "A", "Y", "D"]);
});

Deno.test("a relay never sends a frame back where it came from", () => {
  const agent = new RouteAgent({ self: "R", random: mulberry32(1) });
  agent.linkMeasured("P", 0, { rttMs: 2 });
  agent.receive(
    "P",
    { kind: "report", estimates: [{ destination: "D", estimateMs: 5, hops: 1 }] },
    0,
  );
  assert.equal(agent.choose("D", 1).kind, "next-hop");
  assert.equal(agent.choose("D", 1, { exclude: "P", discover: false }).kind, "no-route");
});

Deno.test("messages from non-neighbours and for ourselves are ignored", () => {
  const agent = new RouteAgent({ self: "S", random: mulberry32(1) });
  agent.receive(
    "X",
    { kind: "report", estimates: [{ destination: "D", estimateMs: 1, hops: 1 }] },
    0,
  );
  assert.equal(agent.best("D"), null);
  assert.deepEqual(agent.choose("S", 0), { kind: "local" });
});
