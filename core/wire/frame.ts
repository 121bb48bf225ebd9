/**
 * Data frames: the fixed binary layout that carries packets over tethers, and the batch container
 * that packs several frames into one data-channel message.
 *
 * Frame (all integers big-endian, 20-byte header):
 *
 *   0      u8   version (high 4 bits, = 1) | type (low 4 bits)
 *   1      u8   hop limit: decremented by every relay, dropped at 0; NOT authenticated
 *   2      u8   flags (bit 0: key phase; others reserved, must be 0)
 *   3      u8   reserved, must be 0
 *   4..8   u32  destination: the destination conflux's overlay IPv4 address as an integer
 *   8..12  u32  stream id, chosen by the receiving end of the stream
 *   12..20 u64  packet counter (the AES-GCM nonce's low 8 bytes)
 *   20..   payload: for DATA, AES-256-GCM ciphertext || 16-byte tag
 *
 * The associated data of the AEAD is the header with the hop-limit byte set to 0 ({@link
 * frameAad}), so relays may decrement it while everything else stays authenticated.
 *
 * Batch: 0: u8 version | 0xF; 1: u8 frame count (1…255); then per frame u16 length and the frame.
 *
 * Decoders return subarray views into the input (no copies) and throw only WireError.
 *
 * @module
 */

import { WireError } from "./errors.ts";

/** Wire version of frames and batches. */
export const FRAME_VERSION = 1;
/** Header length of every frame. */
export const FRAME_HEADER_LENGTH = 20;
/** Largest frame, bounded by the batch's 16-bit lengths. */
export const MAX_FRAME_BYTES = 0xffff;
/** Largest batch message (libdatachannel's default data-channel message limit is 256 KiB). */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Most frames in one batch. */
export const MAX_BATCH_FRAMES = 255;
/** Flag bit "key phase": free for the stream layer to mark which key epoch sealed a payload. */
export const FLAG_KEY_PHASE = 0x01;
/** Hop limit a sender starts with. */
export const DEFAULT_HOP_LIMIT = 8;
const KNOWN_FLAGS = FLAG_KEY_PHASE;
/** Type nibble of a batch message (a container of several frames). */
export const BATCH_TYPE = 0x0f;
const GCM_TAG_LENGTH = 16;

/** Kinds of frames. */
export enum FrameType {
  /** A sealed IP packet of a stream. */
  Data = 1,
  /** Liveness/RTT probe to the next hop (payload chosen by the sender, echoed back). */
  Probe = 2,
  /** Answer to a Probe carrying its payload. */
  ProbeReply = 3,
  /** Routing feedback to the previous hop (delivery-time estimates; payload defined by routing). */
  Feedback = 4,
  /** Datagram-lane setup between the two ends of a tether (payload: core/wire/lane.ts). */
  Lane = 5,
}

/** A decoded or to-be-encoded frame. */
export interface Frame {
  /** Kind of frame. */
  type: FrameType;
  /** Remaining hops, 0 … 255. */
  hopLimit: number;
  /** Flag bits ({@link FLAG_KEY_PHASE}). */
  flags: number;
  /** Destination conflux's overlay IPv4 address as a 32-bit unsigned integer. */
  destination: number;
  /** Stream id (32-bit unsigned). */
  streamId: number;
  /** Packet counter, 0 … 2^64 − 1. */
  counter: bigint;
  /** Payload; for Data frames the ciphertext || tag. Decoding returns a view into the input. */
  payload: Uint8Array;
}

function isFrameType(type: number): type is FrameType {
  return type >= FrameType.Data && type <= FrameType.Lane;
}

function checkHeader(frame: Omit<Frame, "payload">): void {
  const u32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
  if (!isFrameType(frame.type)) throw new WireError("unknown-type", `frame type ${frame.type}`);
  if (!Number.isInteger(frame.hopLimit) || frame.hopLimit < 0 || frame.hopLimit > 255) {
    throw new WireError("malformed", "frame: hop limit out of range");
  }
  if (!Number.isInteger(frame.flags) || (frame.flags & ~KNOWN_FLAGS) !== 0) {
    throw new WireError("malformed", "frame: unknown flags");
  }
  if (!u32(frame.destination) || !u32(frame.streamId)) {
    throw new WireError("malformed", "frame: destination and stream id are 32-bit unsigned");
  }
  if (
    typeof frame.counter !== "bigint" || frame.counter < 0n ||
    frame.counter > 0xffff_ffff_ffff_ffffn
  ) {
    throw new WireError("malformed", "frame: counter out of range");
  }
}

/**
 * Writes the 20-byte header of `frame` (payload ignored) into `out` at `offset`; use it to build a
 * frame in place: header, then PacketCipher.sealInto at offset + FRAME_HEADER_LENGTH.
 */
export function writeFrameHeader(
  frame: Omit<Frame, "payload">,
  target: { out: Uint8Array; offset: number },
): void {
  checkHeader(frame);
  const { out, offset } = target;
  if (offset < 0 || offset + FRAME_HEADER_LENGTH > out.length) {
    throw new WireError("oversized", "frame: header does not fit the buffer");
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, FRAME_HEADER_LENGTH);
  view.setUint8(0, (FRAME_VERSION << 4) | frame.type);
  view.setUint8(1, frame.hopLimit);
  view.setUint8(2, frame.flags);
  view.setUint8(3, 0);
  view.setUint32(4, frame.destination);
  view.setUint32(8, frame.streamId);
  view.setBigUint64(12, frame.counter);
}

/** Encodes one frame; throws WireError on out-of-range fields or an oversized payload. */
export function encodeFrame(frame: Frame): Uint8Array {
  const length = FRAME_HEADER_LENGTH + frame.payload.length;
  if (length > MAX_FRAME_BYTES) throw new WireError("oversized", `frame: ${length} bytes`);
  const out = new Uint8Array(length);
  writeFrameHeader(frame, { out, offset: 0 });
  out.set(frame.payload, FRAME_HEADER_LENGTH);
  return out;
}

/**
 * Decodes one frame (no batch). The payload is a view into `bytes`. Throws WireError: "truncated",
 * "oversized", "version", "unknown-type", "malformed".
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) throw new WireError("malformed", "frame: expected bytes");
  if (bytes.length < FRAME_HEADER_LENGTH) {
    throw new WireError("truncated", `frame: ${bytes.length} bytes is shorter than the header`);
  }
  if (bytes.length > MAX_FRAME_BYTES) throw new WireError("oversized", `frame: ${bytes.length}`);
  const first = bytes[0];
  if (first >> 4 !== FRAME_VERSION) throw new WireError("version", `frame: version ${first >> 4}`);
  const type = first & 0x0f;
  if (!isFrameType(type)) throw new WireError("unknown-type", `frame: type ${type}`);
  const flags = bytes[2];
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new WireError("malformed", "frame: unknown flags");
  if (bytes[3] !== 0) throw new WireError("malformed", "frame: reserved byte not zero");
  if (type === FrameType.Data && bytes.length < FRAME_HEADER_LENGTH + GCM_TAG_LENGTH) {
    throw new WireError("truncated", "frame: data payload shorter than the AEAD tag");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_LENGTH);
  return {
    type,
    hopLimit: bytes[1],
    flags,
    destination: view.getUint32(4),
    streamId: view.getUint32(8),
    counter: view.getBigUint64(12),
    payload: bytes.subarray(FRAME_HEADER_LENGTH),
  };
}

/**
 * The AEAD associated data of an encoded frame: its header with the hop limit zeroed. Copies the
 * 20 bytes into `scratch` when given (reuse one per pipeline to avoid allocation).
 */
export function frameAad(frame: Uint8Array, scratch?: Uint8Array): Uint8Array {
  if (frame.length < FRAME_HEADER_LENGTH) throw new WireError("truncated", "frame: no header");
  const aad = scratch && scratch.length >= FRAME_HEADER_LENGTH
    ? scratch.subarray(0, FRAME_HEADER_LENGTH)
    : new Uint8Array(FRAME_HEADER_LENGTH);
  aad.set(frame.subarray(0, FRAME_HEADER_LENGTH));
  aad[1] = 0;
  return aad;
}

/** True when `message` is a batch container rather than a single frame (checks one byte). */
export function isBatch(message: Uint8Array): boolean {
  return message.length > 0 && message[0] === ((FRAME_VERSION << 4) | BATCH_TYPE);
}

/** Packs encoded frames (1 … 255, each ≤ 65,535 bytes) into one batch message. */
export function encodeBatch(frames: Uint8Array[]): Uint8Array {
  if (frames.length < 1 || frames.length > MAX_BATCH_FRAMES) {
    throw new WireError("malformed", `batch: ${frames.length} frames, expected 1 … 255`);
  }
  let length = 2;
  for (const frame of frames) {
    if (frame.length < FRAME_HEADER_LENGTH) throw new WireError("truncated", "batch: short frame");
    if (frame.length > MAX_FRAME_BYTES) throw new WireError("oversized", "batch: frame too large");
    length += 2 + frame.length;
  }
  if (length > MAX_BATCH_BYTES) throw new WireError("oversized", `batch: ${length} bytes`);
  const out = new Uint8Array(length);
  out[0] = (FRAME_VERSION << 4) | BATCH_TYPE;
  out[1] = frames.length;
  let offset = 2;
  for (const frame of frames) {
    out[offset] = frame.length >> 8;
    out[offset + 1] = frame.length & 0xff;
    out.set(frame, offset + 2);
    offset += 2 + frame.length;
  }
  return out;
}

/**
 * Splits a batch message into views of its frames (not yet decoded: call decodeFrame on each).
 * Throws WireError: "truncated", "oversized", "version", "unknown-type", "malformed", "trailing".
 */
export function decodeBatch(message: Uint8Array): Uint8Array[] {
  if (!(message instanceof Uint8Array)) throw new WireError("malformed", "batch: expected bytes");
  if (message.length < 2) throw new WireError("truncated", "batch: no header");
  if (message.length > MAX_BATCH_BYTES) throw new WireError("oversized", "batch: too large");
  if (message[0] >> 4 !== FRAME_VERSION) {
    throw new WireError("version", `batch: version ${message[0] >> 4}`);
  }
  if ((message[0] & 0x0f) !== BATCH_TYPE) throw new WireError("unknown-type", "not a batch");
  const count = message[1];
  if (count === 0) throw new WireError("malformed", "batch: zero frames");
  const frames = new Array<Uint8Array>(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 2 > message.length) throw new WireError("truncated", "batch: missing length");
    const length = (message[offset] << 8) | message[offset + 1];
    if (length < FRAME_HEADER_LENGTH) throw new WireError("malformed", "batch: frame too short");
    offset += 2;
    if (offset + length > message.length) throw new WireError("truncated", "batch: frame cut off");
    frames[i] = message.subarray(offset, offset + length);
    offset += length;
  }
  if (offset !== message.length) {
    throw new WireError("trailing", `batch: ${message.length - offset} bytes after last frame`);
  }
  return frames;
}

/** The frames of a data-channel message, whether it is one frame or a batch (views, undecoded). */
export function splitMessage(message: Uint8Array): Uint8Array[] {
  return isBatch(message) ? decodeBatch(message) : [message];
}
