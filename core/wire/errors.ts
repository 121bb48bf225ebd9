/**
 * Typed error of every wire decoder and of envelope/certificate verification.
 *
 * @module
 */

/**
 * Why input was rejected:
 * - "truncated": input ends early; "oversized": input exceeds a size limit;
 * - "version": unknown wire version; "trailing": bytes after a complete structure;
 * - "malformed": a field has an impossible value or length; "unknown-type": unknown message/frame type;
 * - "signature": a signature does not verify; "expired": certificate outside its validity;
 * - "stale": timestamp outside the accepted window; "replay": envelope nonce already seen;
 * - "unknown-certificate": an envelope names its sender certificate by a hash the cache lacks.
 */
export type WireErrorCode =
  | "truncated"
  | "oversized"
  | "version"
  | "trailing"
  | "malformed"
  | "signature"
  | "expired"
  | "stale"
  | "unknown-type"
  | "replay"
  | "unknown-certificate";

/** Thrown by core/wire decoders and verifiers; the only error they let out on bad input. */
export class WireError extends Error {
  /** Machine-readable reason, see {@link WireErrorCode}. */
  readonly code: WireErrorCode;

  /** Creates an error with `code` and a human-readable `message`. */
  constructor(code: WireErrorCode, message: string) {
    super(message);
    this.name = "WireError";
    this.code = code;
  }
}
