import assert from "node:assert/strict";
import { LinkMonitor } from "./link_monitor.ts";
import { RouteAgent } from "./agent.ts";
import { mulberry32 } from "./prng.ts";

Deno.test("link monitor measures RTT and loss, and declares silence dead within a second", () => {
  const monitor = new LinkMonitor({ intervalMs: 250, deadAfterMs: 1_000, lossWindow: 4 });
  const agent = new RouteAgent({ self: "me", random: mulberry32(1) });
  monitor.add("p", 0);
  let t = 0;
  // Healthy: every probe answered after 8 ms, except one in four.
  for (let i = 0; i < 8; i++, t += 250) {
    for (const probe of monitor.due(t)) {
      assert.equal(probe.peer, "p");
      if (i % 4 === 3) continue;
      const sample = monitor.ack("p", t + 8, { probeId: probe.probeId, queueMs: 1 });
      assert.ok(sample);
      assert.equal(sample.rttMs, 8);
      agent.linkMeasured("p", t + 8, sample);
    }
    assert.deepEqual(monitor.expired(t + 8), []);
  }
  assert.ok(monitor.due(t).length === 1);
  // Loss counts probes unanswered for the dead time: one in four here.
  const late = monitor.due(t + 250)[0];
  const s = monitor.ack("p", t + 260, { probeId: late.probeId });
  const loss = s?.loss ?? -1;
  assert.ok(loss > 0 && loss <= 0.5, `loss ${loss}`);
  assert.equal(monitor.ack("p", t + 261, { probeId: late.probeId }), null, "duplicate answer");
  assert.equal(monitor.ack("p", t + 261, { probeId: 999_999 }), null, "unknown probe");
  // Silence: nothing answered any more.
  const silentFrom = t + 260;
  let deadAt = -1;
  for (let now = silentFrom; now < silentFrom + 3_000 && deadAt < 0; now += 50) {
    monitor.due(now);
    if (monitor.expired(now).includes("p")) deadAt = now;
  }
  assert.ok(deadAt > silentFrom, "declared dead");
  assert.ok(deadAt - silentFrom <= 1_000 + 50, `detected after ${deadAt - silentFrom} ms`);
  assert.deepEqual(monitor.due(deadAt + 500), [], "a dead peer is no longer probed");
  agent.linkDown("p", deadAt);
  assert.deepEqual(agent.neighbours(), []);
});

Deno.test("other traffic keeps a tether alive; bad tuning is rejected", () => {
  const monitor = new LinkMonitor();
  monitor.add("q", 0);
  for (let now = 0; now <= 5_000; now += 100) {
    monitor.due(now);
    monitor.heard("q", now);
    assert.deepEqual(monitor.expired(now), []);
  }
  monitor.remove("q");
  assert.deepEqual(monitor.due(6_000), []);
  assert.throws(() => new LinkMonitor({ intervalMs: 0 }), { name: "RouteError" });
  assert.throws(() => new LinkMonitor({ intervalMs: 500, deadAfterMs: 400 }), {
    name: "RouteError",
  });
});

Deno.test("link monitor: heardAll forgives a silence that was the runtime's own", () => {
  const m = new LinkMonitor({ intervalMs: 250, deadAfterMs: 750 });
  m.add("a", 0);
  m.add("b", 0);
  m.heardAll(900);
  assert.deepEqual(m.expired(1000), []);
  assert.deepEqual(m.expired(1650).sort(), ["a", "b"]);
});
