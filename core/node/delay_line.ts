/**
 * A fixed delay in front of a send function, in order: what `tc netem delay` does to a link,
 * for tests on kernels without netem (the node takes it as fault injection, never from the CLI).
 * One timer serves the whole queue.
 *
 * @module
 */

/** Delays calls of `send(to, frame)` by a fixed time, keeping their order. */
export class DelayLine {
  readonly #delayMs: number;
  readonly #send: (to: string, frame: Uint8Array) => boolean;
  #queue: { at: number; to: string; frame: Uint8Array }[] = [];
  #timer?: ReturnType<typeof setTimeout>;

  /** Frames given to {@link push} reach `send` `delayMs` later. */
  constructor(delayMs: number, send: (to: string, frame: Uint8Array) => boolean) {
    this.#delayMs = delayMs;
    this.#send = send;
  }

  /** Queues `frame` for `to` (the caller must not reuse the buffer); always true. */
  push(to: string, frame: Uint8Array): boolean {
    this.#queue.push({ at: performance.now() + this.#delayMs, to, frame });
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#release(), this.#delayMs);
    return true;
  }

  /** Drops whatever is still queued. */
  close(): void {
    clearTimeout(this.#timer);
    this.#queue = [];
  }

  #release(): void {
    this.#timer = undefined;
    const now = performance.now();
    let i = 0;
    for (; i < this.#queue.length && this.#queue[i].at <= now + 0.5; i++) {
      this.#send(this.#queue[i].to, this.#queue[i].frame);
    }
    this.#queue.splice(0, i);
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.#release(), Math.max(0, this.#queue[0].at - now));
    }
  }
}
