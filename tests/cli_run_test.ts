/**
 * `run`: the NodeOptions handed to runNode come from flags, then environment, then the saved
 * file; the program's exit codes for bad input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cliHarness } from "./cli_harness.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

Deno.test("run: saved file < environment < flags, and the chosen profile", async () => {
  const h = await cliHarness();
  try {
    await Deno.mkdir(h.configDir, { recursive: true });
    const reg = {
      version: 1,
      guardian: "http://127.0.0.1:7101",
      conflux_id: "c_reg",
      conflux_token: "vnc_from_register",
      portal: false,
      teams: [],
      rtc: "libdatachannel",
      relay: true,
      registered_at: "2026-11-25T00:00:00.000Z",
    };
    const up = {
      version: 1,
      guardian: "http://127.0.0.1:7102",
      conflux_token: "vnc_from_up",
      portal: true,
      rtc: "werift",
      relay: false,
    };
    await Deno.writeTextFile(join(h.configDir, "conflux.json"), JSON.stringify(reg));
    await Deno.writeTextFile(join(h.configDir, "up.json"), JSON.stringify(up));

    assert.equal(await h.run(["run", "--profile", "register"]), 0, h.err.join("\n"));
    const a = h.nodeRuns.at(-1)!;
    assert.equal(a.confluxToken, "vnc_from_register");
    assert.equal(a.guardianUrl, "http://127.0.0.1:7101");
    assert.equal(a.rtcEngine, "libdatachannel");
    assert.equal(a.configDir, h.configDir);

    assert.equal(await h.run(["run"]), 0); // up.json wins when no profile is named
    const b = h.nodeRuns.at(-1)!;
    assert.deepEqual(
      [b.confluxToken, b.guardianUrl, b.portal, b.rtcEngine, b.relay],
      ["vnc_from_up", "http://127.0.0.1:7102", true, "werift", false],
    );

    const env = {
      VEILNET_CONFLUX_TOKEN: "vnc_env",
      VEILNET_GUARDIAN: "http://127.0.0.1:7103",
      VEILNET_PORTAL: "false",
      VEILNET_RTC: "auto",
    };
    assert.equal(await h.run(["run", "--profile", "up"], env), 0);
    const c = h.nodeRuns.at(-1)!;
    assert.deepEqual(
      [c.confluxToken, c.guardianUrl, c.portal, c.rtcEngine, c.relay],
      ["vnc_env", "http://127.0.0.1:7103", false, "auto", false],
    );

    const flags = ["run", "-t", "vnc_flag", "-g", "http://127.0.0.1:7104", "-p", "--tun", "vt0"];
    assert.equal(await h.run(flags, env), 0);
    const d = h.nodeRuns.at(-1)!;
    assert.deepEqual(
      [d.confluxToken, d.guardianUrl, d.portal, d.tunName],
      ["vnc_flag", "http://127.0.0.1:7104", true, "vt0"],
    );
    assert.equal(d.subnets, undefined, "a portal serves the host's networks by default");
    assert.equal(await h.run([...flags, "--portal-networks", "198.19.8.0/24"], env), 0);
    assert.deepEqual(h.nodeRuns.at(-1)!.subnets, ["198.19.8.0/24"]);
    // The datagram lane: on unless --lane off or VEILNET_LANE=off; a bad value is a usage error.
    assert.equal(h.nodeRuns.at(-1)!.lane, undefined);
    assert.equal(await h.run([...flags, "--lane", "off"], env), 0);
    assert.equal(h.nodeRuns.at(-1)!.lane, false);
    assert.equal(await h.run(flags, { ...env, VEILNET_LANE: "off" }), 0);
    assert.equal(h.nodeRuns.at(-1)!.lane, false);
    assert.equal(await h.run([...flags, "--lane", "on"], { ...env, VEILNET_LANE: "off" }), 0);
    assert.equal(h.nodeRuns.at(-1)!.lane, true);
    assert.equal(await h.run([...flags, "--lane", "sometimes"], env), 2);
  } finally {
    await h.cleanup();
  }
});

async function program(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, ...args],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: r.code,
    out: new TextDecoder().decode(r.stdout),
    err: new TextDecoder().decode(r.stderr),
  };
}

Deno.test("the program: exit codes and one-line errors for bad input", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-cli-run-" });
  try {
    let r = await program(["run", "--config-dir", dir]);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split("\n").length, 1);
    assert.match(r.err, /no conflux token: run `veilnet-conflux register/);
    r = await program(["register", "--tokne", "x"]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^error: veilnet-conflux register: unknown flag --tokne: see `veilnet-conflux register --help`\n$/,
    );
    r = await program(["up", "-t"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--token needs a value/);
    r = await program(["run", "--config-dir", dir], {
      VEILNET_CONFLUX_TOKEN: "x",
      VEILNET_GUARDIAN: "nope",
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /Guardian URL "nope" is not a URL/);
    r = await program(["version"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /^veilnet-conflux \d+\.\d+\.\d+\n$/);
    r = await program(["--help"]);
    assert.equal(r.code, 0);
    for (
      const c of [
        "register",
        "unregister",
        "up",
        "down",
        "start",
        "stop",
        "status",
        "remove",
        "run",
        "info",
        "teams",
      ]
    ) {
      assert.match(r.out, new RegExp(`\\n  ${c} `));
    }
    r = await program(["help", "up"]);
    assert.match(r.out, /VEILNET_CONFLUX_TOKEN/);
    r = await program(["frob"]);
    assert.equal(r.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
