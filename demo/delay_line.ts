/**
 * A delay line between two TUN devices, for the topology lab's slow links (this kernel has no
 * netem): every packet read from one TUN is written to the other `delayMs` later, both ways. A
 * packet written to a TUN enters the stack as if received on it and is forwarded on, so with
 * policy routing (what arrives on each veth goes into its own TUN) every program on both sides
 * sees the delay, as behind a long link.
 *
 *   deno run -A demo/delay_line.ts TUN_A TUN_B DELAY_MS
 *
 * Prints "delay line ready" once both TUNs are up; runs until SIGTERM. Bounded: at most 4,096
 * packets in flight per direction (more are dropped, as a full queue would).
 *
 * @module
 */
import { Tun } from "../ffi/tun.ts";

const MAX_IN_FLIGHT = 4096;

/** Moves packets from `from` to `to`, each `delayMs` after it was read, until `stop` aborts. */
async function forward(from: Tun, to: Tun, delayMs: number, stop: AbortSignal): Promise<void> {
  const batch = from.newBatch(64);
  const queue: { due: number; packet: Uint8Array<ArrayBuffer> }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) to.write(queue.shift()!.packet);
    if (queue.length > 0 && !stop.aborted) {
      timer = setTimeout(drain, Math.max(0, queue[0].due - performance.now()));
    }
  };
  while (!stop.aborted) {
    let n: number;
    try {
      n = await from.readBatch(batch, { timeoutMs: 200 });
    } catch {
      break; // closed
    }
    const due = performance.now() + delayMs;
    for (let i = 0; i < n && queue.length < MAX_IN_FLIGHT; i++) {
      queue.push({ due, packet: batch.packet(i).slice() });
    }
    if (n > 0 && timer === undefined) timer = setTimeout(drain, delayMs);
  }
  clearTimeout(timer);
}

if (import.meta.main) {
  const [nameA, nameB, delayText] = Deno.args;
  const delayMs = Number(delayText);
  if (!nameA || !nameB || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > 10_000) {
    console.error("usage: delay_line.ts TUN_A TUN_B DELAY_MS (0–10000)");
    Deno.exit(2);
  }
  const a = await Tun.open({ name: nameA });
  const b = await Tun.open({ name: nameB });
  await a.setUp(true);
  await b.setUp(true);
  const ac = new AbortController();
  Deno.addSignalListener("SIGTERM", () => ac.abort());
  console.log("delay line ready");
  await Promise.all([forward(a, b, delayMs, ac.signal), forward(b, a, delayMs, ac.signal)]);
  await a.close();
  await b.close();
  Deno.exit(0);
}
