import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";

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
