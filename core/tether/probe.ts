/**
 * Liveness probes: the wire format of the tether's control messages and the pure bookkeeping
 * that turns probe replies into RTT and loss. Time is passed in; no timers here.
 *
 * Control messages travel on their own negotiated channel, so data messages need no marker.
 * Layout: type (1 byte) | sequence (u32 BE) | sender timestamp (f64 BE, ms) — 13 bytes.
 *
 * @module
 */

/** Control message types. */
export const PROBE_PING = 1;
/** Reply to a ping, echoing its sequence and timestamp. */
export const PROBE_PONG = 2;
/** The sender is closing the tether. */
export const PROBE_BYE = 3;
/** Size of every control message. */
export const PROBE_SIZE = 13;

/** A decoded control message. */
export interface ProbeMessage {
  type: typeof PROBE_PING | typeof PROBE_PONG | typeof PROBE_BYE;
  seq: number;
  time: number;
}

/** Encodes a control message. */
export function encodeProbe(msg: ProbeMessage): Uint8Array {
  const out = new Uint8Array(PROBE_SIZE);
  const view = new DataView(out.buffer);
  view.setUint8(0, msg.type);
  view.setUint32(1, msg.seq >>> 0);
  view.setFloat64(5, msg.time);
  return out;
}

/** Decodes a control message; null for anything malformed (never throws). */
export function decodeProbe(bytes: Uint8Array): ProbeMessage | null {
  if (bytes.byteLength !== PROBE_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(0);
  if (type !== PROBE_PING && type !== PROBE_PONG && type !== PROBE_BYE) return null;
  const time = view.getFloat64(5);
  if (!Number.isFinite(time)) return null;
  return { type, seq: view.getUint32(1), time };
}

/** Options of a ProbeTracker. */
export interface ProbeTrackerOptions {
  /** A probe without reply after this long counts as lost. */
  timeoutMs: number;
  /** How many recent probes loss and the median are computed over. */
  window?: number;
}

/**
 * Tracks outstanding probes and recent outcomes. `ping(now)` returns the next probe to send;
 * `pong(msg, now)` records a reply; `expire(now)` counts overdue probes as lost.
 */
export class ProbeTracker {
  #seq = 0;
  #outstanding = new Map<number, number>();
  #outcomes: boolean[] = [];
  #rtts: number[] = [];
  #srtt = NaN;
  #sent = 0;
  #answered = 0;
  readonly #timeoutMs: number;
  readonly #window: number;

  /** Creates a tracker. */
  constructor(options: ProbeTrackerOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#window = options.window ?? 32;
  }

  /** Expires overdue probes, then returns the next ping to send at `now`. */
  ping(now: number): ProbeMessage {
    this.expire(now);
    const seq = this.#seq = (this.#seq + 1) >>> 0;
    this.#outstanding.set(seq, now);
    this.#sent++;
    return { type: PROBE_PING, seq, time: now };
  }

  /** Records a pong; returns its RTT in ms, or null if it matches no outstanding probe. */
  pong(msg: ProbeMessage, now: number): number | null {
    const sentAt = this.#outstanding.get(msg.seq);
    if (sentAt === undefined || msg.type !== PROBE_PONG) return null;
    this.#outstanding.delete(msg.seq);
    const rtt = Math.max(0, now - sentAt);
    this.#answered++;
    this.#record(true);
    this.#rtts.push(rtt);
    if (this.#rtts.length > this.#window) this.#rtts.shift();
    this.#srtt = Number.isNaN(this.#srtt) ? rtt : 0.875 * this.#srtt + 0.125 * rtt;
    return rtt;
  }

  /** Counts probes older than the timeout as lost. */
  expire(now: number): void {
    for (const [seq, sentAt] of this.#outstanding) {
      if (now - sentAt < this.#timeoutMs) continue;
      this.#outstanding.delete(seq);
      this.#record(false);
    }
  }

  /** Smoothed RTT (RFC 6298 weights), NaN before the first reply. */
  get srtt(): number {
    return this.#srtt;
  }

  /** Median of recent RTT samples, NaN before the first reply. */
  get rttP50(): number {
    if (this.#rtts.length === 0) return NaN;
    const sorted = [...this.#rtts].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /** Fraction of recent decided probes that were lost. */
  get loss(): number {
    if (this.#outcomes.length === 0) return 0;
    return this.#outcomes.filter((ok) => !ok).length / this.#outcomes.length;
  }

  /** Probes sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Probes answered so far. */
  get answered(): number {
    return this.#answered;
  }

  #record(ok: boolean): void {
    this.#outcomes.push(ok);
    if (this.#outcomes.length > this.#window) this.#outcomes.shift();
  }
}
