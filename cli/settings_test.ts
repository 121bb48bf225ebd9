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
    guardian: { url: "http://127.0.0.1:7001" },
    confluxToken: "file-token",
    portal: true,
    rtcEngine: "werift",
    relay: false,
    tunName: undefined,
    dns: true,
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
  assert.equal(s.guardian.url, "http://127.0.0.1:7002");
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
  assert.equal(s.guardian.url, "http://127.0.0.1:7003");
  assert.equal(s.relay, false);
});

Deno.test("run: defaults without a file (Docker: everything from the environment)", () => {
  const s = resolveNodeSettings(parseCommand(run, [], { VEILNET_CONFLUX_TOKEN: "t" }), null);
  assert.equal(s.guardian.url, "https://guardian.veilnet.app");
  assert.equal(s.portal, false);
  assert.equal(s.rtcEngine, "auto");
  assert.equal(s.relay, true);
});

Deno.test("run: a private CA comes from flag, env or file, and stays with its own Guardian", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const ca = `${dir}/ca.pem`;
    Deno.writeTextFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const withCa = { ...saved, guardian: "https://g.example:8443", guardian_ca: ca };
    const fromFile = resolveNodeSettings(parseCommand(run, [], {}), withCa);
    assert.deepEqual(fromFile.guardian, { url: "https://g.example:8443", caFile: ca });
    const env = { VEILNET_GUARDIAN_CA: ca };
    const fromEnv = resolveNodeSettings(parseCommand(run, [], env), saved);
    assert.deepEqual(fromEnv.guardian, { url: "http://127.0.0.1:7001", caFile: ca });
    // Another Guardian on the command line does not inherit the saved one's CA.
    const other = resolveNodeSettings(parseCommand(run, ["-g", "https://h.example"], {}), withCa);
    assert.deepEqual(other.guardian, { url: "https://h.example" });
    // A missing or non-PEM file is a usage error naming the flag, before anything happens.
    for (const bad of [`${dir}/none.pem`, dir]) {
      assert.throws(
        () => resolveNodeSettings(parseCommand(run, ["--guardian-ca", bad], {}), saved),
        (e: unknown) =>
          e instanceof CliError && e.code === "usage" && /--guardian-ca/.test(e.message),
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("run: --portal-networks picks what a portal serves; bad lists are usage errors", () => {
  const flags = ["-p", "--portal-networks", "198.19.8.0/24, 198.18.128.0/17,198.19.8.0/24"];
  const s = resolveNodeSettings(parseCommand(run, flags, {}), saved);
  assert.deepEqual(s.portalNetworks, ["198.19.8.0/24", "198.18.128.0/17"]);
  // Saved with the file; not used when portal mode is off.
  const file = { ...saved, portal: true, portal_networks: ["198.19.16.0/20"] };
  assert.deepEqual(resolveNodeSettings(parseCommand(run, [], {}), file).portalNetworks, [
    "198.19.16.0/20",
  ]);
  const off = parseCommand(run, [], { VEILNET_PORTAL: "false" });
  assert.equal(resolveNodeSettings(off, file).portalNetworks, undefined);
  for (
    const [args, message] of [
      [["-p", "--portal-networks", "198.19.8.1/24"], /host bits/],
      [["-p", "--portal-networks", "100.64.5.0/24"], /realm|overlay|100\.64/],
      [["-p", "--portal-networks", "127.0.0.0/8"], /reserved|127/],
      [["-p", "--portal-networks", "198.18.0.0/4"], /prefix|\/4/],
      [["-p", "--portal-networks", " , "], /empty/],
      [["--portal-networks", "198.18.128.0/17"], /needs --portal/],
    ] as [string[], RegExp][]
  ) {
    assert.throws(
      () => resolveNodeSettings(parseCommand(run, args, {}), { ...saved, portal: false }),
      (e: unknown) => e instanceof CliError && e.code === "usage" && message.test(e.message),
      args.join(" "),
    );
  }
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

Deno.test("run: --underlay-interfaces from flag, env or file; bad names are usage errors", () => {
  const s = resolveNodeSettings(
    parseCommand(run, ["--underlay-interfaces", "eth1, eth2"], {}),
    saved,
  );
  assert.deepEqual(s.underlayInterfaces, ["eth1", "eth2"]);
  const env = { VEILNET_UNDERLAY_INTERFACES: "wlan0" };
  assert.deepEqual(resolveNodeSettings(parseCommand(run, [], env), saved).underlayInterfaces, [
    "wlan0",
  ]);
  const file = { ...saved, underlay_interfaces: ["enp3s0"] };
  assert.deepEqual(resolveNodeSettings(parseCommand(run, [], {}), file).underlayInterfaces, [
    "enp3s0",
  ]);
  assert.equal(resolveNodeSettings(parseCommand(run, [], {}), saved).underlayInterfaces, undefined);
  for (const bad of ["", "eth0,bad name", "a/b"]) {
    assert.throws(
      () => resolveNodeSettings(parseCommand(run, ["--underlay-interfaces", bad], {}), saved),
      (e: unknown) =>
        e instanceof CliError && e.code === "usage" && /--underlay-interfaces/.test(e.message),
      bad,
    );
  }
});
