import assert from "node:assert/strict";
import { findCommand } from "./command_specs.ts";
import type { RegisterConfig, UpConfig } from "./config_store.ts";
import { CliError } from "./errors.ts";
import { parseCommand } from "./flags.ts";
import { parseTeams, resolveNodeSettings, validateCidr } from "./settings.ts";

const run = findCommand("run")!;
const saved: UpConfig = {
  version: 1,
  guardian: "http://127.0.0.1:7001",
  conflux_token: "file-token",
  portal: true,
  rtc: "werift",
  relay: false,
};

Deno.test("run: the saved file is used when nothing overrides it", () => {
  const s = resolveNodeSettings(parseCommand(run, [], {}), saved);
  assert.deepEqual(s, {
    guardianUrl: "http://127.0.0.1:7001",
    confluxToken: "file-token",
    portal: true,
    rtcEngine: "werift",
    relay: false,
    tunName: undefined,
  });
});

Deno.test("run: environment overrides the saved file", () => {
  const env = {
    VEILNET_CONFLUX_TOKEN: "env-token",
    VEILNET_GUARDIAN: "http://127.0.0.1:7002/",
    VEILNET_PORTAL: "false",
    VEILNET_RTC: "libdatachannel",
    VEILNET_NO_RELAY: "false",
    VEILNET_TUN: "vn-test0",
  };
  const s = resolveNodeSettings(parseCommand(run, [], env), saved);
  assert.equal(s.confluxToken, "env-token");
  assert.equal(s.guardianUrl, "http://127.0.0.1:7002");
  assert.equal(s.portal, false);
  assert.equal(s.rtcEngine, "libdatachannel");
  assert.equal(s.relay, true);
  assert.equal(s.tunName, "vn-test0");
});

Deno.test("run: flags override environment and file", () => {
  const env = { VEILNET_CONFLUX_TOKEN: "env-token", VEILNET_GUARDIAN: "http://127.0.0.1:7002" };
  const p = parseCommand(
    run,
    ["-t", "flag-token", "-g", "http://127.0.0.1:7003", "--no-relay"],
    env,
  );
  const s = resolveNodeSettings(p, { ...saved, relay: true });
  assert.equal(s.confluxToken, "flag-token");
  assert.equal(s.guardianUrl, "http://127.0.0.1:7003");
  assert.equal(s.relay, false);
});

Deno.test("run: defaults without a file (Docker: everything from the environment)", () => {
  const s = resolveNodeSettings(parseCommand(run, [], { VEILNET_CONFLUX_TOKEN: "t" }), null);
  assert.equal(s.guardianUrl, "https://guardian.veilnet.app");
  assert.equal(s.portal, false);
  assert.equal(s.rtcEngine, "auto");
  assert.equal(s.relay, true);
});

Deno.test("run: no token anywhere is a usage error that says where to get one", () => {
  const reg: RegisterConfig | null = null;
  assert.throws(
    () => resolveNodeSettings(parseCommand(run, [], {}), reg),
    (e: unknown) => e instanceof CliError && e.code === "usage" && /register/.test(e.message),
  );
});

Deno.test("teams and CIDR input", () => {
  assert.deepEqual(parseTeams(" dev, ops,,dev "), ["dev", "ops"]);
  assert.deepEqual(parseTeams(undefined), []);
  assert.equal(validateCidr("100.64.0.10/16"), "100.64.0.10/16");
  for (const bad of ["100.64.0.10", "300.1.1.1/8", "1.2.3.4/33", "x/8", "1.2.3.4/"]) {
    assert.throws(() => validateCidr(bad), CliError, bad);
  }
});
