import assert from "node:assert/strict";
import { probeWalks } from "./walk_probe.ts";

Deno.test("walk probe: progress-first walks on a rank small world reach cold destinations", () => {
  const base = { nodes: 800, seed: 3, ttl: 32, trials: 60 };
  const now = probeWalks({ ...base, long: 2, longLinks: "rank", costWeight: 0.1 });
  const before = probeWalks({ ...base, long: 1, longLinks: "uniform", costWeight: 1 });
  assert.ok(now.success >= 0.95, `rank + progress-first: ${now.success}`);
  assert.ok(before.success < now.success, `uniform + detour-scored: ${before.success}`);
  assert.ok(now.medianHops > 0 && now.medianHops <= now.p90Hops && now.p90Hops <= 32);
});
