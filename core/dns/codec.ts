/**
 * A small DNS message codec (RFC 1035) for the node's resolver: header, questions and the
 * record types it answers (A, AAAA, PTR, SOA, NS; anything else kept as raw data). Decoding
 * follows name compression with a loop bound and rejects bad input with a {@link DnsError};
 * encoding compresses repeated names (RFC 1035 4.1.4). Like core/wire, decoders never throw
 * anything else on any input.
 *
 * @module
 */

/** Why a DNS message was rejected. */
export type DnsErrorCode =
  | "truncated"
  | "oversized"
  | "malformed"
  | "trailing";

/** The only error the decoders let out on bad input. */
export class DnsError extends Error {
  /** Machine-readable reason. */
  readonly code: DnsErrorCode;

  /** Creates an error with `code` and a human-readable `message`. */
  constructor(code: DnsErrorCode, message: string) {
    super(message);
    this.name = "DnsError";
    this.code = code;
  }
}

/** Record types the resolver knows. */
export const RRType = {
  A: 1,
  NS: 2,
  SOA: 6,
  PTR: 12,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;

/** Class IN. */
export const CLASS_IN = 1;

/** Response codes. */
export const RCode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** Largest message over TCP (a uint16 length); UDP answers are cut to 512 bytes (no EDNS). */
export const MAX_MESSAGE = 65_535;
/** Largest UDP answer without EDNS. */
export const MAX_UDP = 512;

/** One question. Names are kept as given (case preserved), without the final dot. */
export interface Question {
  name: string;
  type: number;
  class: number;
}

/** SOA record data. */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** One resource record; `data` depends on the type. */
export type ResourceRecord =
  & { name: string; class: number; ttl: number }
  & (
    | { type: typeof RRType.A; data: string }
    | { type: typeof RRType.AAAA; data: Uint8Array }
    | { type: typeof RRType.PTR | typeof RRType.NS; data: string }
    | { type: typeof RRType.SOA; data: SoaData }
    | { type: number; data: Uint8Array; raw: true }
  );

/** A DNS message. */
export interface DnsMessage {
  id: number;
  /** QR bit: true in responses. */
  response: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

const MAX_POINTERS = 64;
const MAX_NAME = 255;
/** More records than this in one section is refused (a 64 KiB message holds far fewer). */
const MAX_RECORDS = 4096;

/** Decodes one DNS message; throws DnsError on anything that is not one. */
export function decodeMessage(bytes: Uint8Array): DnsMessage {
  if (!(bytes instanceof Uint8Array)) throw new DnsError("malformed", "expected bytes");
  if (bytes.length > MAX_MESSAGE) throw new DnsError("oversized", "message over 65,535 bytes");
  if (bytes.length < 12) throw new DnsError("truncated", "message shorter than its header");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = v.getUint16(2);
  const counts = [v.getUint16(4), v.getUint16(6), v.getUint16(8), v.getUint16(10)];
  if (counts.some((c) => c > MAX_RECORDS)) throw new DnsError("malformed", "too many records");
  const r = new Reader(bytes, v, 12);
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  }
  const sections: ResourceRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) sections[s].push(r.record());
  }
  if (r.offset !== bytes.length) throw new DnsError("trailing", "bytes after the last record");
  return {
    id: v.getUint16(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    recursionAvailable: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
  };
}

/**
 * Reads only the header's id and flags and the first question when they parse: enough to answer
 * FORMERR or NOTIMP to a message that does not decode as a whole. Null when even that fails.
 */
export function peekHeader(
  bytes: Uint8Array,
): { id: number; opcode: number; response: boolean; recursionDesired: boolean } | null {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12) return null;
  const flags = (bytes[2] << 8) | bytes[3];
  return {
    id: (bytes[0] << 8) | bytes[1],
    opcode: (flags >> 11) & 0xf,
    response: (flags & 0x8000) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
  };
}

class Reader {
  offset: number;
  constructor(readonly bytes: Uint8Array, readonly view: DataView, offset: number) {
    this.offset = offset;
  }

  need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new DnsError("truncated", "message ends early");
  }

  u16(): number {
    this.need(2);
    const x = this.view.getUint16(this.offset);
    this.offset += 2;
    return x;
  }

  u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.offset);
    this.offset += 4;
    return x;
  }

  /** A possibly compressed name at the current offset; advances past its first encoding. */
  name(): string {
    const { name, end } = readName(this.bytes, this.offset);
    this.offset = end;
    return name;
  }

  record(): ResourceRecord {
    const name = this.name();
    const type = this.u16();
    const klass = this.u16();
    const ttl = this.u32();
    const length = this.u16();
    this.need(length);
    const start = this.offset;
    const end = start + length;
    const data = this.bytes.subarray(start, end);
    const base = { name, class: klass, ttl };
    let rr: ResourceRecord;
    switch (type) {
      case RRType.A:
        if (length !== 4) throw new DnsError("malformed", "A record of length " + length);
        rr = { ...base, type, data: Array.from(data).join(".") };
        break;
      case RRType.AAAA:
        if (length !== 16) throw new DnsError("malformed", "AAAA record of length " + length);
        rr = { ...base, type, data: data.slice() };
        break;
      case RRType.PTR:
      case RRType.NS: {
        const n = readName(this.bytes, start);
        if (n.end !== end) throw new DnsError("malformed", "name does not fill its record");
        rr = { ...base, type, data: n.name };
        break;
      }
      case RRType.SOA: {
        const m = readName(this.bytes, start);
        const rn = readName(this.bytes, m.end);
        if (rn.end + 20 !== end) throw new DnsError("malformed", "SOA record of a bad length");
        const v = this.view;
        const at = rn.end;
        rr = {
          ...base,
          type,
          data: {
            mname: m.name,
            rname: rn.name,
            serial: v.getUint32(at),
            refresh: v.getUint32(at + 4),
            retry: v.getUint32(at + 8),
            expire: v.getUint32(at + 12),
            minimum: v.getUint32(at + 16),
          },
        };
        break;
      }
      default:
        rr = { ...base, type, data: data.slice(), raw: true };
    }
    this.offset = end;
    return rr;
  }
}

/**
 * Reads a name at `offset`: labels, possibly ending in a compression pointer (which must point
 * backwards). Returns the dotted name (no final dot; "" for the root) and where the name's own
 * encoding ends.
 */
function readName(bytes: Uint8Array, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  let end = -1;
  let pointers = 0;
  let length = 0;
  for (;;) {
    if (at >= bytes.length) throw new DnsError("truncated", "name runs past the message");
    const len = bytes[at];
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= bytes.length) throw new DnsError("truncated", "pointer runs past the message");
      const target = ((len & 0x3f) << 8) | bytes[at + 1];
      if (end < 0) end = at + 2;
      if (target >= at || ++pointers > MAX_POINTERS) {
        throw new DnsError("malformed", "compression pointer loops or points forward");
      }
      at = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsError("malformed", "unknown label type");
    if (at + 1 + len > bytes.length) throw new DnsError("truncated", "label runs past the message");
    length += len + 1;
    if (length > MAX_NAME) throw new DnsError("malformed", "name longer than 255 bytes");
    let label = "";
    for (let i = at + 1; i <= at + len; i++) label += String.fromCharCode(bytes[i]);
    if (label.includes(".")) throw new DnsError("malformed", "label contains a dot");
    labels.push(label);
    at += 1 + len;
  }
  return { name: labels.join("."), end };
}

/** Encodes a message; throws DnsError("malformed") for a field that cannot be written. */
export function encodeMessage(m: DnsMessage): Uint8Array {
  const w = new Writer();
  w.u16(m.id & 0xffff);
  let flags = (m.opcode & 0xf) << 11 | (m.rcode & 0xf);
  if (m.response) flags |= 0x8000;
  if (m.authoritative) flags |= 0x0400;
  if (m.truncated) flags |= 0x0200;
  if (m.recursionDesired) flags |= 0x0100;
  if (m.recursionAvailable) flags |= 0x0080;
  w.u16(flags);
  for (const n of [m.questions, m.answers, m.authorities, m.additionals]) {
    if (n.length > MAX_RECORDS) throw new DnsError("malformed", "too many records");
    w.u16(n.length);
  }
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) w.record(rr);
  const out = w.bytes();
  if (out.length > MAX_MESSAGE) throw new DnsError("oversized", "message over 65,535 bytes");
  return out;
}

class Writer {
  #parts: number[] = [];
  /** Offsets of names written so far, by their dotted suffix (RFC 1035 4.1.4 compression). */
  #names = new Map<string, number>();

  u8(x: number): void {
    this.#parts.push(x & 0xff);
  }

  u16(x: number): void {
    this.#parts.push((x >> 8) & 0xff, x & 0xff);
  }

  u32(x: number): void {
    this.#parts.push((x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
  }

  get length(): number {
    return this.#parts.length;
  }

  name(name: string): void {
    const labels = name === "" || name === "." ? [] : name.replace(/\.$/, "").split(".");
    let total = 1;
    for (const label of labels) {
      if (label.length === 0 || label.length > 63) {
        throw new DnsError("malformed", `label "${label}" must be 1 to 63 bytes`);
      }
      total += label.length + 1;
      if (total > MAX_NAME) throw new DnsError("malformed", "name longer than 255 bytes");
      for (let i = 0; i < label.length; i++) {
        if (label.charCodeAt(i) > 0xff) throw new DnsError("malformed", "name is not 8-bit");
      }
    }
    for (let i = 0; i < labels.length; i++) {
      const rest = labels.slice(i).join(".");
      const at = this.#names.get(rest);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.#parts.length < 0x3fff) this.#names.set(rest, this.#parts.length);
      const label = labels[i];
      this.u8(label.length);
      for (let j = 0; j < label.length; j++) this.u8(label.charCodeAt(j));
    }
    this.u8(0);
  }

  record(rr: ResourceRecord): void {
    this.name(rr.name);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(rr.ttl);
    const lengthAt = this.#parts.length;
    this.u16(0);
    const start = this.#parts.length;
    if ("raw" in rr) {
      for (const b of rr.data) this.u8(b);
    } else if (rr.type === RRType.A) {
      const octets = rr.data.split(".").map(Number);
      if (
        octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)
      ) throw new DnsError("malformed", `bad IPv4 address "${rr.data}"`);
      for (const o of octets) this.u8(o);
    } else if (rr.type === RRType.AAAA) {
      if (rr.data.length !== 16) throw new DnsError("malformed", "AAAA data must be 16 bytes");
      for (const b of rr.data) this.u8(b);
    } else if (rr.type === RRType.PTR || rr.type === RRType.NS) {
      this.name(rr.data);
    } else if (rr.type === RRType.SOA) {
      const s = rr.data;
      this.name(s.mname);
      this.name(s.rname);
      for (const x of [s.serial, s.refresh, s.retry, s.expire, s.minimum]) this.u32(x);
    }
    const length = this.#parts.length - start;
    this.#parts[lengthAt] = length >> 8;
    this.#parts[lengthAt + 1] = length & 0xff;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** A query for `name` of `type` (tests and tools). */
export function queryMessage(id: number, name: string, type: number): DnsMessage {
  return {
    id,
    response: false,
    opcode: 0,
    authoritative: false,
    truncated: false,
    recursionDesired: true,
    recursionAvailable: false,
    rcode: 0,
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
}
