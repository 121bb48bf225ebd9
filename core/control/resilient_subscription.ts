/**
 * A subscription that outlives NATS connections.
 *
 * The control client replaces its NATS connection when a session lapses and is renewed; a
 * `ResilientSubscription` is re-attached to each new connection, so a `for await` loop over it
 * keeps running. It ends only when unsubscribed, when the client closes, or when the server
 * refuses the subject (permissions violation), in which case iteration throws that error.
 *
 * @module
 */

import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";

/** Most messages buffered for a slow reader; newer ones are dropped beyond this. */
export const MAX_PENDING_MESSAGES = 65_536;

/** A subscription that survives connection replacement; iterate it with `for await`. */
export class ResilientSubscription implements AsyncIterable<Msg> {
  /** The subject subscribed to. */
  readonly subject: string;
  readonly #queue: Msg[] = [];
  #wake: (() => void) | null = null;
  #inner: Subscription | null = null;
  #ended = false;
  #error: Error | null = null;
  #dropped = 0;
  readonly #onEnd: (sub: ResilientSubscription) => void;

  /** Creates a detached subscription; `onEnd` runs once when it ends for good. */
  constructor(subject: string, onEnd: (sub: ResilientSubscription) => void = () => {}) {
    this.subject = subject;
    this.#onEnd = onEnd;
  }

  /** Messages dropped because the reader fell more than MAX_PENDING_MESSAGES behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True once the subscription has ended for good. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Subscribes on `nc` and feeds this subscription from it until detached. */
  attach(nc: NatsConnection): void {
    if (this.#ended) return;
    this.detach();
    const inner = nc.subscribe(this.subject);
    this.#inner = inner;
    (async () => {
      try {
        for await (const msg of inner) {
          if (this.#queue.length >= MAX_PENDING_MESSAGES) {
            this.#dropped++;
            continue;
          }
          this.#queue.push(msg);
          this.#wake?.();
        }
      } catch (err) {
        // The server refused this subject: final, whatever connection comes next.
        if (this.#inner === inner) this.end(err instanceof Error ? err : new Error(String(err)));
      }
    })();
  }

  /** Stops feeding from the current connection (the subscription itself stays alive). */
  detach(): void {
    const inner = this.#inner;
    this.#inner = null;
    if (inner && !inner.isClosed()) {
      try {
        inner.unsubscribe();
      } catch {
        // The connection is already gone; nothing to undo.
      }
    }
  }

  /** Ends the subscription; with `error`, the reader's loop throws it after buffered messages. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? null;
    this.detach();
    this.#wake?.();
    this.#onEnd(this);
  }

  /** Ends the subscription cleanly. */
  unsubscribe(): void {
    this.end();
  }

  /** Yields messages in arrival order until the subscription ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<Msg> {
    try {
      for (;;) {
        const next = this.#queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#ended) {
          if (this.#error) throw this.#error;
          return;
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
      }
    } finally {
      // A reader that breaks out of its loop is done with the subscription.
      if (!this.#ended) this.end();
    }
  }
}
