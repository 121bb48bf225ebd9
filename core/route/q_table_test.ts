import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";

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
