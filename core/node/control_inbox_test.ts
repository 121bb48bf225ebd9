import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { controlSubject } from "../control/subjects.ts";
import { encodeSignal, type Signal } from "../tether/signaler.ts";
import {
  MessageType,
  NeighboursRequestSchema,
  Signal_Kind,
  SignalSchema,
} from "../wire/gen/veilnet_pb.ts";
import {
  NEIGHBOURS_PER_SENDER,
  STRANGER_OFFERS_PER_SECOND,
  STRANGER_OFFERS_PER_SENDER_PER_10S,
} from "./control_inbox.ts";
import type { TetherEvents } from "./ports.ts";
import { type TestNode, type TestRealm, withRealm } from "./testing/realm.ts";

/**
 * Node `b` of `realm` (team "ops", relaying) on a clock that stands still unless the test moves it
 * (within the envelopes' 30 s skew), with every tether signal its control inbox hands to the
 * tether port recorded.
 */
function watchedNode(realm: TestRealm) {
  const clock = { now: Date.now() };
  const signals: { peer: string; signal: Signal }[] = [];
  const b = realm.add("b", {
    teams: ["ops"],
    extra: {
      clock: () => clock.now,
      tethers: (events: TetherEvents) => {
        const port = realm.net.port("cx-b")(events);
        const onSignal = port.onSignal.bind(port);
        port.onSignal = (peer, signal) => {
          signals.push({ peer, signal: structuredClone(signal) });
          onSignal(peer, signal);
        };
        return port;
      },
    },
  });
  /** Offers taken up for `peer` so far (what the inbox let through). */
  const offersFrom = (peer: string) =>
    signals.filter((s) => s.peer === peer && s.signal.kind === "offer");
  return { b, clock, signals, offersFrom };
}

let sessions = 0;

/** `from` sends `count` tether offers (each a new attempt) to `to`. */
function sendOffers(realm: TestRealm, from: TestNode, to: TestNode, count: number): void {
  for (let i = 0; i < count; i++) {
    const offer: Signal = { kind: "offer", session: `s-${++sessions}`, sdp: "memory" };
    const body = toBinary(
      SignalSchema,
      create(SignalSchema, {
        tetherId: offer.session,
        kind: Signal_Kind.OFFER,
        payload: new TextDecoder().decode(encodeSignal(offer)),
        engine: "auto",
      }),
    );
    from.control.publish(
      controlSubject(realm.realmId, to.id),
      from.seal(MessageType.SIGNAL, body),
    );
  }
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until `b` handled `n` more control messages (taken up or dropped) than `before`. */
async function handled(
  b: TestNode,
  taken: () => number,
  before: { taken: number; dropped: number },
  n: number,
): Promise<void> {
  await waitFor(
    () => taken() - before.taken + b.node.counters.controlDropped - before.dropped >= n,
    `${n} messages handled`,
  );
  // Nothing else is under way.
  await new Promise((r) => setTimeout(r, 30));
}

Deno.test("control inbox: a stranger's tether offers are answered two per 10 s; beyond, dropped", async () => {
  await withRealm(async (realm) => {
    const { b, clock, offersFrom } = watchedNode(realm);
    const s = realm.add("s", { teams: ["elsewhere"] });
    const taken = () => offersFrom(s.id).length;
    const mark = () => ({ taken: taken(), dropped: b.node.counters.controlDropped });

    let before = mark();
    sendOffers(realm, s, b, STRANGER_OFFERS_PER_SENDER_PER_10S + 3);
    await handled(b, taken, before, STRANGER_OFFERS_PER_SENDER_PER_10S + 3);
    assert.equal(taken() - before.taken, STRANGER_OFFERS_PER_SENDER_PER_10S);
    assert.equal(b.node.counters.controlDropped - before.dropped, 3, "the rest counted as dropped");
    // Marked for the tether pool: no host candidates, a stranger's share of the pool.
    assert.ok(offersFrom(s.id).every((o) => o.signal.kind === "offer" && o.signal.stranger));

    // 5 s later: one more (0.2 a second).
    clock.now += 5_000;
    before = mark();
    sendOffers(realm, s, b, 3);
    await handled(b, taken, before, 3);
    assert.equal(taken() - before.taken, 1);
    assert.equal(b.node.counters.controlDropped - before.dropped, 2);

    // 10 s after that: the full burst of two again, no more.
    clock.now += 10_000;
    before = mark();
    sendOffers(realm, s, b, 4);
    await handled(b, taken, before, 4);
    assert.equal(taken() - before.taken, STRANGER_OFFERS_PER_SENDER_PER_10S);
    assert.equal(b.node.counters.controlDropped - before.dropped, 2);
  });
});

Deno.test("control inbox: strangers' tether offers are answered four a second in total", async () => {
  await withRealm(async (realm) => {
    const { b, clock, offersFrom } = watchedNode(realm);
    const strangers = ["s1", "s2", "s3", "s4", "s5", "s6"].map((n) =>
      realm.add(n, { teams: ["elsewhere"] })
    );
    const taken = () => strangers.reduce((sum, s) => sum + offersFrom(s.id).length, 0);
    const mark = () => ({ taken: taken(), dropped: b.node.counters.controlDropped });

    // Three strangers, each within its own budget (2): six offers at once, four answered.
    let before = mark();
    for (const s of strangers.slice(0, 3)) sendOffers(realm, s, b, 2);
    await handled(b, taken, before, 6);
    assert.equal(taken() - before.taken, STRANGER_OFFERS_PER_SECOND);
    assert.equal(b.node.counters.controlDropped - before.dropped, 6 - STRANGER_OFFERS_PER_SECOND);

    // A second later, three other strangers: four again.
    clock.now += 1_000;
    before = mark();
    for (const s of strangers.slice(3)) sendOffers(realm, s, b, 2);
    await handled(b, taken, before, 6);
    assert.equal(taken() - before.taken, STRANGER_OFFERS_PER_SECOND);
    assert.equal(b.node.counters.controlDropped - before.dropped, 6 - STRANGER_OFFERS_PER_SECOND);
  });
});

Deno.test("control inbox: a teammate's tether offers are not held to the strangers' budget", async () => {
  await withRealm(async (realm) => {
    const { b, offersFrom } = watchedNode(realm);
    const mate = realm.add("mate", { teams: ["ops"] });
    const s = realm.add("s", { teams: ["elsewhere"] });
    // Strangers' budget spent first: it must not matter to the teammate.
    sendOffers(realm, s, b, 6);
    const taken = () => offersFrom(mate.id).length;
    const before = { taken: 0, dropped: b.node.counters.controlDropped };
    await waitFor(() => offersFrom(s.id).length === 2, "stranger's offers");
    before.dropped = b.node.counters.controlDropped;
    sendOffers(realm, mate, b, 10);
    await handled(b, taken, before, 10);
    assert.equal(taken(), 10);
    assert.equal(b.node.counters.controlDropped, before.dropped);
    assert.ok(offersFrom(mate.id).every((o) => o.signal.kind === "offer" && !o.signal.stranger));
  });
});

/** `from` asks `to` for its neighbours `count` times at once; resolves with how many answered. */
async function askNeighbours(
  realm: TestRealm,
  from: TestNode,
  to: TestNode,
  count: number,
): Promise<number> {
  const body = toBinary(
    NeighboursRequestSchema,
    create(NeighboursRequestSchema, { destinationId: to.id, candidateIds: [] }),
  );
  const asks = Array.from({ length: count }, () =>
    from.control.request(
      controlSubject(realm.realmId, to.id),
      from.seal(MessageType.NEIGHBOURS_REQUEST, body),
      400,
    ).then(() => 1, () => 0));
  return (await Promise.all(asks)).reduce((a: number, b: number) => a + b, 0);
}

Deno.test("control inbox: NEIGHBOURS_REQUEST is served one a second per sender, burst two", async () => {
  await withRealm(async (realm) => {
    const { b, clock } = watchedNode(realm);
    const mate = realm.add("mate", { teams: ["ops"] });
    const other = realm.add("other", { teams: ["ops"] });

    let dropped = b.node.counters.controlDropped;
    assert.equal(await askNeighbours(realm, mate, b, 5), 2);
    assert.equal(b.node.counters.controlDropped - dropped, 3);
    // Per sender: another teammate has its own burst at the same moment.
    assert.equal(await askNeighbours(realm, other, b, 3), 2);

    clock.now += 1_000;
    dropped = b.node.counters.controlDropped;
    assert.equal(await askNeighbours(realm, mate, b, 3), NEIGHBOURS_PER_SENDER);
    assert.equal(b.node.counters.controlDropped - dropped, 3 - NEIGHBOURS_PER_SENDER);

    clock.now += 5_000;
    assert.equal(await askNeighbours(realm, mate, b, 4), 2, "refilled to the burst, no more");
  });
});
