/**
 * Refusals and JSON answers of the Guardian's HTTP layer.
 *
 * @module
 */

/** A refused request: status and the message sent as `{error}`. */
export class HttpError extends Error {
  /** HTTP status (4xx). */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** A JSON response that is never cached. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
