import assert from "node:assert/strict";
import { formatLine, memoryLogger, redact } from "./logger.ts";

Deno.test("redact hides secret-looking fields and keeps the rest", () => {
  const out = redact({ token: "abc", conflux_id: "c1", nats_jwt: "x", teamKey: "k" });
  assert.deepEqual(out, {
    token: "[redacted]",
    conflux_id: "c1",
    nats_jwt: "[redacted]",
    teamKey: "[redacted]",
  });
});

Deno.test("formatLine never prints a token value", () => {
  const line = formatLine("info", "registered", { token: "s3cr3t", id: 7 });
  assert.ok(!line.includes("s3cr3t"));
  assert.equal(line, `INFO  registered token="[redacted]" id=7`);
});

Deno.test("memoryLogger collects every level", () => {
  const log = memoryLogger();
  log.debug("a");
  log.error("b", { n: 1 });
  assert.deepEqual(log.lines, ["DEBUG a", "ERROR b n=1"]);
});
