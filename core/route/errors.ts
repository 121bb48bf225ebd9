/**
 * Typed errors of the routing core.
 *
 * @module
 */

/** What was wrong with a routing input. */
export type RouteErrorCode = "malformed" | "oversized" | "options";

/** Thrown when a route control message or an option is invalid; never for normal routing. */
export class RouteError extends Error {
  /** Machine-readable reason. */
  readonly code: RouteErrorCode;

  /** Creates an error with a reason code and a human-readable message. */
  constructor(code: RouteErrorCode, message: string) {
    super(message);
    this.name = "RouteError";
    this.code = code;
  }
}
