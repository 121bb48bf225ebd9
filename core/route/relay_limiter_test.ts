import assert from "node:assert/strict";
import { RelayLimiter } from "./relay_limiter.ts";

Deno.test("relay limiter bounds a flooding source without starving others", () => {
  const limiter = new RelayLimiter({ ratePerSecond: 1_000, burst: 100 });
  let floodOk = 0;
  let politeOk = 0;
  let politeSent = 0;
  // 2 s: the flooder offers 100 frames per ms (100,000/s), the polite source 1 per 2 ms.
  for (let t = 0; t < 2_000; t++) {
    for (let i = 0; i < 100; i++) if (limiter.allow("flooder", t)) floodOk++;
    if (t % 2 === 0) {
      politeSent++;
      if (limiter.allow("polite", t)) politeOk++;
    }
  }
  // Bucket: burst + rate × elapsed time, and never more.
  assert.ok(floodOk <= 100 + 1_000 * 2, `flooder relayed ${floodOk}`);
  assert.ok(floodOk >= 1_000 * 2 - 10, "the flooder still gets its fair rate");
  assert.equal(politeOk, politeSent, "the polite source loses nothing");
  assert.equal(limiter.dropped, 100 * 2_000 - floodOk);
});

Deno.test("relay limiter refills over time and bounds its memory", () => {
  const limiter = new RelayLimiter({ ratePerSecond: 10, burst: 2, maxSources: 2 });
  assert.ok(limiter.allow("a", 0));
  assert.ok(limiter.allow("a", 0));
  assert.ok(!limiter.allow("a", 0));
  assert.ok(limiter.allow("a", 100), "one token after 100 ms at 10/s");
  limiter.allow("b", 100);
  limiter.allow("c", 100);
  assert.equal(limiter.size, 2);
  assert.throws(() => new RelayLimiter({ ratePerSecond: 0, burst: 1 }), { name: "RouteError" });
  assert.throws(() => new RelayLimiter({ ratePerSecond: 1, burst: 0 }), { name: "RouteError" });
});
