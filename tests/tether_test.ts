/**
 * Runs the in-process tether cases (tests/tether_cases/*.ts), each file in its own `deno test`
 * process.
 *
 * Why: node-datachannel keeps per-process references to the first isolate that created a data
 * channel; a second isolate in the same process (the next test file of a `deno test` run) that
 * touches it makes Deno abort ("access Handle hosted by disposed Isolate"). This file itself never
 * loads node-datachannel, so the rest of the suite may.
 */

import assert from "node:assert/strict";

const CASES = ["engines", "backpressure", "garbage", "batcher"];
const config = new URL("../deno.json", import.meta.url).pathname;

for (const name of CASES) {
  Deno.test(`tether cases: ${name} (own process)`, async () => {
    const file = new URL(`./tether_cases/${name}.ts`, import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--no-check", "--config", config, file],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `tests/tether_cases/${name}.ts failed:\n${text}`);
    assert.match(text, /ok \| [1-9]\d* passed \| 0 failed/);
  });
}
