/**
 * Each engine and each engine pairing (werift ↔ libdatachannel both ways) opens a tether on
 * loopback, delivers messages both ways intact, and tears down both ends on close.
 */

import assert from "node:assert/strict";
import type { RtcEngineName } from "../../core/tether/tether.ts";
import { closePair, openPair, sendNumbered, waitFor } from "../tether_helpers.ts";

const pairs: [RtcEngineName, RtcEngineName][] = [
  ["libdatachannel", "libdatachannel"],
  ["werift", "werift"],
  ["werift", "libdatachannel"],
  ["libdatachannel", "werift"],
];

for (const [ea, eb] of pairs) {
  Deno.test({
    name: `tether: ${ea} → ${eb} delivers messages both ways and closes both ends`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const [a, b] = await openPair(ea, eb, { channels: 3 });
    try {
      assert.equal(a.engine, ea);
      assert.equal(b.engine, eb);
      assert.equal(a.channelCount, 3);
      const gotA: Uint8Array[] = [];
      const gotB: Uint8Array[] = [];
      a.onMessage((m) => gotA.push(m.slice()));
      b.onMessage((m) => gotB.push(m.slice()));
      const count = 200;
      await Promise.all([sendNumbered(a, count, 1200), sendNumbered(b, count, 700)]);
      await waitFor(() => gotA.length >= count && gotB.length >= count, "all messages");
      for (const [got, size] of [[gotB, 1200], [gotA, 700]] as const) {
        const seen = new Set<number>();
        for (const m of got) {
          assert.equal(m.byteLength, size);
          const n = new DataView(m.buffer).getUint32(0);
          assert.ok(m.subarray(4).every((x) => x === (n & 0xff)), "payload intact");
          seen.add(n);
        }
        assert.equal(seen.size, count, "every message exactly once");
      }
      assert.equal(a.stats().messagesSent, count);
      assert.equal(b.stats().messagesReceived, count);
      assert.equal(b.stats().bytesReceived, count * 1200);

      const reasonB = new Promise<string>((r) => b.onClose(r));
      a.close();
      assert.equal(await reasonB, "closed by peer");
      assert.equal(b.open, false);
      assert.equal(b.send(new Uint8Array(10)), false);
      assert.equal(a.send(new Uint8Array(10)), false);
    } finally {
      await closePair(a, b);
    }
  });
}

Deno.test({
  name: "tether: liveness probes measure RTT on the control channel",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const [a, b] = await openPair("libdatachannel", "werift", { probeIntervalMs: 50 });
  try {
    await waitFor(() => a.stats().probesAnswered >= 3 && b.stats().probesAnswered >= 3, "probes");
    for (const t of [a, b]) {
      const s = t.stats();
      assert.ok(Number.isFinite(s.rttMs) && s.rttMs >= 0);
      assert.ok(Number.isFinite(s.rttP50Ms));
      assert.ok(s.loss >= 0 && s.loss <= 1);
      // Probes are not data: they do not count as messages.
      assert.equal(s.messagesReceived, 0);
    }
  } finally {
    await closePair(a, b);
  }
});

Deno.test("tether: werift never falls back to a public STUN server", async () => {
  const { loadWerift } = await import("../../core/tether/engine_werift.ts");
  await loadWerift();
  const werift = await import("werift");
  type Conn = { stunServer?: unknown; close(): Promise<void> };
  const ConnectionClass = (werift as unknown as {
    Connection: new (controlling: boolean, options: Record<string, unknown>) => Conn;
  }).Connection;
  const none = new ConnectionClass(true, {});
  assert.equal(none.stunServer, undefined, "no STUN server unless configured");
  const configured = new ConnectionClass(true, { stunServer: ["198.18.0.9", 3478] });
  assert.deepEqual(configured.stunServer, ["198.18.0.9", 3478]);
});

Deno.test({
  name: "tether: ends configured with different channel counts use the smaller count",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const { memorySignalerPair, openTether } = await import("../../core/tether/mod.ts");
  for (const [ca, cb] of [[4, 2], [1, 3]]) {
    const pair = memorySignalerPair();
    const common = { hostAddresses: ["127.0.0.1"], probeIntervalMs: 0 };
    const [a, b] = await Promise.all([
      openTether({ ...common, peerId: "b", role: "offerer", signaler: pair[0], channels: ca }),
      openTether({
        ...common,
        peerId: "a",
        role: "answerer",
        signaler: pair[1],
        channels: cb,
        engine: "werift",
      }),
    ]);
    try {
      const n = Math.min(ca, cb);
      assert.equal(a.channelCount, n);
      assert.equal(b.channelCount, n);
      const gotA: Uint8Array[] = [];
      const gotB: Uint8Array[] = [];
      a.onMessage((m) => gotA.push(m));
      b.onMessage((m) => gotB.push(m));
      await Promise.all([sendNumbered(a, 40, 500), sendNumbered(b, 40, 500)]);
      await waitFor(() => gotA.length === 40 && gotB.length === 40, "messages on every channel");
    } finally {
      pair.close();
      await closePair(a, b);
    }
  }
});
