/**
 * Typed error of the stream layer.
 *
 * @module
 */

/** Machine-readable reason a stream handshake message was refused. */
export type StreamErrorCode =
  | "malformed"
  | "misaddressed"
  | "unknown-request"
  | "key-length"
  | "stream-id";

/** Thrown by core/stream when a handshake message cannot be used; never carries key bytes. */
export class StreamError extends Error {
  /** Machine-readable reason. */
  readonly code: StreamErrorCode;

  /** Creates an error with `code` and a human-readable `message`. */
  constructor(code: StreamErrorCode, message: string) {
    super(message);
    this.name = "StreamError";
    this.code = code;
  }
}
