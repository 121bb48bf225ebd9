import assert from "node:assert/strict";
import { deliver } from "./testing/exchange.ts";
import { withRealm } from "./testing/realm.ts";

Deno.test("node ping: a teammate answers directly; the reply never reaches the host", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    const r = await a.node.ping(b.ip);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.conflux_id, b.id);
    assert.deepEqual(r.path, { kind: "direct", next_hop: b.id, hops: 1 });
    assert.ok(r.rtt_ms >= 0);
    // b's host saw the request; a's host did not see the reply.
    assert.ok(b.tun.written.some((p) => p[9] === 1 && p[20] === 8));
    assert.equal(a.tun.written.filter((p) => p[9] === 1).length, 0);
  });
});

Deno.test("node ping: reports the relay when the direct link is cut", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const c = realm.add("c", { teams: ["dev"] });
    const r = realm.add("r");
    const direct = await a.node.ping(c.ip);
    assert.ok(direct.ok && direct.path.kind === "direct", JSON.stringify(direct));
    realm.net.cut(a.id, c.id);
    let relayed;
    for (let i = 0; i < 10 && !relayed?.ok; i++) relayed = await a.node.ping(c.ip, 2000);
    assert.ok(relayed?.ok, JSON.stringify(relayed));
    assert.equal(relayed.path.kind, "relayed");
    assert.equal(relayed.path.next_hop, r.id);
    assert.ok(relayed.path.hops >= 2);
  });
});

Deno.test("node ping: no shared team, an offline address and a bad target each say why", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const stranger = realm.add("s", { teams: ["ops"] });
    const none = await a.node.ping(stranger.ip, 2500);
    assert.equal(none.ok, false);
    assert.equal(!none.ok && none.reason, "no-answer");
    assert.match(!none.ok ? none.detail : "", /offline, or it shares no team/);
    const offline = await a.node.ping("100.64.0.200", 2500);
    assert.equal(!offline.ok && offline.reason, "no-answer");
    for (const bad of ["100.64.0.0", "100.64.0.255", a.ip, "10.0.0.1", "nonsense"]) {
      const r = await a.node.ping(bad, 100);
      assert.equal(!r.ok && r.reason, "bad-target", bad);
    }
  });
});

Deno.test("node ping: a host that does not answer echo is told apart from no path", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    b.tun.answerPings = false;
    await deliver(a, b, "stream up");
    const r = await a.node.ping(b.ip, 500);
    assert.equal(!r.ok && r.reason, "no-reply");
  });
});
