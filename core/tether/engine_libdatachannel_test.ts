import assert from "node:assert/strict";
import { LIBDATACHANNEL_SCTP_DEFAULTS, parseSctpSettings } from "./engine_libdatachannel.ts";
import { TetherError } from "./errors.ts";

Deno.test("VEILNET_SCTP: unset keeps the engine default, 'default' the library's", () => {
  assert.equal(
    parseSctpSettings(undefined, LIBDATACHANNEL_SCTP_DEFAULTS),
    LIBDATACHANNEL_SCTP_DEFAULTS,
  );
  const ours = { sendBufferSize: 1 };
  assert.equal(parseSctpSettings("  ", ours), ours);
  assert.equal(parseSctpSettings("default", ours), null);
});

Deno.test("VEILNET_SCTP: FIELD=N pairs become settings", () => {
  assert.deepEqual(parseSctpSettings("sendBufferSize=4194304, delayedSackTime=0", null), {
    sendBufferSize: 4194304,
    delayedSackTime: 0,
  });
});

Deno.test("VEILNET_SCTP: unknown fields and bad numbers are typed errors", () => {
  for (const bad of ["maxBurst=4", "sendBufferSize=-1", "sendBufferSize=1.5", "delayedSackTime"]) {
    assert.throws(() => parseSctpSettings(bad, null), TetherError, bad);
  }
});
