/**
 * Typed errors of the service layer.
 *
 * @module
 */

/** Why a service operation failed. */
export type ServiceErrorCode = "unsupported" | "permission" | "command-failed" | "not-installed";

/** A service operation failed; `message` says what to do about it. */
export class ServiceError extends Error {
  /** Machine-readable reason. */
  readonly code: ServiceErrorCode;
  /** Creates the error. */
  constructor(code: ServiceErrorCode, message: string) {
    super(message);
    this.name = "ServiceError";
    this.code = code;
  }
}
