import assert from "node:assert/strict";
import { FrameType, writeFrameHeader } from "../wire/frame.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { DiscoverReplySchema, MessageType, StreamCloseSchema } from "../wire/gen/veilnet_pb.ts";
import { peekEnvelope } from "./messenger.ts";
import { deliver, nothingArrives } from "./testing/exchange.ts";
import { udpPacket } from "./testing/packets.ts";
import { withRealm } from "./testing/realm.ts";
import { controlSubject, discoverSubject } from "../control/subjects.ts";

Deno.test("node hostile: garbage on a tether is counted and dropped; the node keeps working", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "first");
    const junk = [
      new Uint8Array(0),
      new Uint8Array([0xff]),
      crypto.getRandomValues(new Uint8Array(40)),
      crypto.getRandomValues(new Uint8Array(1500)),
      new Uint8Array(3000).fill(0x11),
    ];
    for (const j of junk) assert.ok(realm.net.inject(a.id, b.id, j));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(b.node.counters.framesDropped >= 4, `dropped ${b.node.counters.framesDropped}`);
    assert.ok(b.node.counters.drops.bad_frame >= 3);
    await deliver(a, b, "still works");
  });
});

Deno.test("node hostile: a replayed data frame is refused", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    const data: Uint8Array[] = [];
    realm.net.tap = (f) => {
      if (f.from === a.id && f.frame[0] >> 4 === 1 && (f.frame[0] & 0x0f) === FrameType.Data) {
        data.push(f.frame.slice());
      }
    };
    await deliver(a, b, "once");
    assert.ok(data.length >= 1);
    const before = b.node.counters.packetsIn;
    realm.net.inject(a.id, b.id, data[data.length - 1]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.node.counters.packetsIn, before);
    assert.equal(b.node.counters.drops.auth, 1);
    assert.equal(b.tun.written.filter((p) => p.length > 28).length, 1);
  });
});

Deno.test("node hostile: a frame altered on the wire fails authentication", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "warm");
    realm.net.filter = (f) => {
      if (f.from === a.id && f.frame.length > 60) f.frame[f.frame.length - 20] ^= 1;
      return true;
    };
    a.tun.inject(udpPacket(a.ip, b.ip, "altered"));
    assert.ok(await nothingArrives(b, "altered", 300));
    assert.ok(b.node.counters.drops.auth >= 1);
  });
});

Deno.test("node hostile: frames for an unknown stream get one STREAM_CLOSE per second, not one each", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    await deliver(a, b, "warm");
    const bIp = ipNumber(b.ip);
    for (let i = 0; i < 20; i++) {
      const frame = new Uint8Array(40 + 16);
      writeFrameHeader({
        type: FrameType.Data,
        hopLimit: 8,
        flags: 0,
        destination: bIp,
        streamId: 0x7777_0000 + i,
        counter: BigInt(i),
      }, { out: frame, offset: 0 });
      realm.net.inject(a.id, b.id, frame);
    }
    await new Promise((r) => setTimeout(r, 100));
    const closes = realm.bus.log.filter((m) =>
      m.from === "b" && peekEnvelope(m.data)?.type === MessageType.STREAM_CLOSE
    );
    assert.equal(closes.length, 1);
    assert.equal(b.node.counters.drops.unknown_stream, 20);
  });
});

Deno.test("node hostile: control garbage on both subjects is dropped without a reply or a crash", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    const b = realm.add("b", { teams: ["dev"] });
    const intruder = realm.bus.connect("intruder");
    for (let i = 0; i < 50; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(i * 7));
      intruder.publish(controlSubject(realm.realmId, b.id), junk);
      intruder.publish(discoverSubject(realm.realmId), junk);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(realm.bus.log.filter((m) => m.from === "b").length, 0);
    await deliver(a, b, "unharmed");
    intruder.close();
  });
});

function ipNumber(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

Deno.test("node hostile: a member answering every DISCOVER first with lies cannot stop discovery", async () => {
  await withRealm(async (realm) => {
    const a = realm.add("a", { teams: ["dev"] });
    // The saboteur is a genuine realm member on a's team (its replies verify). It subscribes
    // before the owner does, so its answers arrive first: garbage, then a signed claim that the
    // owner's address is its own.
    const evil = realm.add("evil", { teams: ["dev"] });
    const owner = "100.64.0.3";
    const sab = realm.bus.connect("saboteur");
    const lies = (async () => {
      for await (const m of sab.subscribe(discoverSubject(realm.realmId))) {
        if (!m.reply) continue;
        sab.publish(m.reply, crypto.getRandomValues(new Uint8Array(200)));
        const lie = create(DiscoverReplySchema, { overlayIp: owner, confluxId: evil.id });
        sab.publish(
          m.reply,
          evil.seal(MessageType.DISCOVER_REPLY, toBinary(DiscoverReplySchema, lie)),
        );
      }
    })();
    const b = realm.add("b", { teams: ["dev"] });
    assert.equal(b.ip, owner);
    await deliver(a, b, "found the real owner");
    assert.equal(a.node.info().routes[0].conflux_id, b.id);
    sab.close();
    await lies;
  });
});

Deno.test("node hostile: a member flooding signed messages cannot starve a teammate's new stream", async () => {
  await withRealm(async (realm) => {
    const b = realm.add("b", { teams: ["dev"] });
    const flooder = realm.add("flooder", { teams: ["dev"] });
    const flood = realm.bus.connect("flood");
    let stop = false;
    // ~2,000 signed STREAM_CLOSE messages per second at b, each asking for a signature check:
    // more than the node would check for all senders together.
    const body = toBinary(
      StreamCloseSchema,
      create(StreamCloseSchema, { streamId: 1, reason: "x" }),
    );
    const message = flooder.seal(MessageType.STREAM_CLOSE, body);
    const flooding = (async () => {
      while (!stop) {
        for (let i = 0; i < 10; i++) flood.publish(controlSubject(realm.realmId, b.id), message);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const a = realm.add("a", { teams: ["dev"] });
    try {
      await deliver(a, b, "through the flood", 3000);
      assert.ok(b.node.counters.controlDropped > 0, "the flood was not limited at all");
    } finally {
      stop = true;
      await flooding;
      flood.close();
    }
  });
});
