import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";

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
