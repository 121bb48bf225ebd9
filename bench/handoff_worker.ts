/**
 * The far side of bench/handoff_bench.ts: a Worker that takes packet batches from the main
 * isolate and gives them back, either as transferred ArrayBuffers (postMessage) or through a
 * SharedArrayBuffer ring. It reads every byte it gets, as encryption would.
 *
 * @module
 */

/** What the main isolate tells the worker to do. */
export type HandoffCommand =
  | { kind: "transfer" }
  | { kind: "ring"; shared: SharedArrayBuffer; slots: number; slotBytes: number; count: number };

/** A worker's message back: a batch returned, or a ring run finished. */
export type HandoffReply =
  | { kind: "batch"; buffer: ArrayBuffer; sum: number }
  | { kind: "ring-done"; sum: number };

/** Index of the producer's and the consumer's counters in the ring's Int32 header. */
export const HEAD = 0, TAIL = 1;
/** Bytes before the first slot (two Int32 counters, padded). */
export const RING_HEADER = 64;

function touch(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 64) sum += bytes[i];
  return sum;
}

function consumeRing(c: Extract<HandoffCommand, { kind: "ring" }>): number {
  const counters = new Int32Array(c.shared, 0, 2);
  let sum = 0;
  for (let taken = 0; taken < c.count; taken++) {
    while (Atomics.load(counters, HEAD) === taken) Atomics.wait(counters, HEAD, taken);
    const slot = taken % c.slots;
    sum += touch(new Uint8Array(c.shared, RING_HEADER + slot * c.slotBytes, c.slotBytes));
    Atomics.store(counters, TAIL, taken + 1);
    Atomics.notify(counters, TAIL);
  }
  return sum;
}

/** This worker's side of the channel to the main isolate. */
const port = self as unknown as {
  onmessage: ((e: MessageEvent<HandoffCommand | ArrayBuffer>) => void) | null;
  postMessage(message: HandoffReply, transfer?: Transferable[]): void;
};

port.onmessage = (e) => {
  const m = e.data;
  if (m instanceof ArrayBuffer) {
    const sum = touch(new Uint8Array(m));
    const reply: HandoffReply = { kind: "batch", buffer: m, sum };
    port.postMessage(reply, [m]);
    return;
  }
  if (m.kind === "ring") {
    const reply: HandoffReply = { kind: "ring-done", sum: consumeRing(m) };
    port.postMessage(reply);
  }
};
