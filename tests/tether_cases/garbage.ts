/**
 * Garbage on a tether: arbitrary bytes of any length, control-message look-alikes on data
 * channels and a receiver that throws are surfaced or contained, never crash the engine or
 * close the tether; messages above the negotiated size are refused with a typed error.
 */

import assert from "node:assert/strict";
import { TetherError } from "../../core/tether/errors.ts";
import { encodeProbe, PROBE_BYE } from "../../core/tether/probe.ts";
import type { RtcEngineName } from "../../core/tether/tether.ts";
import { memoryLogger } from "../../core/log/logger.ts";
import { closePair, openPair, waitFor } from "../tether_helpers.ts";

for (const [ea, eb] of [["werift", "libdatachannel"], ["libdatachannel", "werift"]] as const) {
  Deno.test({
    name: `tether: ${ea} → ${eb} garbage is surfaced as bytes and harms nothing`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const log = memoryLogger();
    const [a, b] = await openPair(ea as RtcEngineName, eb as RtcEngineName, { log });
    try {
      const got: Uint8Array[] = [];
      let throws = 0;
      b.onMessage(() => {
        throws++;
        throw new Error("receiver bug");
      });
      b.onMessage((m) => got.push(m.slice()));

      const sizes = [1, 2, 13, 19, 20, 1500, 16 * 1024, a.maxMessageSize];
      const sent: Uint8Array[] = sizes.map((n) => crypto.getRandomValues(new Uint8Array(n)));
      sent.push(encodeProbe({ type: PROBE_BYE, seq: 0, time: 0 }));
      for (const m of sent) {
        assert.equal(a.send(m), true);
        await new Promise((r) => setTimeout(r, 2));
      }
      await waitFor(() => got.length === sent.length, "all garbage messages");
      const key = (m: Uint8Array) => Array.from(m.subarray(0, 32)).join(",") + "/" + m.length;
      assert.deepEqual(new Set(got.map(key)), new Set(sent.map(key)));
      assert.equal(throws, sent.length);
      assert.ok(log.lines.some((l) => l.includes("tether message handler threw")));
      // A BYE look-alike on a data channel is data, not a close.
      assert.equal(b.open, true);
      assert.equal(a.open, true);

      assert.throws(
        () => a.send(new Uint8Array(a.maxMessageSize + 1)),
        (e) => e instanceof TetherError && e.code === "oversized",
      );
      assert.throws(
        () => a.send(new Uint8Array(0)),
        (e) => e instanceof TetherError && e.code === "empty",
      );
      // Still works afterwards, both ways.
      const back: Uint8Array[] = [];
      a.onMessage((m) => back.push(m));
      // A view into a larger buffer sends exactly its own bytes.
      const big = new Uint8Array(64).map((_, i) => i);
      assert.equal(b.send(big.subarray(1, 4)), true);
      await waitFor(() => back.length === 1, "reply after garbage");
      assert.deepEqual([...back[0]], [1, 2, 3]);
    } finally {
      await closePair(a, b);
    }
  });
}

Deno.test({
  name: "tether: a smaller max message size on one end caps the other end's sends",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const { memorySignalerPair, openTether } = await import("../../core/tether/mod.ts");
  const pair = memorySignalerPair();
  const common = { hostAddresses: ["127.0.0.1"], probeIntervalMs: 0 };
  const [a, b] = await Promise.all([
    openTether({
      ...common,
      peerId: "b",
      role: "offerer",
      signaler: pair[0],
      maxMessageSize: 8192,
    }),
    openTether({ ...common, peerId: "a", role: "answerer", signaler: pair[1], engine: "werift" }),
  ]);
  try {
    assert.equal(a.maxMessageSize, 8192);
    assert.equal(b.maxMessageSize, 8192);
    assert.throws(() => b.send(new Uint8Array(8193)), TetherError);
  } finally {
    pair.close();
    await closePair(a, b);
  }
});

for (const engine of ["libdatachannel", "werift"] as const) {
  Deno.test({
    name: `tether: ${engine} rejects a garbage offer or answer with a typed error`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const { openTether, SignalQueue } = await import("../../core/tether/mod.ts");
    const common = { hostAddresses: ["127.0.0.1"], probeIntervalMs: 0, engine, timeoutMs: 5000 };
    const garbage = ["v=0", "not an sdp at all", "v=0\r\nm=application 9 UDP/DTLS/SCTP\r\n"];
    for (const sdp of garbage) {
      // Answerer fed a garbage offer.
      const toAnswerer = new SignalQueue();
      toAnswerer.push({ kind: "offer", session: "s", sdp });
      await assert.rejects(
        () =>
          openTether({
            ...common,
            peerId: "x",
            role: "answerer",
            signaler: { send: () => {}, incoming: toAnswerer },
          }),
        (e) => e instanceof TetherError && e.code === "negotiation",
      );
      // Offerer fed a garbage answer for its own session.
      const toOfferer = new SignalQueue();
      await assert.rejects(
        () =>
          openTether({
            ...common,
            peerId: "y",
            role: "offerer",
            session: "s2",
            signaler: {
              send: (s) => {
                if (s.kind === "offer") toOfferer.push({ kind: "answer", session: "s2", sdp });
              },
              incoming: toOfferer,
            },
          }),
        (e) => e instanceof TetherError && e.code === "negotiation",
      );
    }
  });
}
