import assert from "node:assert/strict";
import { RouteAgent } from "./agent.ts";
import { resolveTuning } from "./options.ts";

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

Deno.test("tuning: defaults, and values clamped where a range is implied", () => {
  const t = resolveTuning({ self: "S", random: Math.random });
  assert.equal(t.hopLimit, 16);
  assert.equal(t.queryTtl, 16);
  assert.deepEqual(t.queryFanout, [2, 4, 8]);
  assert.equal(t.askTtl, 3);
  assert.equal(t.holdDownMs, 200);
  assert.equal(t.heuristic("a", "b"), 0);
  const c = resolveTuning({
    self: "S",
    random: Math.random,
    hopLimit: 4,
    askTtl: 9,
    explorationSlack: 0.5,
    askIntervalMs: 10_000,
    askMaxIntervalMs: 1_000,
  });
  assert.equal(c.queryTtl, 4, "queries default to the hop limit");
  assert.equal(c.askTtl, 4, "asks never travel further than queries");
  assert.equal(c.explorationSlack, 1);
  assert.equal(c.askMaxIntervalMs, 10_000);
  assert.throws(() => resolveTuning({ self: "S", random: Math.random, queryFanout: [] }), {
    name: "RouteError",
  });
});
