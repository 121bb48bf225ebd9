import assert from "node:assert/strict";
import { runSimulation } from "./network.ts";

Deno.test("simulation: agents find near-shortest routes and heal after a relay failure", () => {
  const r = runSimulation({ nodes: 60, seed: 5, scenario: "relay-failure", stretchSamples: 60 });
  assert.equal(r.nodes, 60);
  assert.ok(r.stretch.samples > 40);
  assert.ok(r.stretch.mean >= 1, "never shorter than the shortest path");
  assert.ok(r.stretch.mean < 1.5, `mean stretch ${r.stretch.mean}`);
  assert.ok(r.stretch.noRoute < 0.05);
  assert.ok(r.discovery.flowsRouted >= 0.99, `flows routed ${r.discovery.flowsRouted}`);
  assert.ok(r.discovery.started >= r.flows * 0.5 && r.discovery.failed === 0);
  assert.ok(r.delivery.steady > 0.95, `steady delivery ${r.delivery.steady}`);
  assert.ok(r.recovery && r.recovery.affectedFlows > 0, "the failed relay carried flows");
  assert.equal(
    r.recovery.recovered,
    r.recovery.affectedFlows - r.recovery.unreachable,
    "every flow whose destination is still reachable recovered",
  );
  assert.ok(r.explorationRate <= 0.05);
  assert.ok(r.control.steadyPerNodePerSec > 0);
});

Deno.test("simulation is deterministic for a seed", () => {
  const a = runSimulation({ nodes: 30, seed: 2, scenario: "churn", stretchSamples: 20 });
  const b = runSimulation({ nodes: 30, seed: 2, scenario: "churn", stretchSamples: 20 });
  assert.deepEqual({ ...a, wallMs: 0 }, { ...b, wallMs: 0 });
});
