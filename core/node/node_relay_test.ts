import assert from "node:assert/strict";
import { deliver, deliverEventually, nothingArrives } from "./testing/exchange.ts";
import { udpPacket } from "./testing/packets.ts";
import { withRealm } from "./testing/realm.ts";

Deno.test("node relay: the destination's own tether peer relays for a stranger to it", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const c = realm.add("c", { teams: ["dev", "ops"] });
    const r = realm.add("r", { teams: ["ops"] });
    realm.net.cut(a.id, c.id);
    // Warm network: c already holds a tether to r, which shares no team with a.
    await deliver(r, c, "warm");
    await deliverEventually(a, c, "via relay");
    await deliver(c, a, "and back");
    assert.ok(r.node.counters.framesRelayed >= 2, `relayed ${r.node.counters.framesRelayed}`);
    const route = a.node.info().routes.find((x) => x.destination === c.ip);
    assert.equal(route?.next_hop, r.id);
    // The relay moved ciphertext only: its streams are its own, with c.
    assert.deepEqual([...new Set(r.node.info().streams.map((s) => s.peer))], [c.id]);
  });
});

Deno.test("node relay: a direct tether that fails moves the stream to a relay", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const c = realm.add("c", { teams: ["dev"] });
    const r = realm.add("r");
    await deliver(a, c, "direct");
    assert.equal(a.node.info().routes[0].next_hop, c.id);
    realm.net.cut(a.id, c.id);
    const sent = await deliverEventually(a, c, "after cut");
    assert.ok(sent >= 1);
    assert.ok(r.node.counters.framesRelayed >= 1);
    assert.equal(a.node.info().routes[0].next_hop, r.id);
  });
});

Deno.test("node relay: a node with relaying off refuses to forward", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const c = realm.add("c", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"], relay: false });
    realm.net.cut(a.id, c.id);
    // b holds tethers to both (they are teammates), which makes it a relay candidate.
    await deliver(b, c, "warm c");
    await deliver(b, a, "warm a");
    a.tun.inject(udpPacket(a.ip, c.ip, "blocked"));
    assert.ok(await nothingArrives(c, "blocked", 3000));
    assert.equal(b.node.counters.framesRelayed, 0);
  });
});

Deno.test("node relay: on a cold network the realm is asked for a relay (RELAY_QUERY / RELAY_OFFER)", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const c = realm.add("c", { teams: ["dev"] });
    const r = realm.add("r");
    realm.net.cut(a.id, c.id);
    // Nobody holds a tether yet: c has no neighbours to name, so only the realm query finds r.
    await deliverEventually(a, c, "cold");
    assert.ok(r.node.counters.framesRelayed >= 1);
    assert.ok(a.log.lines.some((l) => l.includes("relay found")), a.log.lines.join("\n"));
  });
});

Deno.test("node relay: a destination with relaying off is still reached through a stranger relay", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    // c relays for nobody, but must still take the relay's tether to be reachable through it.
    const c = realm.add("c", { teams: ["dev"], relay: false });
    const r = realm.add("r");
    realm.net.cut(a.id, c.id);
    await deliverEventually(a, c, "cold, to a non-relaying host");
    assert.ok(r.node.counters.framesRelayed >= 1);
    assert.equal(c.node.counters.framesRelayed, 0);
  });
});

Deno.test("node relay: a destination that restarts gets its stream back through the relay", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    let c = realm.add("c", { teams: ["dev"] });
    const r = realm.add("r");
    realm.net.cut(a.id, c.id);
    await deliverEventually(a, c, "before");
    // c restarts: it no longer knows a's stream, and only the relay sees a's frames come in.
    c = await realm.restart(c, { teams: ["dev"] });
    realm.net.cut(a.id, c.id);
    // c talks first (its own new stream, through the relay again)…
    await deliverEventually(c, a, "c is back");
    // …then a's old stream reaches a c that does not know it: c's "unknown stream" close goes to
    // the relay the frames came through, which passes it on to a; a re-handshakes.
    await deliverEventually(a, c, "after restart", { everyMs: 200, timeoutMs: 8000 });
    assert.ok(r.node.counters.framesRelayed > 0);
  });
});
