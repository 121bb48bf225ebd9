/**
 * FrameBatcher: queues frames for one tether and sends them as batch messages (core/wire/frame.ts
 * container) when several are waiting, a single frame as itself. Flushes on the microtask after
 * the first push, so an idle path adds no delay and a burst in one event-loop turn (a TUN read
 * batch) becomes one message; when the tether is back-pressured frames wait for its drain event.
 *
 * @module
 */

import { encodeBatch, MAX_BATCH_FRAMES } from "../wire/frame.ts";
import type { Tether } from "./tether.ts";

/** Options of a FrameBatcher. */
export interface FrameBatcherOptions {
  /** Largest message built; default the tether's maxMessageSize capped at 16 KB. */
  maxBatchBytes?: number;
  /** Most frames waiting; more are dropped (counted). Default 1024. */
  maxQueue?: number;
}

/** Batches frames onto one tether. */
export class FrameBatcher {
  readonly #tether: Tether;
  readonly #maxBytes: number;
  readonly #maxQueue: number;
  #queue: Uint8Array[] = [];
  #head = 0;
  #scheduled = false;
  #pending: Uint8Array | null = null;
  #dropped = 0;
  #messages = 0;

  /** Attaches to `tether` (subscribes to its drain event). */
  constructor(tether: Tether, options: FrameBatcherOptions = {}) {
    this.#tether = tether;
    this.#maxBytes = Math.min(options.maxBatchBytes ?? 16 * 1024, tether.maxMessageSize);
    this.#maxQueue = options.maxQueue ?? 1024;
    tether.onDrain(() => this.flush());
  }

  /** Queues one encoded frame; false if dropped (queue full, tether closed, frame too large). */
  push(frame: Uint8Array): boolean {
    if (
      this.#queue.length - this.#head >= this.#maxQueue || !this.#tether.open ||
      frame.byteLength > this.#tether.maxMessageSize
    ) {
      this.#dropped++;
      return false;
    }
    this.#queue.push(frame);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Frames waiting (including a built message not yet accepted by the tether). */
  get queued(): number {
    return this.#queue.length - this.#head + (this.#pending ? 1 : 0);
  }

  /** Frames dropped because the queue was full or the tether closed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Messages handed to the tether. */
  get messages(): number {
    return this.#messages;
  }

  /** Sends as much as the tether takes now. */
  flush(): void {
    const t = this.#tether;
    if (!t.open) return;
    for (;;) {
      if (!this.#pending) this.#pending = this.#build();
      if (!this.#pending) return;
      if (!t.send(this.#pending)) return;
      this.#pending = null;
      this.#messages++;
    }
  }

  #build(): Uint8Array | null {
    const q = this.#queue;
    if (this.#head >= q.length) {
      q.length = 0;
      this.#head = 0;
      return null;
    }
    const first = q[this.#head];
    // 2 bytes of batch header and 2 of length per frame.
    let bytes = 2 + 2 + first.byteLength;
    let end = this.#head + 1;
    while (
      end < q.length && end - this.#head < MAX_BATCH_FRAMES &&
      bytes + 2 + q[end].byteLength <= this.#maxBytes
    ) {
      bytes += 2 + q[end].byteLength;
      end++;
    }
    const frames = q.slice(this.#head, end);
    this.#head = end;
    if (this.#head >= q.length) {
      q.length = 0;
      this.#head = 0;
    }
    return frames.length === 1 ? frames[0] : encodeBatch(frames);
  }
}
