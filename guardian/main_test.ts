import assert from "node:assert/strict";
import { memoryLogger } from "../core/log/logger.ts";
import { warnPlainTransport } from "./main.ts";

Deno.test("serve warns loudly about plain HTTP and nats:// off loopback, and only then", () => {
  const quiet = memoryLogger();
  warnPlainTransport(quiet, {
    listenHost: "127.0.0.1",
    tls: false,
    natsUrls: ["nats://127.0.0.1:4222", "tls://198.18.0.1:4222"],
  });
  warnPlainTransport(quiet, { listenHost: "0.0.0.0", tls: true, natsUrls: [] });
  assert.deepEqual(quiet.lines, []);

  const loud = memoryLogger();
  warnPlainTransport(loud, {
    listenHost: "0.0.0.0",
    tls: false,
    natsUrls: ["nats://198.18.0.1:4222"],
  });
  assert.equal(loud.lines.length, 2, loud.lines.join("\n"));
  assert.match(loud.lines[0], /WARNING: serving the API over plain HTTP/);
  assert.match(loud.lines[1], /WARNING: the Master is reached over plain nats:\/\//);
});
