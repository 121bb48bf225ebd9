/**
 * Guarded protobuf decoding: the one place generated code meets untrusted bytes.
 *
 * @bufbuild/protobuf throws plain Errors from deep inside its reader; this wrapper turns every
 * failure into a WireError and enforces a size limit before any parsing happens.
 *
 * @module
 */

import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { WireError } from "./errors.ts";

/** Options of {@link decodeMessage}. */
export interface DecodeMessageOptions {
  /** Largest accepted input in bytes. */
  maxBytes: number;
  /** Name used in error messages, e.g. "SignedEnvelope". */
  what: string;
}

/** Parses `bytes` as `schema`, throwing only WireError ("oversized", "truncated", "malformed"). */
export function decodeMessage<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
  options: DecodeMessageOptions,
): MessageShape<Desc> {
  if (!(bytes instanceof Uint8Array)) {
    throw new WireError("malformed", `${options.what}: expected bytes`);
  }
  if (bytes.length > options.maxBytes) {
    throw new WireError(
      "oversized",
      `${options.what}: ${bytes.length} bytes exceeds limit of ${options.maxBytes}`,
    );
  }
  try {
    // Unknown fields are skipped, not kept: newer senders may add fields, and nothing we keep
    // should grow with attacker-chosen junk.
    return fromBinary(schema, bytes, { readUnknownFields: false });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = /premature EOF|index out of range/i.test(message) ? "truncated" : "malformed";
    throw new WireError(code, `${options.what}: ${message}`);
  }
}

/** Converts a protobuf int64 to a safe integer number, or throws WireError("malformed"). */
export function safeNumber(what: string, value: bigint): number {
  if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WireError("malformed", `${what}: ${value} out of range`);
  }
  return Number(value);
}
