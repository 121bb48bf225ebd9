import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";

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
