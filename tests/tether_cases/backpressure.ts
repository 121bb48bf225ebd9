/**
 * Back-pressure: a tether refuses messages once every channel is above high water, fires the
 * drain event when one falls below low water, and a sender that retries after drain loses
 * nothing to back-pressure in a bounded burst.
 */

import assert from "node:assert/strict";
import type { RtcEngineName } from "../../core/tether/tether.ts";
import { closePair, openPair, waitFor } from "../tether_helpers.ts";

for (const engine of ["libdatachannel", "werift"] as RtcEngineName[]) {
  Deno.test({
    name: `tether: ${engine} back-pressure refuses, drains, and a bounded burst arrives whole`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const [a, b] = await openPair(engine, engine, {
      channels: 2,
      highWater: 16 * 1024,
      lowWater: 4 * 1024,
    });
    try {
      const received = new Set<number>();
      b.onMessage((m) => received.add(new DataView(m.buffer, m.byteOffset).getUint32(0)));
      let drains = 0;
      let wake: (() => void) | undefined;
      a.onDrain(() => {
        drains++;
        wake?.();
      });

      // A synchronous burst fills both channels (libdatachannel drains on its own thread into
      // the SCTP send buffer first, so the bound is generous).
      let next = 0;
      const message = () => {
        const m = new Uint8Array(1200);
        new DataView(m.buffer).setUint32(0, next);
        return m;
      };
      while (next < 100_000 && a.send(message())) next++;
      assert.ok(next > 0 && next < 100_000, `accepted ${next} before refusing`);
      const total = next + 400;
      assert.equal(a.stats().backpressured, 1);
      if (engine === "werift") {
        // werift is single-threaded here, so the state is stable until we yield; libdatachannel
        // drains on its own thread meanwhile, so these would race.
        assert.ok(a.bufferedAmount >= 2 * 16 * 1024, "both channels at high water");
        assert.equal(a.send(message()), false, "still refused while full");
      }

      // Retry after each drain until the bounded burst is out.
      while (next < total) {
        if (a.send(message())) {
          next++;
          continue;
        }
        await new Promise<void>((r) => wake = r);
      }
      assert.ok(drains >= 1, "drain event fired");
      await waitFor(() => received.size === total, `all ${total} messages (got ${received.size})`);
      assert.equal(b.stats().messagesReceived, total);
    } finally {
      await closePair(a, b);
    }
  });
}
