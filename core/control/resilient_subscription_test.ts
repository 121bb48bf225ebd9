import assert from "node:assert/strict";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { limitsFor, NatsLink, type NatsLinkOptions, TEAM_KEY_LIMITS } from "./nats_link.ts";
import {
  MAX_PENDING_BYTES,
  MAX_PENDING_MESSAGES,
  ResilientSubscription,
} from "./resilient_subscription.ts";
import { controlSubject, discoverSubject, teamsSubject } from "./subjects.ts";

/** A message as the subscription sees it (only `data` is read). */
function msg(bytes: number, fill = 0): Msg {
  return { subject: "x", data: new Uint8Array(bytes).fill(fill) } as unknown as Msg;
}

/** Runs `fn` with Date.now() answering `clock.now` (the rate bucket reads Date.now). */
async function withClock<T>(fn: (clock: { now: number }) => T | Promise<T>): Promise<T> {
  const real = Date.now;
  const clock = { now: real() };
  Date.now = () => clock.now;
  try {
    return await fn(clock);
  } finally {
    Date.now = real;
  }
}

/** Reads `n` messages from an open iterator. */
async function take(it: AsyncIterator<Msg>, n: number): Promise<Msg[]> {
  const out: Msg[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    assert.ok(!r.done);
    out.push(r.value);
  }
  return out;
}

Deno.test("resilient subscription: the queue holds at most MAX_PENDING_BYTES of payload", async () => {
  const sub = new ResilientSubscription("vn.r.discover");
  const mb = 1024 * 1024;
  const fit = MAX_PENDING_BYTES / mb;
  // Far fewer messages than MAX_PENDING_MESSAGES: only the byte bound can refuse them.
  assert.ok(fit + 1 < MAX_PENDING_MESSAGES);
  for (let i = 0; i < fit; i++) sub.push(msg(mb, i));
  assert.equal(sub.pendingBytes, MAX_PENDING_BYTES);
  assert.equal(sub.dropped, 0);
  sub.push(msg(mb, 0xee));
  sub.push(msg(1));
  assert.equal(sub.dropped, 2, "anything beyond 8 MB waiting is dropped");
  assert.equal(sub.pendingBytes, MAX_PENDING_BYTES);
  // Reading frees room; the bytes read are no longer counted.
  const it = sub[Symbol.asyncIterator]();
  const [first] = await take(it, 1);
  assert.equal(first.data[0], 0);
  assert.equal(sub.pendingBytes, MAX_PENDING_BYTES - mb);
  sub.push(msg(mb, 0x77));
  assert.equal(sub.dropped, 2);
  assert.equal(sub.pendingBytes, MAX_PENDING_BYTES);
  const rest = await take(it, fit);
  assert.deepEqual(rest.map((m) => m.data[0]), [1, 2, 3, 4, 5, 6, 7, 0x77]);
  assert.equal(sub.pendingBytes, 0);
  sub.end();
  assert.ok((await it.next()).done);
});

Deno.test("resilient subscription: the message-count bound still holds for small messages", () => {
  const sub = new ResilientSubscription("vn.r.discover");
  for (let i = 0; i < MAX_PENDING_MESSAGES + 10; i++) sub.push(msg(1));
  assert.equal(sub.dropped, 10);
  assert.equal(sub.pendingBytes, MAX_PENDING_MESSAGES);
  sub.end();
});

Deno.test("nats link: the team-key subject gets TEAM_KEY_LIMITS, other subjects the defaults", () => {
  assert.equal(limitsFor(teamsSubject("r1", "c0ffee")), TEAM_KEY_LIMITS);
  assert.deepEqual(limitsFor(controlSubject("r1", "c0ffee")), {});
  assert.deepEqual(limitsFor(discoverSubject("r1")), {});
  assert.deepEqual(limitsFor("vn.r1.c.c0ffee.teams.more"), {});
  assert.equal(TEAM_KEY_LIMITS.maxMessages, 16);
  assert.equal(TEAM_KEY_LIMITS.maxMessageBytes, 64 * 1024);
  assert.equal(TEAM_KEY_LIMITS.ratePerSecond, 10);
});

Deno.test("team-key limits: a push over 64 KB is dropped on arrival", () => {
  const sub = new ResilientSubscription("vn.r.c.x.teams", () => {}, TEAM_KEY_LIMITS);
  sub.push(msg(64 * 1024 + 1));
  assert.equal(sub.dropped, 1);
  assert.equal(sub.pendingBytes, 0);
  sub.push(msg(64 * 1024));
  assert.equal(sub.dropped, 1);
  assert.equal(sub.pendingBytes, 64 * 1024);
  sub.end();
});

Deno.test("team-key limits: at most 10 pushes a second are let in", async () => {
  await withClock(async (clock) => {
    const sub = new ResilientSubscription("vn.r.c.x.teams", () => {}, TEAM_KEY_LIMITS);
    const it = sub[Symbol.asyncIterator]();
    for (let i = 0; i < 15; i++) sub.push(msg(10, i));
    assert.equal(sub.dropped, 5, "15 at once: 10 in, 5 dropped");
    // Drained, so the count bound is not what refuses below.
    await take(it, 10);
    clock.now += 500;
    for (let i = 0; i < 8; i++) sub.push(msg(10));
    assert.equal(sub.dropped, 8, "half a second later: 5 more in");
    await take(it, 5);
    clock.now += 1_000;
    for (let i = 0; i < 12; i++) sub.push(msg(10));
    assert.equal(sub.dropped, 10, "a second later: a full burst of 10 again");
    sub.end();
  });
});

Deno.test("team-key limits: at most 16 pushes wait for the reader", async () => {
  await withClock((clock) => {
    const sub = new ResilientSubscription("vn.r.c.x.teams", () => {}, TEAM_KEY_LIMITS);
    // Spread over time so the rate lets every one in: only the count bound can refuse.
    for (let i = 0; i < 20; i++) {
      sub.push(msg(100));
      clock.now += 1_000;
    }
    assert.equal(sub.dropped, 4);
    assert.equal(sub.pendingBytes, 16 * 100);
    sub.end();
  });
});

/** A NatsConnection whose one subscription yields `messages` (and stays open). */
function fakeConnection(messages: Msg[]): NatsConnection {
  const inner = {
    closed: false,
    isClosed() {
      return this.closed;
    },
    unsubscribe() {
      this.closed = true;
    },
    async *[Symbol.asyncIterator]() {
      for (const m of messages) yield m;
      await new Promise(() => {});
    },
  };
  return { subscribe: () => inner } as unknown as NatsConnection;
}

Deno.test({
  name: "nats link: a subscription to the team-key subject is bounded as TEAM_KEY_LIMITS says",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withClock(async () => {
      const link = new NatsLink({} as unknown as NatsLinkOptions);
      const teams = link.subscribe(teamsSubject("r1", "c0ffee"));
      const other = link.subscribe(controlSubject("r1", "c0ffee"));
      const flood = Array.from({ length: 40 }, (_, i) => msg(100, i));
      flood.push(msg(128 * 1024));
      teams.attach(fakeConnection(flood));
      other.attach(fakeConnection(flood));
      await new Promise((r) => setTimeout(r, 20));
      // A second's worth (10) of small pushes gets in; the rest and the large one do not.
      assert.equal(teams.dropped, 31);
      assert.equal(teams.pendingBytes, 10 * 100);
      assert.equal(other.dropped, 0);
      assert.equal(other.pendingBytes, 40 * 100 + 128 * 1024);
      teams.end();
      other.end();
    });
  },
});
