/**
 * Containment of stray errors: errors thrown asynchronously inside third-party code that has its
 * own recovery, which by default end the whole process (and with it every tunnel of a node, or the
 * Guardian's service):
 *
 * - **tether engine errors**: werift runs SCTP and DTLS in JavaScript with fire-and-forget
 *   promises; a bug there is one tether's failure, and that tether's probes take it down.
 * - **orphan socket errors**: a connection reset (ECONNRESET, EPIPE) raised by a Node-compatible
 *   socket after its owner (nats.js) stopped listening for errors, typically when nats-server
 *   restarts or refuses revoked credentials; the owner's reconnect logic handles the closed socket.
 *
 * Such an error is logged and the process goes on. Errors from anywhere else still end the process,
 * as they should.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";

/** Stack frames that belong to a tether engine (npm packages werift and node-datachannel). */
const ENGINE_FRAME = /[\\/](werift|node-datachannel)[\\/@]/;
/** Deno's Node-compatible internals (where an unlistened socket error is raised). */
const NODE_INTERNAL_FRAME = /\(ext:deno_node\/internal\//;
/** Connection-level failures a socket's owner recovers from by reconnecting. */
const SOCKET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT"]);

function frames(error: Error): string[] {
  return (error.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
}

function innermostFrame(error: Error): string | undefined {
  return frames(error)[0];
}

/** Whether `error` was thrown inside a tether engine (its innermost frame is the engine's). */
export function isEngineError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const frame = innermostFrame(error);
  return frame !== undefined && ENGINE_FRAME.test(frame);
}

/**
 * Whether `error` is a connection reset raised by a Node-compatible socket nobody listens to: its
 * code says so and every frame of its stack is inside Deno's Node internals (no caller of ours or
 * of a library awaited it).
 */
export function isOrphanSocketError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  const stack = frames(error);
  return typeof code === "string" && SOCKET_CODES.has(code) && stack.length > 0 &&
    stack.every((f) => NODE_INTERNAL_FRAME.test(f));
}

/**
 * Starts containing stray errors for this process (unhandled rejections and uncaught errors);
 * returns the function that stops it.
 */
export function containStrayErrors(log: Logger): () => void {
  const contain = (event: Event, error: unknown) => {
    const kind = isEngineError(error)
      ? "tether engine error contained"
      : isOrphanSocketError(error)
      ? "connection error contained"
      : null;
    if (kind === null) return;
    event.preventDefault();
    const e = error as Error;
    log.warn(kind, { error: e.message || e.name, at: innermostFrame(e)?.trim() ?? "" });
  };
  const onRejection = (e: PromiseRejectionEvent) => contain(e, e.reason);
  const onError = (e: ErrorEvent) => contain(e, e.error);
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
