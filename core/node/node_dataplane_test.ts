import assert from "node:assert/strict";
import { deliver, deliverEventually, nothingArrives } from "./testing/exchange.ts";
import { sourceOf, textOf, udpPacket } from "./testing/packets.ts";
import { withRealm } from "./testing/realm.ts";

Deno.test("node: teammates exchange packets both ways over one tether and one stream each way", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    const got = await deliver(a, b, "hello b");
    assert.equal(sourceOf(got), a.ip);
    assert.equal(textOf(got), "hello b");
    const back = await deliver(b, a, "hello a");
    assert.equal(sourceOf(back), b.ip);
    const info = a.node.info();
    assert.deepEqual(info.tethers.map((t) => [t.peer, t.engine]), [[b.id, "memory"]]);
    const streams = info.streams.map((s) => [s.direction, s.peer]).sort();
    assert.deepEqual(streams, [["egress", b.id], ["ingress", b.id]]);
    const route = info.routes.find((r) => r.destination === b.ip);
    assert.equal(route?.state, "ready");
    assert.equal(route?.next_hop, b.id);
    assert.equal(a.node.counters.packetsOut, 1);
    assert.equal(b.node.counters.packetsIn, 1);
  });
});

Deno.test("node: packets sent while the stream comes up are held and delivered in order", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    const last = b.tun.next((p) => textOf(p) === "burst-9");
    for (let i = 0; i < 10; i++) a.tun.inject(udpPacket(a.ip, b.ip, `burst-${i}`));
    await last;
    const texts = b.tun.written.map(textOf).filter((t) => t.startsWith("burst-"));
    assert.deepEqual(texts, Array.from({ length: 10 }, (_, i) => `burst-${i}`));
  });
});

Deno.test("node: confluxes without a shared team never reach each other, and discovery says nothing", async () => {
  await withRealm(async (realm) => {
    const prod = realm.add("prod", { teams: ["prod"] });
    const dev = realm.add("dev", { teams: ["dev"] });
    prod.tun.inject(udpPacket(prod.ip, dev.ip, "to dev"));
    dev.tun.inject(udpPacket(dev.ip, prod.ip, "to prod"));
    assert.ok(await nothingArrives(dev, "to dev", 2500));
    assert.ok(await nothingArrives(prod, "to prod", 100));
    assert.equal(prod.node.info().tethers.length, 0);
    assert.ok(dev.log.lines.some((l) => l.includes("discover without team affinity dropped")));
    assert.ok(prod.log.lines.some((l) => l.includes("discover without team affinity dropped")));
  });
});

Deno.test("node: removing the shared team closes the streams at once; adding it back restores them", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "before");
    b.node.setTeams([]);
    assert.ok(b.log.lines.some((l) => l.includes("stream closed: team affinity lost")));
    a.tun.inject(udpPacket(a.ip, b.ip, "during"));
    assert.ok(await nothingArrives(b, "during", 1500));
    assert.equal(b.node.info().streams.length, 0);
    b.node.setTeams([realm.team("dev")]);
    await deliverEventually(a, b, "after");
  });
});

Deno.test("node: a packet with a forged source address is dropped at the receiver", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "genuine");
    a.tun.inject(udpPacket("100.64.0.77", b.ip, "forged"));
    assert.ok(await nothingArrives(b, "forged", 500));
    assert.equal(b.node.counters.drops.source, 1);
    assert.equal(b.node.info().stats?.drops?.source, 1);
  });
});

Deno.test("node: packets to the realm's network or broadcast address or to ourselves go nowhere", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    for (const dst of ["100.64.0.0", "100.64.0.255", a.ip]) {
      a.tun.inject(udpPacket(a.ip, dst, "nowhere"));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.node.info().routes.length, 0);
    assert.equal(realm.bus.log.length, 0);
  });
});

Deno.test("node: streams rekey on their packet budget without losing a packet", async () => {
  await withRealm(async (realm) => {
    const rekey = { rekeyAfterPackets: 3 };
    const a = realm.add("a", { teams: ["dev"], extra: { rekey } });
    const b = realm.add("b", { teams: ["dev"] });
    for (let i = 0; i < 20; i++) await deliver(a, b, `seq-${i}`);
    const egress = a.node.info().streams.find((s) => s.direction === "egress");
    assert.equal(egress?.packets, 20);
    assert.ok((egress?.epoch ?? 0) >= 6, `epoch ${egress?.epoch}`);
    const ingress = b.node.info().streams.find((s) => s.direction === "ingress");
    assert.equal(ingress?.packets, 20);
    assert.equal(b.node.counters.framesDropped, 0);
  });
});
