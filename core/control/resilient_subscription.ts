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
import { TokenBuckets } from "../limit/token_buckets.ts";

/** Most messages buffered for a slow reader; newer ones are dropped beyond this. */
export const MAX_PENDING_MESSAGES = 65_536;
/** Most payload bytes buffered for a slow reader (a flood of large messages); dropped beyond. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** Bounds of one subscription's queue (messages waiting for the reader). */
export interface SubscriptionLimits {
  /** Messages waiting; default MAX_PENDING_MESSAGES. */
  maxMessages?: number;
  /** Payload bytes waiting; default MAX_PENDING_BYTES. */
  maxBytes?: number;
  /** Larger messages are dropped on arrival; default none. */
  maxMessageBytes?: number;
  /** Messages let into the queue per second (burst the same); default unlimited. */
  ratePerSecond?: number;
}

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
  #bytes = 0;
  readonly #onEnd: (sub: ResilientSubscription) => void;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #maxMessageBytes: number;
  readonly #rate: TokenBuckets | null;

  /** Creates a detached subscription; `onEnd` runs once when it ends for good. */
  constructor(
    subject: string,
    onEnd: (sub: ResilientSubscription) => void = () => {},
    limits: SubscriptionLimits = {},
  ) {
    this.subject = subject;
    this.#onEnd = onEnd;
    this.#maxMessages = limits.maxMessages ?? MAX_PENDING_MESSAGES;
    this.#maxBytes = limits.maxBytes ?? MAX_PENDING_BYTES;
    this.#maxMessageBytes = limits.maxMessageBytes ?? Infinity;
    this.#rate = limits.ratePerSecond
      ? new TokenBuckets({
        ratePerSecond: limits.ratePerSecond,
        burst: limits.ratePerSecond,
        maxKeys: 1,
      })
      : null;
  }

  /** Payload bytes waiting for the reader. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /** Queues `msg` for the reader unless a bound says no (counted in `dropped`). */
  push(msg: Msg): void {
    const size = msg.data.length;
    if (
      this.#ended || this.#queue.length >= this.#maxMessages ||
      this.#bytes + size > this.#maxBytes || size > this.#maxMessageBytes ||
      (this.#rate !== null && !this.#rate.take("", Date.now()))
    ) {
      this.#dropped++;
      return;
    }
    this.#queue.push(msg);
    this.#bytes += size;
    this.#wake?.();
  }

  /** Messages dropped by a bound: count or bytes waiting, size or rate (SubscriptionLimits). */
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
        for await (const msg of inner) this.push(msg);
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
          this.#bytes -= next.data.length;
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
