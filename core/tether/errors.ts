/**
 * Typed errors raised by tethers.
 *
 * @module
 */

/** Why a tether operation failed. */
export type TetherErrorCode =
  | "timeout"
  | "closed"
  | "aborted"
  | "oversized"
  | "empty"
  | "bad-signal"
  | "engine-unavailable"
  | "negotiation";

/** An error from the tether layer; `code` says which kind, for callers that branch on it. */
export class TetherError extends Error {
  /** Machine-readable reason. */
  readonly code: TetherErrorCode;

  /** Creates an error with a machine-readable `code` and a human message. */
  constructor(code: TetherErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TetherError";
    this.code = code;
  }
}
