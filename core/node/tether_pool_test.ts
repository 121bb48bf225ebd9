import assert from "node:assert/strict";
import { memoryLogger } from "../log/logger.ts";
import type { Signal } from "../tether/signaler.ts";
import type { RtcEngineChoice } from "../tether/tether.ts";
import { MAX_STRANGER_TETHERS, MAX_TETHERS, TetherPool } from "./tether_pool.ts";

/** Two pools on loopback whose signals go straight to each other. */
function pair() {
  const received: Record<string, Uint8Array[]> = { a: [], b: [] };
  const pools: Record<string, TetherPool> = {};
  for (const [self, other] of [["a", "b"], ["b", "a"]]) {
    pools[self] = new TetherPool({
      ownId: self,
      engine: "werift",
      iceServers: [],
      hostAddresses: ["127.0.0.1"],
      sendSignal: (peer: string, signal: Signal) => {
        assert.equal(peer, other);
        queueMicrotask(() => pools[other].onSignal(self, structuredClone(signal)));
        return Promise.resolve();
      },
      onMessage: (_peer, m) => received[self].push(new Uint8Array(m)),
      log: memoryLogger(),
    });
  }
  return { pools, received };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "tether pool: both ends offering at once end up with one tether that carries frames",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { pools, received } = pair();
    try {
      const [ta, tb] = await Promise.all([pools.a.ensure("b"), pools.b.ensure("a")]);
      assert.ok(ta.open && tb.open);
      assert.equal(pools.a.tethers().length, 1);
      assert.equal(pools.b.tethers().length, 1);
      const frame = new Uint8Array(64).fill(3);
      assert.ok(pools.a.send("b", frame));
      assert.ok(pools.b.send("a", frame));
      await waitFor(() => received.a.length > 0 && received.b.length > 0);
      assert.deepEqual(received.b[0], frame);
      assert.ok(pools.a.lastActivity("b")! > 0);
      // The same tether is handed out again.
      assert.equal(await pools.a.ensure("b"), pools.a.tether("b"));
    } finally {
      pools.a.closeAll();
      pools.b.closeAll();
    }
  },
});

Deno.test({
  name: "tether pool: close drops the tether; the next ensure opens a new one",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { pools } = pair();
    try {
      const first = await pools.a.ensure("b");
      await waitFor(() => pools.b.tether("a") !== undefined);
      pools.a.close("b", "test");
      assert.equal(pools.a.tether("b"), undefined);
      assert.equal(pools.a.send("b", new Uint8Array(30)), false);
      const second = await pools.a.ensure("b");
      assert.notEqual(second, first);
      assert.ok(second.open);
    } finally {
      pools.a.closeAll();
      pools.b.closeAll();
    }
  },
});

/** An engine choice no engine answers to: every tether attempt fails, a tick later. */
const NO_ENGINE = "none" as unknown as RtcEngineChoice;

/** A pool whose tethers never open (no engine), for the bounds on links held. */
function enginelessPool(): TetherPool {
  return new TetherPool({
    ownId: "self",
    engine: NO_ENGINE,
    iceServers: [],
    sendSignal: () => Promise.resolve(),
    onMessage: () => {},
    log: memoryLogger(),
  });
}

function offer(session: string, stranger?: boolean): Signal {
  return stranger === undefined
    ? { kind: "offer", session, sdp: "v=0" }
    : { kind: "offer", session, sdp: "v=0", stranger };
}

Deno.test("tether pool: at most MAX_TETHERS links; a full pool answers no offer and offers none", async () => {
  const pool = enginelessPool();
  try {
    // Links count from the moment an offer is taken up, while still being negotiated.
    for (let i = 0; i < MAX_TETHERS + 20; i++) pool.onSignal(`peer-${i}`, offer(`s-${i}`));
    assert.deepEqual(pool.size, { all: MAX_TETHERS, strangers: 0 });
    assert.equal(pool.offering(`peer-${MAX_TETHERS}`), false);
    const refused = pool.ensure("one-more").then(() => "opened", (e) => String(e));
    assert.equal(pool.size.all, MAX_TETHERS, "ensure starts no link beyond the bound");
    assert.match(await refused, /tether pool full \(256\)/);
    // The attempts fail (no engine) and free their places.
    await waitFor(() => pool.size.all === 0);
    pool.onSignal("later", offer("s-later"));
    assert.equal(pool.size.all, 1);
  } finally {
    pool.closeAll();
  }
});

Deno.test("tether pool: at most MAX_STRANGER_TETHERS links answered for strangers; teammates still fit", async () => {
  const pool = enginelessPool();
  try {
    for (let i = 0; i < MAX_STRANGER_TETHERS + 10; i++) {
      pool.onSignal(`stranger-${i}`, offer(`s-${i}`, true));
    }
    assert.deepEqual(pool.size, { all: MAX_STRANGER_TETHERS, strangers: MAX_STRANGER_TETHERS });
    // Offers without the flag (teammates) take the rest of the pool.
    for (let i = 0; i < 10; i++) pool.onSignal(`mate-${i}`, offer(`m-${i}`, false));
    assert.deepEqual(pool.size, {
      all: MAX_STRANGER_TETHERS + 10,
      strangers: MAX_STRANGER_TETHERS,
    });
    // Our own offers never count as strangers' (the flag is the answerer's).
    pool.ensure("offered").catch(() => {});
    assert.deepEqual(pool.size, {
      all: MAX_STRANGER_TETHERS + 11,
      strangers: MAX_STRANGER_TETHERS,
    });
    await waitFor(() => pool.size.all === 0);
    pool.onSignal("stranger-late", offer("s-late", true));
    assert.deepEqual(pool.size, { all: 1, strangers: 1 });
  } finally {
    pool.closeAll();
  }
});

/**
 * `a` offers a real (werift, loopback) tether to `b`, the offer marked `stranger` as the control
 * inbox marks one from a conflux without a shared team; resolves with every candidate `b` sent.
 */
async function answeredCandidates(
  stranger: boolean,
  iceServers: readonly string[] = [],
): Promise<string[]> {
  const sentByB: string[] = [];
  const pools: Record<string, TetherPool> = {};
  for (const [self, other] of [["a", "b"], ["b", "a"]]) {
    pools[self] = new TetherPool({
      ownId: self,
      engine: "werift",
      iceServers,
      hostAddresses: ["127.0.0.1"],
      sendSignal: (_peer: string, signal: Signal) => {
        if (self === "b" && signal.kind === "candidate") sentByB.push(signal.candidate);
        const copy = structuredClone(signal);
        if (copy.kind === "offer" && stranger) copy.stranger = true;
        queueMicrotask(() => pools[other].onSignal(self, copy));
        return Promise.resolve();
      },
      onMessage: () => {},
      log: memoryLogger(),
    });
  }
  try {
    const opened = pools.a.ensure("b");
    opened.catch(() => {});
    await waitFor(() => pools.b.size.all === 1, 15_000);
    assert.deepEqual(pools.b.size, { all: 1, strangers: stranger ? 1 : 0 });
    // With a STUN server that never answers and no host candidate from b, ICE has nothing of
    // b's to check: that stranger's tether opens only where b gets a server-reflexive candidate.
    if (!stranger || iceServers.length === 0) await opened;
    // Gathering (on loopback: well within this) and late candidates.
    await new Promise((r) => setTimeout(r, 1000));
    return sentByB;
  } finally {
    pools.a.closeAll();
    pools.b.closeAll();
  }
}

Deno.test({
  name: "tether pool: a tether answered for a stranger advertises no host candidates",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const teammate = await answeredCandidates(false);
    assert.ok(
      teammate.some((c) => / typ host/.test(c)),
      `a teammate's answerer sends its host candidates: ${teammate}`,
    );
    // A STUN server is configured (a loopback port nobody answers on): server-reflexive
    // candidates would be what a stranger gets, never host ones.
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (free.addr as Deno.NetAddr).port;
    free.close();
    const stranger = await answeredCandidates(true, [`stun:127.0.0.1:${port}`]);
    assert.deepEqual(
      stranger.filter((c) => / typ host/.test(c)),
      [],
      "a stranger's answerer sends no host candidate",
    );
    // Without any STUN server host candidates are all a relay has: a stranger gets them, and
    // the tether opens (a LAN-only realm keeps its relays).
    const lanOnly = await answeredCandidates(true);
    assert.ok(lanOnly.some((c) => / typ host/.test(c)), `LAN-only: ${lanOnly}`);
  },
});
