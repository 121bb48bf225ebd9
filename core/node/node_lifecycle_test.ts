import assert from "node:assert/strict";
import { deliver, deliverEventually } from "./testing/exchange.ts";
import { withRealm } from "./testing/realm.ts";

Deno.test("node lifecycle: idle streams and tethers dissolve, and the next packet brings them back", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"], idleTimeoutMs: 400 });
    const b = realm.add("b", { teams: ["dev"], idleTimeoutMs: 400 });
    await deliver(a, b, "first");
    assert.equal(a.node.info().tethers.length, 1);
    // Both ends sweep on their own timers: wait until both have let go of everything.
    const empty = () => {
      const [x, y] = [a.node.info(), b.node.info()];
      return x.tethers.length + x.streams.length + x.routes.length + y.tethers.length +
          y.streams.length === 0;
    };
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !empty()) await new Promise((r) => setTimeout(r, 100));
    const idle = a.node.info();
    assert.equal(idle.tethers.length, 0);
    assert.equal(idle.streams.length, 0);
    assert.equal(idle.routes.length, 0);
    assert.equal(b.node.info().streams.length, 0);
    await deliver(a, b, "again");
    assert.equal(a.node.info().tethers.length, 1);
  });
});

Deno.test("node lifecycle: a tether closed under a stream is replaced by the next packet", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "before");
    const [stream] = a.node.info().streams.filter((s) => s.direction === "egress");
    realm.net.cut(a.id, b.id);
    realm.net.heal(a.id, b.id);
    assert.equal(a.node.info().tethers.length, 0);
    await deliverEventually(a, b, "after");
    const [again] = a.node.info().streams.filter((s) => s.direction === "egress");
    // Same stream (keys and counters go on), new tether.
    assert.equal(again.stream_id, stream.stream_id);
    assert.equal(a.node.info().tethers.length, 1);
  });
});

Deno.test("node lifecycle: stop() ends every loop and timer and closes the tethers", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "up");
    await a.node.stop();
    assert.equal(a.node.info().tethers.length, 0);
    assert.equal(b.node.info().tethers.length, 0);
    // A second stop is a no-op.
    await a.node.stop();
  });
});

Deno.test("node lifecycle: each destination is discovered once; the answering side needs no discovery", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    const c = realm.add("c", { teams: ["dev"] });
    await deliver(a, b, "to b");
    await deliver(a, c, "to c");
    const discovers = realm.bus.log.filter((m) => m.subject.endsWith(".discover"));
    // One DISCOVER per destination, none for the replies' direction (the stream request named a).
    assert.equal(discovers.filter((m) => m.from === "a").length, 2);
    await deliver(b, a, "b back");
    assert.equal(
      realm.bus.log.filter((m) => m.subject.endsWith(".discover") && m.from === "b").length,
      0,
    );
  });
});

Deno.test("node lifecycle: info's tether RTT and loss come from the router's probes", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "up");
    // Memory tethers measure nothing themselves (their stats say NaN): a number here is the
    // router's, after its probes (every 250 ms) were answered.
    let t = a.node.info().tethers[0];
    for (let i = 0; i < 30 && t.rtt_ms === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      t = a.node.info().tethers[0];
    }
    assert.equal(typeof t.rtt_ms, "number");
    assert.equal(t.loss, 0);
  });
});
