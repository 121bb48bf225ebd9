import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { AskBudget } from "./asking.ts";
import { mulberry32 } from "./prng.ts";
import { Net } from "./testing/agent_net.ts";

Deno.test("asking for better routes backs off while it finds nothing, and resets on a loss", () => {
  // S reaches D through A; B and C are dead ends, so asking them never helps.
  const net = new Net([
    ["S", "A", 1],
    ["A", "D", 1],
    ["S", "B", 1],
    ["S", "C", 1],
    ["S", "E", 5],
    ["E", "D", 5],
  ], { askIntervalMs: 1_000, askMaxIntervalMs: 8_000, askTtl: 1 });
  const asks = () =>
    net.sent.filter((s) => s.from === "S" && s.message.kind === "query" && s.message.ttl === 1)
      .length;
  net.run(60_000, [["S", "D"]]);
  const steady = asks();
  // Without backoff: one ask a second, 60. With it: 1, 2, 4, 8, 8, 8... seconds apart.
  assert.ok(steady >= 4 && steady <= 12, `${steady} asks in 60 s`);
  assert.equal(net.agent("S").best("D")?.nextHop, "A");
  net.fail("A", "D"); // S falls back to the much longer route through E...
  net.run(3_000, [["S", "D"]]);
  assert.equal(net.agent("S").best("D")?.nextHop, "E");
  assert.ok(asks() - steady >= 2, "...and asks at the short interval again");
});

Deno.test("only nodes that carry data ask for better routes, not those that answered a query", () => {
  const agent = new RouteAgent({ self: "A", random: mulberry32(1), askIntervalMs: 1_000 });
  for (const p of ["S", "D", "B"]) agent.linkMeasured(p, 0, { rttMs: 2 });
  const query = {
    kind: "query" as const,
    queryId: 1,
    origin: "S",
    destination: "D",
    ttl: 8,
    path: ["S"],
    closestMs: Infinity,
    stall: 0,
  };
  agent.receive("S", query, 0);
  const queriesBetween = (from: number, to: number) => {
    let n = 0;
    for (let t = from; t <= to; t += 100) {
      n += agent.poll(t).filter((m) => m.message.kind === "query").length;
    }
    return n;
  };
  // Answering must not make A ask its own neighbours: that would spread like a flood.
  assert.equal(queriesBetween(0, 10_000), 0);
  agent.noteUpstream("S", "D", 10_000); // now S sends frames for D through A
  assert.ok(queriesBetween(10_000, 12_000) > 0, "a relay in use looks for better routes");
});

Deno.test("the ask budget caps asks per node, however many routes it carries", () => {
  const run = (askBudgetPerSec: number) => {
    const agent = new RouteAgent({
      self: "A",
      random: mulberry32(3),
      askIntervalMs: 1_000,
      askMaxIntervalMs: 1_000, // no backoff: only the budget limits asking here
      askBudgetPerSec,
    });
    for (let i = 0; i < 10; i++) agent.linkMeasured(`p${i}`, 0, { rttMs: 2 });
    // A relays 40 destinations, each reachable through p0.
    const estimates = Array.from({ length: 40 }, (_, i) => ({
      destination: `d${i}`,
      estimateMs: 5,
      hops: 2,
    }));
    agent.receive("p0", { kind: "report", estimates }, 0);
    let asks = 0;
    for (let t = 0; t <= 20_000; t += 100) {
      for (const e of estimates) agent.noteUpstream("p1", e.destination, t);
      asks += agent.poll(t).filter((m) => m.message.kind === "query").length;
    }
    return asks;
  };
  const capped = run(0.5);
  // 20 s at 0.5 asks/s plus a burst of 2: at most 12, where 40 routes would ask ~400 times.
  assert.ok(capped >= 5 && capped <= 12, `${capped} asks with the budget`);
  const free = run(100);
  assert.ok(free > 100, `${free}: without a real budget every route asks`);
});

Deno.test("agent: a route learnt on the side is checked with the other peers on first use", () => {
  const agent = new RouteAgent({ self: "a", random: mulberry32(5) });
  agent.linkMeasured("b", 0, { rttMs: 2 });
  agent.linkMeasured("c", 0, { rttMs: 2 });
  // b's answer to a query a only forwarded for someone else.
  agent.receive(
    "b",
    { kind: "report", estimates: [{ destination: "d", estimateMs: 9, hops: 1 }] },
    1,
  );
  agent.poll(1);
  assert.equal(agent.choose("d", 2).kind, "next-hop");
  // The peer that is not yet a candidate is asked at once (not after the 15 s ask interval).
  const queried = agent.poll(3).filter((m) => m.message.kind === "query").map((m) => m.to);
  assert.deepEqual(queried, ["c"]);
  agent.choose("d", 4);
  assert.equal(agent.poll(5).filter((m) => m.message.kind === "query").length, 0);
});

Deno.test("agent: the first-use ask needs no ask token", () => {
  const agent = new RouteAgent({ self: "a", random: mulberry32(6), askBudgetPerSec: 0 });
  agent.linkMeasured("b", 0, { rttMs: 2 });
  agent.linkMeasured("c", 0, { rttMs: 2 });
  // Spend the saved-up asks on other destinations this node uses.
  for (const dest of ["x", "y", "z"]) {
    agent.receive("b", {
      kind: "report",
      estimates: [{ destination: dest, estimateMs: 5, hops: 1 }],
    }, 1);
    agent.choose(dest, 1);
    agent.poll(1);
  }
  agent.receive(
    "b",
    { kind: "report", estimates: [{ destination: "d", estimateMs: 9, hops: 1 }] },
    2,
  );
  agent.choose("d", 2);
  const queried = agent.poll(3).filter((m) =>
    m.message.kind === "query" && m.message.destination === "d"
  );
  assert.deepEqual(queried.map((m) => m.to), ["c"]);
});

Deno.test("agent: a tether that comes up is asked at once about destinations in use", () => {
  const agent = new RouteAgent({ self: "a", random: mulberry32(7) });
  agent.linkMeasured("b", 0, { rttMs: 2 });
  agent.receive(
    "b",
    { kind: "report", estimates: [{ destination: "d", estimateMs: 9, hops: 1 }] },
    1,
  );
  agent.choose("d", 1);
  agent.poll(1);
  agent.poll(2_000); // the first-use ask found nobody else to ask
  // c comes up long before the next ask (15 s): it is asked about d now, not then.
  agent.linkMeasured("c", 2_100, { rttMs: 2 });
  const queried = agent.poll(2_100).filter((m) => m.message.kind === "query");
  assert.deepEqual(
    queried.map((m) => [m.to, m.message.kind === "query" && m.message.destination]),
    [
      ["c", "d"],
    ],
  );
  // Its answer makes it a candidate beside b.
  agent.receive(
    "c",
    { kind: "report", estimates: [{ destination: "d", estimateMs: 20, hops: 1 }] },
    2_110,
  );
  assert.deepEqual(agent.candidates("d").map((e) => e.nextHop), ["b", "c"]);
});

Deno.test("agent: a candidate that reported no route is asked again", () => {
  const agent = new RouteAgent({ self: "a", random: mulberry32(8), askIntervalMs: 1_000 });
  agent.linkMeasured("b", 0, { rttMs: 2 });
  agent.linkMeasured("c", 0, { rttMs: 2 });
  const report = (from: string, estimateMs: number, at: number) =>
    agent.receive(
      from,
      { kind: "report", estimates: [{ destination: "d", estimateMs, hops: 1 }] },
      at,
    );
  report("b", 5, 1);
  report("c", 9, 1);
  agent.choose("d", 1);
  report("c", Infinity, 2); // c lost its route (say its tether to d flapped)...
  assert.deepEqual(agent.candidates("d").map((e) => e.nextHop), ["b"]);
  // ...and is asked again at the next ask, though it is still listed as a candidate.
  const asked: string[] = [];
  for (let t = 100; t <= 5_000; t += 100) {
    agent.choose("d", t);
    for (const m of agent.poll(t)) if (m.message.kind === "query") asked.push(m.to);
  }
  assert.ok(asked.includes("c"), `asked ${asked}`);
});

Deno.test("ask budget: a burst, then the refill rate", () => {
  const budget = new AskBudget(0.5);
  assert.ok(budget.take(0));
  assert.ok(budget.take(0));
  assert.ok(!budget.take(0), "the burst of 2 is spent");
  assert.ok(!budget.take(1_000), "half a token after 1 s");
  assert.ok(budget.take(2_000));
});
