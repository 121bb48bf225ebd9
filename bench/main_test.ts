import assert from "node:assert/strict";
import { benchCommand } from "./main.ts";

Deno.test("bench dispatcher: micro by default, scripts by name, unknown refused", () => {
  assert.deepEqual(benchCommand(undefined, []), [
    "bench",
    "-A",
    "bench/crypto_bench.ts",
    "bench/aead_bench.ts",
  ]);
  assert.deepEqual(benchCommand("tunnel", ["--seconds", "3"]), [
    "run",
    "-A",
    "bench/tunnel_bench.ts",
    "--seconds",
    "3",
  ]);
  assert.equal(benchCommand("rm -rf", []), null);
});
