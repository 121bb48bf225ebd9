import assert from "node:assert/strict";
import { memoryLogger } from "../log/logger.ts";
import type { Signal } from "../tether/signaler.ts";
import { TetherPool } from "./tether_pool.ts";

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
