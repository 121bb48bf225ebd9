/**
 * Containment of errors thrown asynchronously inside a tether engine. werift runs SCTP and DTLS
 * in JavaScript with fire-and-forget promises; a bug there surfaces as an unhandled rejection,
 * which by default ends the process and with it every tunnel of the node. Such an error is one
 * tether's failure: it is logged, and the tether's liveness probes take that tether down and the
 * routing agent moves its traffic. Errors from anywhere else still end the process, as they should.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";

/** Stack frames that belong to a tether engine (npm packages werift and node-datachannel). */
const ENGINE_FRAME = /[\\/](werift|node-datachannel)[\\/@]/;

/** Whether `error` was thrown inside a tether engine (its innermost frame is the engine's). */
export function isEngineError(error: unknown): boolean {
  if (!(error instanceof Error) || !error.stack) return false;
  const frames = error.stack.split("\n").filter((l) => /^\s+at /.test(l));
  return frames.length > 0 && ENGINE_FRAME.test(frames[0]);
}

/**
 * Starts containing engine errors for this process (unhandled rejections and uncaught errors);
 * returns the function that stops it.
 */
export function containEngineErrors(log: Logger): () => void {
  const contain = (event: Event, error: unknown) => {
    if (!isEngineError(error)) return;
    event.preventDefault();
    const e = error as Error;
    const at = e.stack!.split("\n").find((l) => /^\s+at /.test(l))?.trim() ?? "";
    log.warn("tether engine error contained", { error: String(e.message || e.name), at });
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
