/**
 * Typed errors of the CLI; each maps to an exit code.
 *
 * @module
 */

/** Why a command failed. */
export type CliErrorCode =
  | "usage" // bad flags or arguments: exit 2
  | "config" // unreadable or invalid configuration file
  | "guardian" // the Guardian refused or could not be reached
  | "service" // the OS service manager failed
  | "not-running" // the node's local API is not reachable
  | "node"; // the node failed while running

/** A failure the user can act on; `message` is one line and says how. */
export class CliError extends Error {
  /** Machine-readable reason. */
  readonly code: CliErrorCode;
  /** Creates the error. */
  constructor(code: CliErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
  }

  /** Process exit code: 2 for usage errors, 3 for "not running", else 1. */
  get exitCode(): number {
    if (this.code === "usage") return 2;
    if (this.code === "not-running") return 3;
    return 1;
  }
}
