import assert from "node:assert/strict";
import { handoffTable, measureHandoff } from "./handoff_bench.ts";

Deno.test("handoff bench: batches go to a worker and back by transfer and by ring", async () => {
  const r = await measureHandoff(1500, { seconds: 0.1, window: 4, pings: 5, gapMs: 1 });
  for (const way of [r.inline, r.transfer, r.ring]) {
    assert.ok(way.batchesPerSec > 0 && way.cpuUsPerBatch >= 0, JSON.stringify(way));
  }
  assert.ok(r.rttUs.backToBackP50 > 0 && r.rttUs.afterGapP99 >= r.rttUs.afterGapP50);
  assert.match(handoffTable([r]), /^\| 1500 \|/m);
});
