import assert from "node:assert/strict";
import { LANE_PREFIX_LENGTH } from "../wire/lane.ts";
import { parseIpv4 } from "../net/ipv4.ts";
import { deliver, deliverEventually } from "./testing/exchange.ts";
import { udpPacket } from "./testing/packets.ts";
import { type TestNode, withRealm } from "./testing/realm.ts";

async function laneUp(a: TestNode, peer: string): Promise<string | undefined> {
  let state: string | undefined;
  for (let i = 0; i < 40; i++) {
    state = a.node.info().tethers.find((t) => t.peer === peer)?.lane;
    if (state === "up") return state;
    await new Promise((r) => setTimeout(r, 50));
  }
  return state;
}

Deno.test("node lane: data frames move to the datagram lane once it is proven", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"], lane: true });
    const b = realm.add("b", { teams: ["dev"], lane: true });
    await deliver(a, b, "over the tether");
    assert.equal(await laneUp(a, b.id), "up");
    assert.equal(await laneUp(b, a.id), "up");
    const tetherFrames = { n: 0 };
    realm.net.tap = (f) => {
      if ((f.frame[0] & 0x0f) === 1) tetherFrames.n++;
    };
    const before = realm.udp.carried;
    for (let i = 0; i < 20; i++) await deliver(a, b, `lane-${i}`);
    await deliver(b, a, "and back");
    assert.equal(tetherFrames.n, 0, "data frames still on the tether");
    assert.ok(realm.udp.carried - before >= 21);
  });
});

Deno.test("node lane: a lane that goes silent falls back to the tether, and comes back", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"], lane: true });
    const b = realm.add("b", { teams: ["dev"], lane: true });
    await deliver(a, b, "warm");
    assert.equal(await laneUp(a, b.id), "up");
    realm.udp.cut(parseIpv4(a.underlay), parseIpv4(b.underlay));
    // Frames sent into the dead lane are lost until it is declared down (2 s of silence).
    await deliverEventually(a, b, "fallback", { everyMs: 200, timeoutMs: 6000 });
    assert.equal(a.node.info().tethers[0].lane, "down");
    realm.udp.heal(parseIpv4(a.underlay), parseIpv4(b.underlay));
    assert.equal(await laneUp(a, b.id), "up");
    await deliver(a, b, "lane again");
  });
});

Deno.test("node lane: datagrams without the peer's token are dropped before any work", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"], lane: true });
    const b = realm.add("b", { teams: ["dev"], lane: true });
    await deliver(a, b, "warm");
    assert.equal(await laneUp(b, a.id), "up");
    // Learn b's lane port from a datagram a sends it, then forge one from a third party.
    let bPort = 0;
    realm.udp.filter = (d) => {
      if (d.to.address === parseIpv4(b.underlay)) bPort = d.to.port;
      return true;
    };
    await deliver(a, b, "find the port");
    assert.ok(bPort > 0);
    const attacker = realm.udp.bind(parseIpv4("198.18.0.99"));
    const before = b.node.counters.framesIn;
    for (let i = 0; i < 50; i++) {
      const junk = attacker.slot(parseIpv4(b.underlay), bPort, LANE_PREFIX_LENGTH + 60)!;
      crypto.getRandomValues(junk);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.node.counters.framesIn, before, "a forged datagram reached the frame decoder");
    attacker.close();
    await deliver(a, b, "unharmed");
  });
});

Deno.test("node lane: a path that drops fragments keeps large frames on the tether", async () => {
  await withRealm(async (realm) => {
    realm.udp.maxDatagram = 1472;
    const a = realm.add("a", { teams: ["dev"], lane: true });
    const b = realm.add("b", { teams: ["dev"], lane: true });
    await deliver(a, b, "warm");
    assert.equal(await laneUp(a, b.id), "up");
    // A 1,450-byte packet makes a frame above LANE_SMALL_FRAME: it goes over the tether.
    let onTether = 0;
    realm.net.tap = (f) => {
      if ((f.frame[0] & 0x0f) === 1 && f.frame.length > 1400) onTether++;
    };
    const big = b.tun.next((p) => p.length === 28 + 1450, 3000);
    a.tun.inject(udpPacket(a.ip, b.ip, new Uint8Array(1450)));
    await big;
    assert.equal(onTether, 1);
    await deliver(a, b, "small ones on the lane");
  });
});

Deno.test("node lane: relays forward on their lanes without opening the frames", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"], lane: true });
    const c = realm.add("c", { teams: ["dev"], lane: true });
    const r = realm.add("r", { lane: true });
    realm.net.cut(a.id, c.id);
    await deliverEventually(a, c, "via relay");
    assert.equal(await laneUp(a, r.id), "up");
    assert.equal(await laneUp(r, c.id), "up");
    const tetherData = { n: 0 };
    realm.net.tap = (f) => {
      if ((f.frame[0] & 0x0f) === 1) tetherData.n++;
    };
    const relayed = r.node.counters.framesRelayed;
    for (let i = 0; i < 10; i++) await deliver(a, c, `relayed-${i}`);
    assert.ok(r.node.counters.framesRelayed - relayed >= 10);
    assert.equal(tetherData.n, 0);
    assert.equal(r.node.info().streams.length, 0);
  });
});
