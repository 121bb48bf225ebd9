import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import type { RouteAgentOptions } from "./agent.ts";
import type { OutboundRouteMessage, RouteMessage } from "./messages.ts";
import { mulberry32 } from "./prng.ts";
import { shortestDelays } from "../../sim/dijkstra.ts";
import {
  buildTopology,
  FIBRE_KM_PER_MS,
  greatCircleKm,
  placeNodes,
  ROUTE_INFLATION,
} from "../../sim/globe.ts";

/** A tiny synchronous network of real agents: links with one-way delays in ms. */
class Net {
  readonly agents = new Map<string, RouteAgent>();
  readonly links: { a: string; b: string; delayMs: number }[];
  readonly sent: { from: string; to: string; message: RouteMessage }[] = [];
  readonly down = new Set<string>();
  now = 0;

  constructor(
    links: [string, string, number][],
    options: Partial<RouteAgentOptions> = {},
  ) {
    this.links = links.map(([a, b, delayMs]) => ({ a, b, delayMs }));
    const names = [...new Set(links.flatMap(([a, b]) => [a, b]))].sort();
    names.forEach((self, i) =>
      this.agents.set(self, new RouteAgent({ self, random: mulberry32(i + 1), ...options }))
    );
    this.probe();
  }

  agent(name: string): RouteAgent {
    return this.agents.get(name)!;
  }

  key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  probe(): void {
    for (const l of this.links) {
      if (this.down.has(this.key(l.a, l.b))) continue;
      this.agent(l.a).linkMeasured(l.b, this.now, { rttMs: 2 * l.delayMs });
      this.agent(l.b).linkMeasured(l.a, this.now, { rttMs: 2 * l.delayMs });
    }
  }

  fail(a: string, b: string): void {
    this.down.add(this.key(a, b));
    this.agent(a).linkDown(b, this.now);
    this.agent(b).linkDown(a, this.now);
  }

  /** Polls everyone and delivers until no message is left (bounded). */
  settle(): void {
    for (let round = 0; round < 100; round++) {
      const batch: { from: string; out: OutboundRouteMessage }[] = [];
      for (const [name, agent] of this.agents) {
        for (const out of agent.poll(this.now)) batch.push({ from: name, out });
      }
      if (batch.length === 0) return;
      for (const { from, out } of batch) {
        this.sent.push({ from, to: out.to, message: out.message });
        if (this.down.has(this.key(from, out.to))) continue;
        this.agent(out.to).receive(from, out.message, this.now);
      }
    }
    throw new Error("network did not settle");
  }

  /** Sends one packet hop by hop; returns the path, or null if it was lost. */
  send(src: string, dst: string): string[] | null {
    const path = [src];
    let cur = src;
    let prev: string | undefined;
    for (let hops = 0; hops < 32; hops++) {
      if (cur === dst) return path;
      const c = this.agent(cur).choose(
        dst,
        this.now,
        prev === undefined ? {} : { exclude: prev, discover: false },
      );
      if (c.kind !== "next-hop") return null;
      if (this.down.has(this.key(cur, c.nextHop))) return null;
      this.agent(c.nextHop).noteUpstream(cur, dst, this.now);
      prev = cur;
      cur = c.nextHop;
      path.push(cur);
    }
    return null;
  }

  /** Advances time in steps, probing once a second and sending `packets` per step. */
  run(ms: number, flows: [string, string][], stepMs = 100): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += stepMs;
      if (this.now % 1000 === 0) this.probe();
      for (const [s, d] of flows) this.send(s, d);
      this.settle();
    }
  }

  /** True shortest delay between two nodes, from Dijkstra over the same links. */
  truth(src: string, dst: string): number {
    const names = [...this.agents.keys()];
    const idx = new Map(names.map((n, i) => [n, i]));
    const links = this.links.map((l) => ({ a: idx.get(l.a)!, b: idx.get(l.b)! }));
    const adjacency: number[][] = names.map(() => []);
    links.forEach((l, i) => {
      adjacency[l.a].push(i);
      adjacency[l.b].push(i);
    });
    const dist = shortestDelays(
      { links, adjacency },
      idx.get(src)!,
      (li) =>
        this.down.has(this.key(this.links[li].a, this.links[li].b))
          ? Infinity
          : this.links[li].delayMs,
    );
    return dist[idx.get(dst)!];
  }
}

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

Deno.test("exploration stays within its cap even with many similar peers", () => {
  const peers = Array.from({ length: 20 }, (_, i) => `p${i}`);
  const cap = 0.05;
  const agent = new RouteAgent({ self: "S", random: mulberry32(7), explorationCap: cap });
  for (const [i, p] of peers.entries()) {
    agent.linkMeasured(p, 0, { rttMs: 10 + i * 0.1 });
    agent.receive(p, {
      kind: "report",
      estimates: [{ destination: "D", estimateMs: 20, hops: 2 }],
    }, 0);
  }
  // One far worse peer: beyond the exploration slack, it must never be tried.
  agent.linkMeasured("far", 0, { rttMs: 10 });
  agent.receive("far", {
    kind: "report",
    estimates: [{ destination: "D", estimateMs: 500, hops: 2 }],
  }, 0);
  let explored = 0;
  const used = new Set<string>();
  for (let i = 1; i <= 10_000; i++) {
    const c = agent.choose("D", i);
    assert.equal(c.kind, "next-hop");
    if (c.kind !== "next-hop") continue;
    used.add(c.nextHop);
    assert.notEqual(c.nextHop, "far");
    if (c.explored) explored++;
    assert.ok(explored <= cap * i, `explored ${explored} of ${i}`);
  }
  assert.ok(explored > 0, "exploration happens");
  assert.ok(used.size > 2, "exploration visits other candidates");
  assert.equal(agent.stats.explorations, explored);
  assert.equal(agent.stats.decisions, 10_000);
});

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

Deno.test("reports go only to neighbours that use us, with poisoned reverse", () => {
  const agent = new RouteAgent({ self: "R", random: mulberry32(1) });
  for (const p of ["P", "Q", "S"]) agent.linkMeasured(p, 0, { rttMs: 2 });
  agent.linkMeasured("D", 0, { rttMs: 20 });
  assert.equal(agent.poll(0).length, 0, "nobody asked, nobody hears");
  agent.noteUpstream("P", "D", 1);
  const out = agent.poll(1).filter((o) => o.message.kind === "report");
  assert.deepEqual(out.map((o) => o.to), ["P"]);
  const m = out[0].message;
  assert.equal(m.kind, "report");
  if (m.kind === "report") {
    assert.deepEqual(m.estimates, [{ destination: "D", estimateMs: 10, hops: 1 }]);
  }
  assert.ok(
    !agent.poll(2).some((o) => o.message.kind === "report"),
    "unchanged estimates are not repeated",
  );
  // Q offers a better route; P, who uses us, hears the improvement. Q itself must not be told
  // a route that goes back through Q.
  agent.noteUpstream("Q", "D", 300);
  agent.receive(
    "Q",
    { kind: "report", estimates: [{ destination: "D", estimateMs: 1, hops: 1 }] },
    300,
  );
  const next = agent.poll(600);
  const toP = next.find((o) => o.to === "P")?.message;
  const toQ = next.find((o) => o.to === "Q")?.message;
  assert.ok(toP && toP.kind === "report" && toP.estimates[0].estimateMs === 2);
  assert.ok(toQ && toQ.kind === "report" && toQ.estimates[0].estimateMs === 10);
  assert.ok(!next.some((o) => o.to === "S" && o.message.kind === "report"));
});

Deno.test("routes longer than the hop limit count as no route", () => {
  const agent = new RouteAgent({ self: "S", random: mulberry32(1), hopLimit: 4 });
  agent.linkMeasured("P", 0, { rttMs: 2 });
  agent.receive(
    "P",
    { kind: "report", estimates: [{ destination: "D", estimateMs: 5, hops: 4 }] },
    0,
  );
  assert.equal(agent.best("D"), null);
  agent.receive(
    "P",
    { kind: "report", estimates: [{ destination: "D", estimateMs: 5, hops: 3 }] },
    1,
  );
  assert.equal(agent.best("D")?.hops, 4);
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

Deno.test("bad options are rejected with a typed error", () => {
  assert.throws(() => new RouteAgent({ self: "", random: Math.random }), { name: "RouteError" });
  assert.throws(
    () => new RouteAgent({ self: "S", random: Math.random, explorationCap: 2 }),
    { name: "RouteError" },
  );
  assert.throws(
    () => new RouteAgent({ self: "S", random: Math.random, hopLimit: 0 }),
    { name: "RouteError" },
  );
});

/** A small world of `n` nodes on the globe (as in sim/), with the position prior for queries. */
function smallWorld(n: number, seed: number, options: Partial<RouteAgentOptions> = {}): Net {
  const random = mulberry32(seed);
  const places = placeNodes(n, random);
  const topo = buildTopology(places, random, { nearest: 4, long: 2 });
  const heuristic = (a: string, b: string) =>
    (greatCircleKm(places[Number(a.slice(1))], places[Number(b.slice(1))]) * ROUTE_INFLATION) /
    FIBRE_KM_PER_MS;
  return new Net(
    topo.links.map((l) => [`n${l.a}`, `n${l.b}`, l.delayMs]),
    { hopLimit: 32, heuristic, ...options },
  );
}

Deno.test("discovery on a 600-node small world: every cold query finds its destination", () => {
  const random = mulberry32(99);
  let walks = 0;
  for (let i = 0; i < 25; i++) {
    // A fresh realm for every pair, so that no earlier answer helps: each query must walk all
    // the way to the destination itself, within the first attempt (two walks, no retry).
    const net = smallWorld(600, 11);
    const src = `n${Math.floor(random() * 600)}`;
    const dst = `n${Math.floor(random() * 600)}`;
    if (src === dst || net.agent(src).best(dst)) continue;
    assert.equal(net.agent(src).choose(dst, 0).kind, "no-route");
    net.settle();
    walks += net.sent.filter((s) => s.message.kind === "query").length;
    assert.ok(net.agent(src).best(dst), `${src} found ${dst}`);
    assert.equal(net.agent(src).stats.discoveriesStarted, 1);
  }
  // Each discovery is two bounded walks (not a flood): at most 2 × TTL query messages.
  assert.ok(walks > 0 && walks <= 25 * 2 * 32, `${walks} query messages`);
});

Deno.test("a query steered by cost as much as by the prior crawls and runs out of hops", () => {
  // The same realm and pairs with a tight TTL: progress-first steering (the default) gets
  // further than steering that scores each hop by its whole detour (cost weight 1).
  const found = (queryCostWeight: number) => {
    const net = smallWorld(600, 11, { queryTtl: 8, queryFanout: [1], queryCostWeight });
    const random = mulberry32(5);
    let ok = 0;
    for (let i = 0; i < 40; i++) {
      const a = `n${Math.floor(random() * 600)}`;
      const b = `n${Math.floor(random() * 600)}`;
      if (a === b) continue;
      net.agent(a).choose(b, net.now);
      net.settle();
      if (net.agent(a).best(b)) ok++;
      net.now += 10_000;
    }
    return ok;
  };
  const progress = found(0.1);
  const detour = found(1);
  assert.ok(progress > detour, `progress-first ${progress} vs detour ${detour}`);
});

Deno.test("hold-down: after losing its route a node uses only neighbours that cannot loop", () => {
  const agent = new RouteAgent({ self: "A", random: mulberry32(1), holdDownMs: 500 });
  for (const p of ["X", "B", "U"]) agent.linkMeasured(p, 0, { rttMs: 2 });
  const report = (from: string, estimateMs: number, hops: number, now: number) =>
    agent.receive(
      from,
      { kind: "report", estimates: [{ destination: "D", estimateMs, hops }] },
      now,
    );
  report("X", 2, 1, 0); // A -> X -> D: 3 ms
  report("B", 10, 4, 0); // B's (stale) route runs through A itself: B -> C -> A -> X -> D
  agent.noteUpstream("U", "D", 0);
  agent.poll(0);
  assert.equal(agent.best("D")?.nextHop, "X");
  agent.linkDown("X", 100);
  // B reported more than our old 3 ms: it may route through us, so it is not used yet.
  assert.deepEqual(agent.choose("D", 100, { exclude: "U", discover: false }), {
    kind: "no-route",
    discovering: false,
  });
  const told = agent.poll(100).filter((m) => m.to === "U" && m.message.kind === "report");
  assert.equal(told.length, 1);
  const poisoned = told[0].message;
  assert.ok(poisoned.kind === "report" && poisoned.estimates[0].estimateMs === Infinity);
  // A neighbour strictly closer than we were is safe at once, even during the hold.
  agent.linkMeasured("Y", 150, { rttMs: 4 });
  report("Y", 2.5, 2, 150);
  assert.equal(agent.best("D")?.nextHop, "Y");
  report("Y", Infinity, 0, 200);
  assert.equal(agent.best("D"), null);
  // Once the hold is over, the longer route through B is taken.
  agent.poll(700);
  const c = agent.choose("D", 700, { exclude: "U", discover: false });
  assert.equal(c.kind === "next-hop" && c.nextHop, "B");
});

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

Deno.test("agent: a neighbour inventing destinations cannot grow its state past the cap", () => {
  const agent = new RouteAgent({ self: "me", random: mulberry32(3), maxDestinations: 10 });
  agent.linkMeasured("n", 0, { rttMs: 2 });
  const estimates = Array.from({ length: 512 }, (_, i) => ({
    destination: `fake-${i}`,
    estimateMs: 1,
    hops: 1,
  }));
  agent.receive("n", { kind: "report", estimates }, 1);
  for (let i = 0; i < 100; i++) {
    agent.receive("n", {
      kind: "query",
      queryId: i,
      origin: "n",
      destination: `q-${i}`,
      ttl: 4,
      path: ["n"],
      closestMs: Infinity,
      stall: 0,
    }, 2);
    agent.noteUpstream("n", `relayed-${i}`, 3);
  }
  assert.ok(agent.snapshot().length <= 10, `${agent.snapshot().length} destinations`);
  // What it already knows still updates, and the node's own choices still work.
  assert.equal(agent.best("fake-0")?.nextHop, "n");
  assert.equal(agent.choose("n", 4).kind, "next-hop");
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
