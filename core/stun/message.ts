/**
 * STUN message codec (RFC 8489, formerly RFC 5389): just enough of it for a Binding server and
 * its tests. Pure functions over bytes; no I/O.
 *
 * A STUN message is a 20-byte header (type, body length, the magic cookie 0x2112A442, a 96-bit
 * transaction id) followed by type-length-value attributes padded to 4 bytes. Decoding is strict
 * because the bytes come from anyone on the Internet: whatever does not parse as exactly one
 * well-formed message is a {@link StunError}, never another exception.
 *
 * ```ts
 * const id = crypto.getRandomValues(new Uint8Array(12));
 * const request = decodeStunMessage(encodeBindingRequest(id));
 * const reply = encodeBindingSuccess(request.transactionId, {
 *   address: "192.0.2.1",
 *   port: 32853,
 *   family: 4,
 * }, { fingerprint: true });
 * decodeXorMappedAddress(decodeStunMessage(reply)); // { address: "192.0.2.1", port: 32853, family: 4 }
 * ```
 *
 * @module
 */
import { parseIpv4, parseIpv6 } from "../../ffi/cidr.ts";

/** The fixed value of header bytes 4–7 that tells STUN (RFC 5389+) from RFC 3489 and noise. */
export const MAGIC_COOKIE = 0x2112a442;
/** Length of the message header in bytes. */
export const HEADER_LENGTH = 20;
/** Length of a transaction id in bytes. */
export const TRANSACTION_ID_LENGTH = 12;

/** The Binding method, the only one a plain STUN server implements. */
export const METHOD_BINDING = 0x001;
/** Message type of a Binding request (method 0x001, class request). */
export const BINDING_REQUEST = 0x0001;
/** Message type of a Binding indication (a keep-alive that gets no answer). */
export const BINDING_INDICATION = 0x0011;
/** Message type of a Binding success response. */
export const BINDING_SUCCESS = 0x0101;
/** Message type of a Binding error response. */
export const BINDING_ERROR = 0x0111;

/** MAPPED-ADDRESS: the reflexive address in clear, for RFC 3489-era clients. */
export const ATTR_MAPPED_ADDRESS = 0x0001;
/** XOR-MAPPED-ADDRESS: the reflexive address XOR-ed so NATs that rewrite payloads miss it. */
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/**
 * OTHER-ADDRESS (RFC 5780 §7.4): another address and port the server answers on, so that a client
 * can compare the mappings its NAT makes towards two destinations.
 */
export const ATTR_OTHER_ADDRESS = 0x802c;
/** SOFTWARE: a free-text name of the sender's implementation. */
export const ATTR_SOFTWARE = 0x8022;
/** FINGERPRINT: CRC-32 of the message, XOR 0x5354554e; always the last attribute. */
export const ATTR_FINGERPRINT = 0x8028;

/** The constant XOR-ed into the CRC-32 so a STUN FINGERPRINT never looks like another CRC. */
const FINGERPRINT_XOR = 0x5354554e;
/** Longest SOFTWARE value RFC 8489 §14.14 allows (fewer than 128 characters, ≤ 763 bytes). */
const MAX_SOFTWARE_BYTES = 763;

/** Why a message was refused; stable strings for tests and logs. */
export type StunErrorCode =
  | "short"
  | "not-stun"
  | "bad-length"
  | "unaligned"
  | "bad-cookie"
  | "bad-attribute"
  | "bad-argument";

/** The only error this module throws: malformed input or an unusable argument. */
export class StunError extends Error {
  /** What exactly was wrong. */
  readonly code: StunErrorCode;

  /** Creates the error. */
  constructor(code: StunErrorCode, message: string) {
    super(message);
    this.name = "StunError";
    this.code = code;
  }
}

/** The four classes a message type encodes besides its method. */
export type StunClass = "request" | "indication" | "success" | "error";

const CLASSES: readonly StunClass[] = ["request", "indication", "success", "error"];

/** One attribute as it appears on the wire (value without padding). */
export interface StunAttribute {
  /** Attribute type; 0x0000–0x7FFF are comprehension-required, 0x8000–0xFFFF optional. */
  type: number;
  /** The value bytes (a copy, not a view of the input). */
  value: Uint8Array;
}

/** A decoded STUN message. */
export interface StunMessage {
  /** Raw 14-bit message type, e.g. {@link BINDING_REQUEST}. */
  type: number;
  /** Method part of the type, e.g. {@link METHOD_BINDING}. */
  method: number;
  /** Class part of the type. */
  class: StunClass;
  /** Value of the header's length field: bytes after the header. */
  length: number;
  /** The 12-byte transaction id (a copy). */
  transactionId: Uint8Array;
  /** Attributes in wire order. */
  attributes: StunAttribute[];
}

/** A transport address as STUN carries it in (XOR-)MAPPED-ADDRESS. */
export interface MappedAddress {
  /** IPv4 dotted quad or IPv6 text (RFC 5952 form when decoded). */
  address: string;
  /** UDP port, 0–65535. */
  port: number;
  /** Address family. */
  family: 4 | 6;
}

/** Options of {@link encodeBindingSuccess}. */
export interface BindingSuccessOptions {
  /** SOFTWARE attribute text; omitted when undefined. At most 763 UTF-8 bytes. */
  software?: string;
  /** Append a FINGERPRINT attribute (default false). */
  fingerprint?: boolean;
  /** OTHER-ADDRESS: the server's other address and port (RFC 5780); omitted when undefined. */
  otherAddress?: MappedAddress;
}

/**
 * Encodes a Binding request with no attributes: what a client sends to learn its server-reflexive
 * address. `transactionId` must be 12 bytes, ideally random (it is the only thing that ties the
 * answer to the question).
 */
export function encodeBindingRequest(transactionId: Uint8Array): Uint8Array {
  checkTransactionId(transactionId);
  return encodeMessage(BINDING_REQUEST, transactionId, [], false);
}

/**
 * Decodes one STUN message that must fill `bytes` exactly (a UDP datagram carries one message).
 *
 * Throws {@link StunError} when the input is shorter than a header, the two top bits are not
 * zero, the length field is not a multiple of 4 or disagrees with the input size, the magic
 * cookie is wrong, or an attribute runs past the end. Unknown attributes are kept, not refused:
 * what to do with them is the caller's choice.
 */
export function decodeStunMessage(bytes: Uint8Array): StunMessage {
  if (bytes.length < HEADER_LENGTH) {
    throw new StunError("short", `${bytes.length} bytes is shorter than a STUN header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(0);
  // RFC 8489 §5: the top two bits are always zero; that is what lets STUN share a port with
  // RTP, DTLS and others, so anything else is not STUN at all.
  if ((type & 0xc000) !== 0) throw new StunError("not-stun", "top two bits of the type not zero");
  const length = view.getUint16(2);
  if (length % 4 !== 0) throw new StunError("unaligned", `length ${length} not a multiple of 4`);
  if (HEADER_LENGTH + length !== bytes.length) {
    throw new StunError(
      "bad-length",
      `length field ${length} but ${bytes.length - HEADER_LENGTH} bytes follow the header`,
    );
  }
  if (view.getUint32(4) !== MAGIC_COOKIE) throw new StunError("bad-cookie", "wrong magic cookie");
  const attributes: StunAttribute[] = [];
  let offset = HEADER_LENGTH;
  while (offset < bytes.length) {
    // `length` is 4-aligned, so a whole 4-byte attribute header always fits here.
    const attrType = view.getUint16(offset);
    const attrLength = view.getUint16(offset + 2);
    const end = offset + 4 + attrLength;
    if (end > bytes.length) {
      throw new StunError(
        "bad-attribute",
        `attribute 0x${attrType.toString(16)} of ${attrLength} bytes overruns the message`,
      );
    }
    attributes.push({ type: attrType, value: bytes.slice(offset + 4, end) });
    // Values are padded to 4 bytes; the padding is part of the message but not of the value.
    // Its content is not checked (RFC 5769's vectors pad with spaces). It always fits: `offset`
    // and the message end are both 4-aligned and `end` is not past the end.
    offset = end + pad(attrLength);
  }
  return {
    type,
    method: methodOf(type),
    class: CLASSES[((type >> 7) & 0b10) | ((type >> 4) & 0b01)],
    length,
    transactionId: bytes.slice(8, HEADER_LENGTH),
    attributes,
  };
}

/**
 * Encodes a Binding success response for `transactionId` telling the client `mapped`, the
 * address and port its request came from.
 *
 * It carries XOR-MAPPED-ADDRESS (what RFC 5389+ clients read), MAPPED-ADDRESS (for RFC 3489-era
 * clients that know only that), an optional SOFTWARE and, with `fingerprint: true`, a FINGERPRINT
 * last. Throws {@link StunError} ("bad-argument") for a bad id, address, port or SOFTWARE.
 */
export function encodeBindingSuccess(
  transactionId: Uint8Array,
  mapped: MappedAddress,
  options: BindingSuccessOptions = {},
): Uint8Array {
  checkTransactionId(transactionId);
  const raw = addressBytes(mapped);
  const attributes: StunAttribute[] = [
    { type: ATTR_XOR_MAPPED_ADDRESS, value: addressValue(mapped, raw, transactionId) },
    { type: ATTR_MAPPED_ADDRESS, value: addressValue(mapped, raw, null) },
  ];
  if (options.otherAddress !== undefined) {
    const other = options.otherAddress;
    attributes.push({
      type: ATTR_OTHER_ADDRESS,
      value: addressValue(other, addressBytes(other), null),
    });
  }
  if (options.software !== undefined) {
    const value = new TextEncoder().encode(options.software);
    if (value.length > MAX_SOFTWARE_BYTES) {
      throw new StunError("bad-argument", `SOFTWARE longer than ${MAX_SOFTWARE_BYTES} bytes`);
    }
    attributes.push({ type: ATTR_SOFTWARE, value });
  }
  return encodeMessage(BINDING_SUCCESS, transactionId, attributes, options.fingerprint ?? false);
}

/**
 * The address in the first XOR-MAPPED-ADDRESS of `msg`, or null when there is none or it is
 * unusable (wrong size, unknown family): a client then simply has no reflexive address.
 */
export function decodeXorMappedAddress(msg: StunMessage): MappedAddress | null {
  const attr = msg.attributes.find((a) => a.type === ATTR_XOR_MAPPED_ADDRESS);
  return attr ? parseAddressValue(attr.value, msg.transactionId) : null;
}

/**
 * The address in the first MAPPED-ADDRESS of `msg` (the un-XOR-ed RFC 3489 form), or null when
 * there is none or it is unusable.
 */
export function decodeMappedAddress(msg: StunMessage): MappedAddress | null {
  const attr = msg.attributes.find((a) => a.type === ATTR_MAPPED_ADDRESS);
  return attr ? parseAddressValue(attr.value, null) : null;
}

/**
 * The address in the first OTHER-ADDRESS of `msg` (RFC 5780: where else the server answers), or
 * null when there is none or it is unusable.
 */
export function decodeOtherAddress(msg: StunMessage): MappedAddress | null {
  const attr = msg.attributes.find((a) => a.type === ATTR_OTHER_ADDRESS);
  return attr ? parseAddressValue(attr.value, null) : null;
}

/**
 * Whether `bytes` is a well-formed STUN message whose last attribute is a FINGERPRINT matching
 * its contents. False for anything else, including a message without a FINGERPRINT; never throws.
 */
export function fingerprintOk(bytes: Uint8Array): boolean {
  let msg: StunMessage;
  try {
    msg = decodeStunMessage(bytes);
  } catch (err) {
    if (err instanceof StunError) return false;
    throw err;
  }
  const last = msg.attributes[msg.attributes.length - 1];
  if (!last || last.type !== ATTR_FINGERPRINT || last.value.length !== 4) return false;
  // The FINGERPRINT value is 4 bytes, so it is exactly the last 8 bytes of the message, and the
  // CRC covers everything before its attribute header (with the length field already counting it).
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stated = view.getUint32(bytes.length - 4);
  return stated === ((crc32(bytes.subarray(0, bytes.length - 8)) ^ FINGERPRINT_XOR) >>> 0);
}

/**
 * The STUN FINGERPRINT value for `prefix`: the message up to (not including) the FINGERPRINT
 * attribute, whose header length field already counts the 8 FINGERPRINT bytes.
 */
export function fingerprintOf(prefix: Uint8Array): number {
  return (crc32(prefix) ^ FINGERPRINT_XOR) >>> 0;
}

/** Whether `msg` is a Binding request (the one message a STUN server answers). */
export function isBindingRequest(msg: StunMessage): boolean {
  return msg.type === BINDING_REQUEST;
}

// ---- encoding ----

function encodeMessage(
  type: number,
  transactionId: Uint8Array,
  attributes: readonly StunAttribute[],
  fingerprint: boolean,
): Uint8Array {
  let body = 0;
  for (const a of attributes) body += 4 + a.value.length + pad(a.value.length);
  const total = HEADER_LENGTH + body + (fingerprint ? 8 : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint16(0, type);
  // The length field counts the FINGERPRINT before the CRC is computed (RFC 8489 §14.7), so it
  // is written once with its final value.
  view.setUint16(2, total - HEADER_LENGTH);
  view.setUint32(4, MAGIC_COOKIE);
  out.set(transactionId, 8);
  let offset = HEADER_LENGTH;
  for (const a of attributes) {
    view.setUint16(offset, a.type);
    view.setUint16(offset + 2, a.value.length);
    out.set(a.value, offset + 4);
    offset += 4 + a.value.length + pad(a.value.length); // padding stays zero
  }
  if (fingerprint) {
    view.setUint16(offset, ATTR_FINGERPRINT);
    view.setUint16(offset + 2, 4);
    view.setUint32(offset + 4, fingerprintOf(out.subarray(0, offset)));
  }
  return out;
}

/** The (XOR-)MAPPED-ADDRESS value: 0, family, port, address; XOR-ed when `xorId` is given. */
function addressValue(
  mapped: MappedAddress,
  raw: Uint8Array,
  xorId: Uint8Array | null,
): Uint8Array {
  const out = new Uint8Array(4 + raw.length);
  const view = new DataView(out.buffer);
  out[1] = mapped.family === 4 ? 0x01 : 0x02;
  view.setUint16(2, xorId ? mapped.port ^ (MAGIC_COOKIE >>> 16) : mapped.port);
  out.set(raw, 4);
  if (xorId) xorAddress(out.subarray(4), xorId);
  return out;
}

function parseAddressValue(value: Uint8Array, xorId: Uint8Array | null): MappedAddress | null {
  if (value.length < 4) return null;
  const family = value[1] === 0x01 ? 4 : value[1] === 0x02 ? 6 : null;
  if (family === null || value.length !== (family === 4 ? 8 : 20)) return null;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const xPort = view.getUint16(2);
  const raw = value.slice(4);
  if (xorId) xorAddress(raw, xorId);
  return {
    address: family === 4 ? raw.join(".") : formatIpv6(raw),
    port: xorId ? xPort ^ (MAGIC_COOKIE >>> 16) : xPort,
    family,
  };
}

/** XORs an address in place with the cookie (IPv4) or cookie ‖ transaction id (IPv6). */
function xorAddress(raw: Uint8Array, transactionId: Uint8Array): void {
  const key = new Uint8Array(16);
  new DataView(key.buffer).setUint32(0, MAGIC_COOKIE);
  key.set(transactionId, 4);
  for (let i = 0; i < raw.length; i++) raw[i] ^= key[i];
}

function checkTransactionId(id: Uint8Array): void {
  if (!(id instanceof Uint8Array) || id.length !== TRANSACTION_ID_LENGTH) {
    throw new StunError("bad-argument", "a transaction id is 12 bytes");
  }
}

function addressBytes(mapped: MappedAddress): Uint8Array {
  if (!Number.isInteger(mapped.port) || mapped.port < 0 || mapped.port > 65535) {
    throw new StunError("bad-argument", `bad port ${mapped.port}`);
  }
  const raw = mapped.family === 4
    ? parseIpv4(mapped.address)
    : mapped.family === 6
    ? parseIpv6(withoutZone(mapped.address))
    : null;
  if (!raw) {
    throw new StunError("bad-argument", `bad IPv${mapped.family} address "${mapped.address}"`);
  }
  return raw;
}

// ---- helpers ----

/** Drops an IPv6 `%zone` suffix (a scope on this host, meaningless to the peer). */
function withoutZone(address: string): string {
  const zone = address.indexOf("%");
  return zone >= 0 ? address.slice(0, zone) : address;
}

function pad(length: number): number {
  return (4 - (length % 4)) % 4;
}

function methodOf(type: number): number {
  // The class bits C1 (bit 8) and C0 (bit 4) are interleaved into the method (RFC 8489 §5).
  return (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80);
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatIpv6(raw: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((raw[i] << 8) | raw[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (ISO-HDLC, the zlib/Ethernet one) as FINGERPRINT requires. */
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
