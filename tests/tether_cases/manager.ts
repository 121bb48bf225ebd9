/**
 * TetherManager: one tether per peer on demand, incoming offers answered, concurrent connects
 * joined, glare (both ends connecting at once) settled into one tether, close propagated and a
 * fresh connect working afterwards, refused offers leading to a typed timeout.
 */

import assert from "node:assert/strict";
import { type Signal, TetherError, TetherManager } from "../../core/tether/mod.ts";
import type { Tether } from "../../core/tether/tether.ts";
import { waitFor } from "../tether_helpers.ts";

function managers(options: { acceptB?: boolean; timeoutMs?: number } = {}) {
  const box: { a?: TetherManager; b?: TetherManager } = {};
  // Deliver asynchronously, like a network would.
  const deliver = (to: () => TetherManager | undefined, from: string) => (_: string, s: Signal) =>
    void setTimeout(() => to()?.receive(from, structuredClone(s)), 0);
  const tether = {
    hostAddresses: ["127.0.0.1"],
    probeIntervalMs: 0,
    timeoutMs: options.timeoutMs ?? 10_000,
  };
  box.a = new TetherManager({ localId: "a", sendSignal: deliver(() => box.b, "a"), tether });
  box.b = new TetherManager({
    localId: "b",
    sendSignal: deliver(() => box.a, "b"),
    tether: { ...tether, engine: "werift" },
    acceptOffer: () => options.acceptB ?? true,
  });
  return { a: box.a, b: box.b };
}

async function roundTrip(x: Tether, y: Tether): Promise<void> {
  const got: Uint8Array[] = [];
  y.onMessage((m) => got.push(m));
  assert.equal(x.send(new Uint8Array([7, 7, 7])), true);
  await waitFor(() => got.length === 1, "message across the managed tether");
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  { name: "tether manager: connect, incoming tether, reuse, close, reconnect", ...opts },
  async () => {
    const { a, b } = managers();
    try {
      const incoming: Tether[] = [];
      b.onTether((t) => incoming.push(t));
      const [t1, t2] = await Promise.all([a.connect("b"), a.connect("b")]);
      assert.equal(t1, t2, "concurrent connects share one attempt");
      assert.equal(await a.connect("b"), t1, "an open tether is reused");
      await waitFor(() => incoming.length === 1, "incoming tether at b");
      assert.equal(incoming[0].peerId, "a");
      assert.equal(b.get("a"), incoming[0]);
      assert.equal(incoming[0].engine, "werift");
      await roundTrip(t1, incoming[0]);
      await roundTrip(incoming[0], t1);

      a.close("b");
      await waitFor(() => b.get("a") === undefined && !incoming[0].open, "b saw the close");
      assert.equal(a.get("b"), undefined);
      const t3 = await a.connect("b");
      assert.notEqual(t3, t1);
      await waitFor(() => incoming.length === 2, "second incoming tether");
      await roundTrip(t3, incoming[1]);
    } finally {
      a.closeAll();
      b.closeAll();
      await new Promise((r) => setTimeout(r, 100));
    }
  },
);

Deno.test({ name: "tether manager: glare settles into one tether per side", ...opts }, async () => {
  const { a, b } = managers();
  try {
    const [ta, tb] = await Promise.all([a.connect("b"), b.connect("a")]);
    assert.equal(a.tethers().length, 1);
    assert.equal(b.tethers().length, 1);
    assert.equal(a.get("b"), ta);
    assert.equal(b.get("a"), tb);
    await roundTrip(ta, tb);
    await roundTrip(tb, ta);
  } finally {
    a.closeAll();
    b.closeAll();
    await new Promise((r) => setTimeout(r, 100));
  }
});

Deno.test(
  { name: "tether manager: a refused offer ends in a typed timeout", ...opts },
  async () => {
    const { a, b } = managers({ acceptB: false, timeoutMs: 1000 });
    try {
      await assert.rejects(
        () => a.connect("b"),
        (e) => e instanceof TetherError && e.code === "timeout",
      );
      assert.equal(a.get("b"), undefined);
      assert.equal(b.tethers().length, 0);
    } finally {
      a.closeAll();
      b.closeAll();
    }
  },
);
