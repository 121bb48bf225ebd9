import assert from "node:assert/strict";
import { parseCli, UsageError } from "./main.ts";

Deno.test("sim CLI parses flags and rejects bad ones", () => {
  const cli = parseCli(["--nodes", "100,1000", "--seed", "7", "--scenario", "churn", "--out", "x"]);
  assert.deepEqual(cli.nodes, [100, 1000]);
  assert.equal(cli.seed, 7);
  assert.equal(cli.scenario, "churn");
  assert.equal(cli.out, "x");
  assert.equal(parseCli([]).scenario, "relay-failure");
  for (
    const bad of [
      ["--nodes", "abc"],
      ["--nodes", "2"],
      ["--scenario", "meteor"],
      ["--seed", "-1"],
      ["--bogus"],
      ["positional"],
    ]
  ) {
    assert.throws(() => parseCli(bad), UsageError, bad.join(" "));
  }
});
