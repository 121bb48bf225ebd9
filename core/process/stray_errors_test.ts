import assert from "node:assert/strict";
import type { Logger } from "../log/logger.ts";
import { containStrayErrors, isEngineError, isOrphanSocketError } from "./stray_errors.ts";

function thrownAt(frame: string): Error {
  const e = new Error("boom");
  e.stack = `Error: boom\n    at ${frame}\n    at async handleData (file:///app/core/x.ts:1:1)`;
  return e;
}

const WERIFT = "_SCTP.t2Start (file:///root/.cache/deno/npm/registry.npmjs.org/werift/0.25.2/" +
  "lib/index.mjs:16486:34)";
const OURS = "Node.#relay (file:///app/core/node/node.ts:920:5)";

Deno.test("engine errors: only errors whose innermost frame is an engine's count", () => {
  assert.ok(isEngineError(thrownAt(WERIFT)));
  assert.ok(isEngineError(thrownAt("x (/app/node_modules/node-datachannel/lib/index.js:1:1)")));
  assert.ok(!isEngineError(thrownAt(OURS)));
  assert.ok(!isEngineError("werift"));
  assert.ok(!isEngineError(new Error("thrown here, in a test of ours")));
});

Deno.test("stray errors: a reset a socket nobody listens to raised counts, other errors do not", () => {
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  // As Deno 2.9 raises it (seen when nats-server restarts under a nats.js connection).
  reset.stack = "Error: read ECONNRESET\n" +
    "    at __node_internal_errnoException (ext:deno_node/internal/errors.ts:1:3113)\n" +
    "    at __node_internal_errnoException (ext:deno_node/internal/hide_stack_frames.ts:1:238)\n" +
    "    at TCPWrap.onStreamRead [as onread] (ext:deno_node/internal/stream_base_commons.ts:1:3690)";
  assert.ok(isOrphanSocketError(reset));
  // Thrown where our code called (its stack has a frame of ours): not an orphan.
  assert.ok(!isOrphanSocketError(Object.assign(new Error("x"), { code: "ECONNRESET" })));
  const other = Object.assign(new Error("boom"), { code: "ERR_INVALID_ARG_TYPE" });
  other.stack = reset.stack;
  assert.ok(!isOrphanSocketError(other));
  assert.ok(!isEngineError(reset));
});

Deno.test("engine errors: an engine's unhandled rejection is logged and contained, ours is not", () => {
  const warned: string[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    warn: (m, f) => warned.push(`${m} ${JSON.stringify(f)}`),
    error() {},
  };
  const stop = containStrayErrors(log);
  try {
    const dispatch = (reason: Error) => {
      const promise = Promise.resolve(); // the event only needs a promise to name
      const event = new PromiseRejectionEvent("unhandledrejection", {
        promise,
        reason,
        cancelable: true,
      });
      globalThis.dispatchEvent(event);
      return event.defaultPrevented;
    };
    assert.equal(dispatch(thrownAt(WERIFT)), true);
    assert.equal(dispatch(thrownAt(OURS)), false);
    assert.equal(warned.length, 1);
    assert.match(warned[0], /tether engine error contained .*"at":"at _SCTP\.t2Start/);
  } finally {
    stop();
  }
  const event = new PromiseRejectionEvent("unhandledrejection", {
    promise: Promise.resolve(),
    reason: thrownAt(WERIFT),
    cancelable: true,
  });
  globalThis.dispatchEvent(event);
  assert.equal(event.defaultPrevented, false, "stop() removes the containment");
});
