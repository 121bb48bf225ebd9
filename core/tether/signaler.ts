/**
 * Signalling between the two ends of a tether: offer, answer and ICE candidates.
 *
 * The data plane carries signals over NATS in signed envelopes; tests use an in-memory pair.
 *
 * @module
 */

import { TetherError } from "./errors.ts";

/** An SDP offer that starts negotiation attempt `session`, with the offerer's channel count. */
export interface OfferSignal {
  kind: "offer";
  session: string;
  sdp: string;
  /** Data channels the offerer created (1..64); the tether uses the smaller of both counts. */
  channels?: number;
  /**
   * Set locally by the receiver, never sent: the offerer shares no team with us. The answer then
   * advertises no host candidates, and such tethers have a smaller share of the pool.
   */
  stranger?: boolean;
}
/** The SDP answer for attempt `session`, with the channel count both ends use. */
export interface AnswerSignal {
  kind: "answer";
  session: string;
  sdp: string;
  /** Data channels in use: min(offered, answerer's own). */
  channels?: number;
}
/** One trickled ICE candidate (`candidate:…` attribute value) for attempt `session`. */
export interface CandidateSignal {
  kind: "candidate";
  session: string;
  candidate: string;
  mid: string;
}
/** Any signal. */
export type Signal = OfferSignal | AnswerSignal | CandidateSignal;

/** How one end of a tether talks to the other during negotiation. */
export interface Signaler {
  /** Sends a signal to the other end. */
  send(signal: Signal): void | Promise<void>;
  /** Signals from the other end, in order; ends when the signaler closes. */
  readonly incoming: AsyncIterable<Signal>;
}

const MAX_SDP = 16 * 1024;
const MAX_FIELD = 512;

/**
 * Checks untrusted decoded JSON and returns it as a Signal, or throws TetherError "bad-signal".
 * Only the known fields are copied.
 */
export function parseSignal(value: unknown): Signal {
  if (typeof value !== "object" || value === null) throw bad("not an object");
  const v = value as Record<string, unknown>;
  const session = str(v.session, "session", 128);
  switch (v.kind) {
    case "offer":
    case "answer": {
      const out: OfferSignal | AnswerSignal = {
        kind: v.kind,
        session,
        sdp: str(v.sdp, "sdp", MAX_SDP),
      };
      if (v.channels !== undefined) {
        if (
          typeof v.channels !== "number" || !Number.isInteger(v.channels) || v.channels < 1 ||
          v.channels > 64
        ) {
          throw bad("field channels must be an integer 1..64");
        }
        out.channels = v.channels;
      }
      return out;
    }
    case "candidate":
      return {
        kind: "candidate",
        session,
        candidate: str(v.candidate, "candidate", MAX_FIELD),
        mid: str(v.mid, "mid", 64),
      };
    default:
      throw bad("unknown kind");
  }
}

/** Encodes a signal as UTF-8 JSON bytes, the body the data plane signs and sends. */
export function encodeSignal(signal: Signal): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(signal));
}

/** Decodes UTF-8 JSON bytes into a checked Signal; throws TetherError "bad-signal". */
export function decodeSignal(bytes: Uint8Array): Signal {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new TetherError("bad-signal", "signal is not UTF-8 JSON", { cause: e });
  }
  return parseSignal(value);
}

function str(x: unknown, name: string, max: number): string {
  if (typeof x !== "string" || x.length === 0 || x.length > max) {
    throw bad(`field ${name} must be a string of 1..${max} characters`);
  }
  return x;
}

function bad(why: string): TetherError {
  return new TetherError("bad-signal", `bad signal: ${why}`);
}

/**
 * An unbounded-by-design but caller-bounded async queue of signals: `push` feeds it, iteration
 * drains it, `close` ends iteration. Negotiation sends only a handful of signals per attempt.
 */
export class SignalQueue implements AsyncIterable<Signal> {
  #items: Signal[] = [];
  #waiters: ((r: IteratorResult<Signal>) => void)[] = [];
  #closed = false;
  readonly #limit: number;

  /** `limit` bounds how many undelivered signals are kept; more are dropped. */
  constructor(limit = 256) {
    this.#limit = limit;
  }

  /** Adds a signal; returns false if it was dropped (queue closed or full). */
  push(signal: Signal): boolean {
    if (this.#closed) return false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter({ value: signal, done: false });
      return true;
    }
    if (this.#items.length >= this.#limit) return false;
    this.#items.push(signal);
    return true;
  }

  /** Ends iteration for every reader. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  /** Iterates signals until closed. */
  [Symbol.asyncIterator](): AsyncIterator<Signal> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item) return Promise.resolve({ value: item, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}

/** A pair of in-memory signalers wired to each other, plus `close()` to end both streams. */
export function memorySignalerPair(): [Signaler, Signaler] & { close(): void } {
  const toA = new SignalQueue();
  const toB = new SignalQueue();
  const a: Signaler = { send: (s) => void toB.push(structuredClone(s)), incoming: toA };
  const b: Signaler = { send: (s) => void toA.push(structuredClone(s)), incoming: toB };
  return Object.assign([a, b] as [Signaler, Signaler], {
    close() {
      toA.close();
      toB.close();
    },
  });
}
