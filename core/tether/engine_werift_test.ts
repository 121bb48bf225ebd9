import assert from "node:assert/strict";
import { loadWerift, weriftSctp } from "./engine_werift.ts";

Deno.test("werift: a second T1/T2 start restarts the timer instead of throwing", async () => {
  await loadWerift();
  const sctp = weriftSctp(await import("werift"));
  try {
    // Unpatched werift 0.25.2 throws at each second start (both ends closing at once ended the
    // process in tests).
    sctp.timer1Start("INIT");
    sctp.timer1Start("COOKIE ECHO");
    assert.equal(sctp.timer1Chunk, "COOKIE ECHO");
    sctp.t2Start("SHUTDOWN");
    sctp.t2Start("SHUTDOWN ACK");
    assert.equal(sctp.timer2Chunk, "SHUTDOWN ACK");
  } finally {
    sctp.timer1Cancel();
    sctp.timer2Cancel();
  }
});
