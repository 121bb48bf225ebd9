import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";

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
