/**
 * Shared helpers of the tether tests: open a loopback pair in-process, wait for events.
 *
 * @module
 */

import {
  memorySignalerPair,
  openTether,
  type OpenTetherOptions,
  type Tether,
} from "../core/tether/mod.ts";
import type { RtcEngineName } from "../core/tether/tether.ts";

// An uncaught error in a case file is reported by `deno test` only at the end of the run, and
// node-datachannel may abort the process before that: print it the moment it happens.
globalThis.addEventListener("error", (e) => {
  console.error("uncaught error:", e.error instanceof Error ? e.error.stack : e.error);
});
globalThis.addEventListener("unhandledrejection", (e) => {
  console.error("unhandled rejection:", e.reason instanceof Error ? e.reason.stack : e.reason);
});

/** Opens an offerer (engine `a`) and an answerer (engine `b`) on 127.0.0.1. */
export async function openPair(
  a: RtcEngineName,
  b: RtcEngineName,
  options: Partial<OpenTetherOptions> = {},
): Promise<[Tether, Tether]> {
  const pair = memorySignalerPair();
  const common = { hostAddresses: ["127.0.0.1"], probeIntervalMs: 0, ...options };
  try {
    return await Promise.all([
      openTether({ ...common, peerId: "b", role: "offerer", signaler: pair[0], engine: a }),
      openTether({ ...common, peerId: "a", role: "answerer", signaler: pair[1], engine: b }),
    ]);
  } finally {
    pair.close();
  }
}

/** Resolves when `cond()` holds, polling; rejects after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends `count` messages of `size` bytes numbered in their first 4 bytes, paced moderately. */
export async function sendNumbered(t: Tether, count: number, size: number): Promise<void> {
  let drained: (() => void) | undefined;
  t.onDrain(() => drained?.());
  for (let i = 0; i < count;) {
    const m = new Uint8Array(size);
    new DataView(m.buffer).setUint32(0, i);
    m.fill(i & 0xff, 4);
    if (t.send(m)) i++;
    else await new Promise<void>((r) => drained = r);
    if (i % 2 === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

/** Closes both ends and waits until both report closed and engines let go. */
export async function closePair(a: Tether, b: Tether): Promise<void> {
  a.close();
  b.close();
  await waitFor(() => !a.open && !b.open, "both ends closed");
  // Let the engines finish their teardown timers.
  await new Promise((r) => setTimeout(r, 100));
}
