import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";
import { Net } from "./testing/agent_net.ts";

Deno.test("all estimates infinite: no route, discovery starts, then backs off", () => {
  const agent = new RouteAgent({
    self: "S",
    random: mulberry32(1),
    queryTimeoutMs: 1_000,
    queryFanout: [1, 2],
    discoveryBackoffMs: 5_000,
  });
  for (const p of ["x", "y", "z"]) {
    agent.linkMeasured(p, 0, { rttMs: 4 });
    agent.receive(p, {
      kind: "report",
      estimates: [{ destination: "D", estimateMs: 10, hops: 1 }],
    }, 0);
    agent.receive(p, {
      kind: "report",
      estimates: [{ destination: "D", estimateMs: Infinity, hops: 0 }],
    }, 1);
  }
  assert.equal(agent.best("D"), null);
  assert.deepEqual(agent.choose("D", 2), { kind: "no-route", discovering: true });
  const first = agent.poll(2);
  assert.equal(first.length, 1);
  assert.equal(first[0].message.kind, "query");
  if (first[0].message.kind === "query") assert.equal(first[0].message.destination, "D");
  assert.equal(agent.poll(500).length, 0, "no retry before the timeout");
  const second = agent.poll(1_100);
  assert.equal(second.filter((m) => m.message.kind === "query").length, 2, "wider retry");
  assert.equal(agent.poll(2_200).length, 0);
  assert.equal(agent.stats.discoveriesFailed, 1);
  assert.deepEqual(agent.choose("D", 2_300), { kind: "no-route", discovering: false });
  assert.equal(agent.poll(2_400).length, 0, "backing off");
  agent.choose("D", 7_300);
  assert.ok(agent.poll(7_300).some((m) => m.message.kind === "query"), "discovers again");
});

Deno.test("discovery finds a multi-hop route; nodes with nothing useful stay silent", () => {
  const net = new Net([
    ["A", "B", 1],
    ["B", "C", 1],
    ["C", "D", 1],
    ["A", "F", 1],
  ]);
  assert.deepEqual(net.agent("A").choose("D", 0), { kind: "no-route", discovering: true });
  net.settle();
  assert.equal(net.agent("A").best("D")?.nextHop, "B");
  assert.equal(net.agent("A").best("D")?.hops, 3);
  const reports = net.sent.filter((s) => s.message.kind === "report");
  assert.ok(reports.length > 0);
  assert.ok(!reports.some((s) => s.from === "F"), "F knows nothing about D and says nothing");
  assert.ok(!net.sent.some((s) => s.from === "D" || s.to === "D"), "C answered for D");
  assert.deepEqual(net.send("A", "D"), ["A", "B", "C", "D"]);
});
