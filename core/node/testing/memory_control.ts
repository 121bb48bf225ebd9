/**
 * An in-memory control channel: exact subjects, publish, request/reply with timeouts and "no
 * responders", subscriptions as async iterables. Messages are delivered on a later task, as over
 * NATS, so handlers never run inside the sender's call. Tests can watch or drop traffic.
 *
 * @module
 */
import type { ControlMessage, ControlPort } from "../ports.ts";

/** A subscription's queue. */
class Inbox implements AsyncIterable<ControlMessage> {
  #queue: ControlMessage[] = [];
  #wake?: () => void;
  #closed = false;

  push(m: ControlMessage): void {
    if (this.#closed) return;
    this.#queue.push(m);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ControlMessage> {
    while (true) {
      const m = this.#queue.shift();
      if (m) {
        yield m;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
  }
}

/** One control message as the bus carried it (for tests that watch the channel). */
export interface BusMessage {
  from: string;
  subject: string;
  data: Uint8Array;
}

/** The shared bus every MemoryControl of a test realm is on. */
export class MemoryBus {
  #subs = new Map<string, Set<Inbox>>();
  #inbox = 0;
  /** Every message published, in order. */
  readonly log: BusMessage[] = [];
  /** When set, a message for which it returns false is lost. */
  filter?: (m: BusMessage) => boolean;

  /** A control port for client `name` (named in the bus log). */
  connect(name: string): MemoryControl {
    return new MemoryControl(this, name);
  }

  /** @internal */
  subscribe(subject: string): Inbox {
    const inbox = new Inbox();
    let set = this.#subs.get(subject);
    if (!set) this.#subs.set(subject, set = new Set());
    set.add(inbox);
    return inbox;
  }

  /** @internal */
  unsubscribe(subject: string, inbox: Inbox): void {
    this.#subs.get(subject)?.delete(inbox);
    inbox.close();
  }

  /** @internal Delivers on a later task; returns how many subscribers there were. */
  deliver(from: string, subject: string, data: Uint8Array, reply?: string): number {
    const m = { from, subject, data: data.slice() };
    this.log.push(m);
    if (this.log.length > 10_000) this.log.splice(0, 5_000);
    if (this.filter && !this.filter(m)) return 1;
    const subs = [...(this.#subs.get(subject) ?? [])];
    if (subs.length > 0) {
      setTimeout(() => {
        for (const s of subs) s.push({ subject, data: m.data, reply });
      }, 0);
    }
    return subs.length;
  }

  /** @internal */
  newInbox(): string {
    return `_INBOX.${++this.#inbox}`;
  }
}

/** One client's control port on a MemoryBus. */
export class MemoryControl implements ControlPort {
  readonly #bus: MemoryBus;
  readonly #name: string;
  #subs: { subject: string; inbox: Inbox }[] = [];
  #closed = false;

  constructor(bus: MemoryBus, name: string) {
    this.#bus = bus;
    this.#name = name;
  }

  publish(subject: string, data: Uint8Array): void {
    if (this.#closed) throw new Error("control channel closed");
    this.#bus.deliver(this.#name, subject, data);
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error("control channel closed"));
    const replyTo = this.#bus.newInbox();
    const inbox = this.#bus.subscribe(replyTo);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#bus.unsubscribe(replyTo, inbox);
        reject(new Error("request timed out"));
      }, timeoutMs);
      (async () => {
        for await (const m of inbox) {
          clearTimeout(timer);
          this.#bus.unsubscribe(replyTo, inbox);
          return resolve(m.data);
        }
      })();
      if (this.#bus.deliver(this.#name, subject, data, replyTo) === 0) {
        clearTimeout(timer);
        this.#bus.unsubscribe(replyTo, inbox);
        reject(new Error("no responders"));
      }
    });
  }

  async *requestMany(
    subject: string,
    data: Uint8Array,
    timeoutMs: number,
  ): AsyncIterable<Uint8Array> {
    if (this.#closed) throw new Error("control channel closed");
    const replyTo = this.#bus.newInbox();
    const inbox = this.#bus.subscribe(replyTo);
    const timer = setTimeout(() => this.#bus.unsubscribe(replyTo, inbox), timeoutMs);
    try {
      if (this.#bus.deliver(this.#name, subject, data, replyTo) === 0) return;
      for await (const m of inbox) yield m.data;
    } finally {
      clearTimeout(timer);
      this.#bus.unsubscribe(replyTo, inbox);
    }
  }

  subscribe(subject: string): AsyncIterable<ControlMessage> {
    const inbox = this.#bus.subscribe(subject);
    this.#subs.push({ subject, inbox });
    if (this.#closed) inbox.close();
    return inbox;
  }

  /** Ends every subscription; later publishes throw (a revoked or lost connection). */
  close(): void {
    this.#closed = true;
    for (const s of this.#subs) this.#bus.unsubscribe(s.subject, s.inbox);
    this.#subs = [];
  }
}
