/**
 * Errors of Guardian API calls.
 *
 * @module
 */

/** A Guardian call that failed. */
export class GuardianApiError extends Error {
  /** HTTP status; 0 when no valid HTTP answer arrived (network error, timeout, bad JSON). */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "GuardianApiError";
    this.status = status;
  }
}

/**
 * The session's Guardian key is not the one pinned at `register`/`up`: someone else answers at the
 * Guardian's address, or the Guardian's keys were replaced. Status 0 (no session was accepted).
 */
export class GuardianKeyMismatchError extends GuardianApiError {
  /** SHA-256 (hex) of the key that was pinned. */
  readonly pinned: string;
  /** SHA-256 (hex) of the key the Guardian presented. */
  readonly presented: string;
  /** Creates the error. */
  constructor(pinned: string, presented: string) {
    super(
      0,
      `the Guardian's key changed: pinned sha256:${pinned}, presented sha256:${presented}; ` +
        "refusing the session (if the Guardian's keys were really replaced, run register or " +
        "up again)",
    );
    this.name = "GuardianKeyMismatchError";
    this.pinned = pinned;
    this.presented = presented;
  }
}
