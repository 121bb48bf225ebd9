import assert from "node:assert/strict";
import { natsTls } from "./nats_tls.ts";

Deno.test("nats tls: only tls:// servers get TLS options; a private CA goes with them", () => {
  assert.deepEqual(natsTls(["nats://127.0.0.1:4222"], ["CA"]), {});
  assert.deepEqual(natsTls(["tls://m.example:4222"], []), { tls: {} });
  assert.deepEqual(natsTls(["nats://a:1", "tls://b:2"], ["CA1", "CA2"]), {
    tls: { ca: "CA1\nCA2" },
  });
});
