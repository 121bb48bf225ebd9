/**
 * Typed error of the crypto core.
 *
 * @module
 */

/** Machine-readable reason a crypto operation refused its input. */
export type CryptoErrorCode = "length" | "range" | "input";

/** Thrown by core/crypto when an argument has the wrong length or value; never carries key bytes. */
export class CryptoError extends Error {
  /** Machine-readable reason: "length" (wrong byte length), "range" (value out of range), "input". */
  readonly code: CryptoErrorCode;

  /** Creates an error with `code` and a human-readable `message`. */
  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = "CryptoError";
    this.code = code;
  }
}

/** Throws CryptoError("length") unless `bytes` is a Uint8Array of exactly `length` bytes. */
export function expectLength(what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new CryptoError("input", `${what}: expected Uint8Array`);
  }
  if (bytes.length !== length) {
    throw new CryptoError("length", `${what}: expected ${length} bytes, got ${bytes.length}`);
  }
}
