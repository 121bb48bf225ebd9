/**
 * FrameBatcher: builds batch messages (core/wire/frame.ts container) for one tether in place and
 * sends them on the microtask after the first frame, so an idle path adds no delay and a burst in
 * one event-loop turn (a TUN read batch) becomes few messages. The sender writes (seals) each
 * frame straight into its slot of the message being built: no frame buffer, no copy into a
 * batch. A message holding one frame goes as the frame alone.
 *
 * Lanes: each lane has its own messages and goes to one data channel of the tether, so the frames
 * of one flow (same lane) stay in order while flows spread over channels. When the tether is
 * back-pressured, finished messages wait for its drain event (bounded; beyond it frames drop).
 *
 * @module
 */

import { BATCH_TYPE, FRAME_VERSION, MAX_BATCH_FRAMES } from "../wire/frame.ts";
import type { Tether } from "./tether.ts";

/** Options of a FrameBatcher. */
export interface FrameBatcherOptions {
  /** Largest message built; default the tether's maxMessageSize capped at 16 KB. */
  maxBatchBytes?: number;
  /** Most frames waiting per lane; more are dropped (counted). Default 1024. */
  maxQueue?: number;
}

interface Lane {
  index: number;
  /** Message being built: 2 bytes of batch header, then 2 bytes of length before each frame. */
  buf: Uint8Array | null;
  used: number;
  frames: number;
  /** Finished messages not yet taken by the tether, and the frames in them. */
  ready: Uint8Array[];
  readyFrames: number[];
  waiting: number;
}

/** Batches frames onto one tether. */
export class FrameBatcher {
  readonly #tether: Tether;
  readonly #maxBytes: number;
  readonly #maxQueue: number;
  readonly #lanes: Lane[] = [];
  #scheduled = false;
  #dropped = 0;
  #messages = 0;

  /** Attaches to `tether` (subscribes to its drain event). */
  constructor(tether: Tether, options: FrameBatcherOptions = {}) {
    this.#tether = tether;
    this.#maxBytes = Math.min(options.maxBatchBytes ?? 16 * 1024, tether.maxMessageSize);
    this.#maxQueue = options.maxQueue ?? 1024;
    tether.onDrain(() => this.flush());
  }

  /**
   * Room for one frame of `length` bytes on `lane`, to be written completely before the next call
   * on this batcher; null when the frame is dropped (queue full, tether closed, too large).
   */
  slot(length: number, lane = 0): Uint8Array | null {
    const t = this.#tether;
    if (!t.open || length > t.maxMessageSize || length <= 0) {
      this.#dropped++;
      return null;
    }
    const l = this.#lane(lane);
    if (l.waiting >= this.#maxQueue) {
      this.#dropped++;
      return null;
    }
    l.waiting++;
    this.#schedule();
    if (4 + length > this.#maxBytes) {
      // Too large to share a message: it goes alone, in a buffer of its own.
      this.#finish(l);
      const own = new Uint8Array(length);
      l.ready.push(own);
      l.readyFrames.push(1);
      return own;
    }
    if (l.buf && (l.used + 2 + length > this.#maxBytes || l.frames === MAX_BATCH_FRAMES)) {
      this.#finish(l);
    }
    if (!l.buf) {
      l.buf = new Uint8Array(this.#maxBytes);
      l.used = 2;
      l.frames = 0;
    }
    const at = l.used;
    l.buf[at] = length >> 8;
    l.buf[at + 1] = length & 0xff;
    l.used = at + 2 + length;
    l.frames++;
    return l.buf.subarray(at + 2, at + 2 + length);
  }

  /** Queues a copy of one encoded frame on `lane`; false if dropped. */
  push(frame: Uint8Array, lane = 0): boolean {
    const s = this.slot(frame.byteLength, lane);
    if (!s) return false;
    s.set(frame);
    return true;
  }

  /** Frames waiting (in messages being built or not yet taken by the tether). */
  get queued(): number {
    let n = 0;
    for (const l of this.#lanes) if (l) n += l.waiting;
    return n;
  }

  /** Frames dropped because the queue was full or the tether closed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Messages handed to the tether. */
  get messages(): number {
    return this.#messages;
  }

  /** Finishes the messages being built and sends as much as the tether takes now. */
  flush(): void {
    const t = this.#tether;
    if (!t.open) return;
    const pinned = t.channelCount > 1;
    for (const l of this.#lanes) {
      if (!l) continue;
      this.#finish(l);
      while (l.ready.length > 0) {
        if (!t.send(l.ready[0], pinned ? l.index : undefined)) break;
        l.ready.shift();
        l.waiting -= l.readyFrames.shift()!;
        this.#messages++;
      }
    }
  }

  #lane(index: number): Lane {
    return this.#lanes[index] ??= {
      index,
      buf: null,
      used: 0,
      frames: 0,
      ready: [],
      readyFrames: [],
      waiting: 0,
    };
  }

  #finish(l: Lane): void {
    const buf = l.buf;
    if (!buf || l.frames === 0) return;
    l.buf = null;
    if (l.frames === 1) {
      l.ready.push(buf.subarray(4, l.used));
    } else {
      buf[0] = (FRAME_VERSION << 4) | BATCH_TYPE;
      buf[1] = l.frames;
      l.ready.push(buf.subarray(0, l.used));
    }
    l.readyFrames.push(l.frames);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.flush();
    });
  }
}
