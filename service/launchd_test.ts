import assert from "node:assert/strict";
import { join } from "node:path";
import type { CommandResult, CommandRunner } from "./command_runner.ts";
import { describeService } from "./description.ts";
import { launchdManager } from "./launchd.ts";

/** A stand-in launchctl keeping the loaded/running state of the system domain. */
class FakeLaunchctl implements CommandRunner {
  calls: string[] = [];
  loaded = false;
  running = false;
  run(program: string, args: string[]): Promise<CommandResult> {
    this.calls.push([program, ...args].join(" "));
    const r = (code: number, stdout = ""): Promise<CommandResult> =>
      Promise.resolve({ code, stdout, stderr: code ? "Could not find service" : "" });
    switch (args[0]) {
      case "enable":
        return r(0);
      case "bootstrap":
        this.loaded = true;
        this.running = true; // RunAtLoad
        return r(0);
      case "kickstart":
        if (!this.loaded) return r(113);
        this.running = true;
        return r(0);
      case "bootout":
        if (!this.loaded) return r(113);
        this.loaded = this.running = false;
        return r(0);
      case "print":
        if (!this.loaded) return r(113);
        return r(
          0,
          `system/org.veilnet.conflux = {\n\tstate = ${
            this.running ? "running" : "not running"
          }\n\tpid = ${this.running ? 501 : 0}\n}\n`,
        );
      default:
        return r(64);
    }
  }
}

Deno.test("launchd driver: plist in LaunchDaemons, bootstrap/kickstart/bootout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-launchd-" });
  try {
    const fake = new FakeLaunchctl();
    const m = launchdManager({ runner: fake, daemonsDir: dir, isRoot: true });
    assert.equal(m.location, join(dir, "org.veilnet.conflux.plist"));
    assert.equal((await m.status()).state, "not-installed");
    await m.install(
      describeService({
        command: ["/usr/local/bin/veilnet-conflux"],
        configDir: "/c",
        profile: "register",
      }),
    );
    assert.equal((await Deno.stat(m.location)).mode! & 0o777, 0o644);
    await m.start();
    const s = await m.status();
    assert.deepEqual([s.state, s.pid], ["running", 501]);
    const snap = await m.snapshot();
    await m.stop();
    assert.equal((await m.status()).state, "stopped");
    await m.remove();
    await assert.rejects(() => Deno.stat(m.location), Deno.errors.NotFound);
    await m.restore(snap);
    assert.equal((await m.status()).state, "running");
    assert.deepEqual(fake.calls.slice(0, 4), [
      "launchctl enable system/org.veilnet.conflux",
      "launchctl print system/org.veilnet.conflux",
      "launchctl bootstrap system " + m.location,
      "launchctl kickstart system/org.veilnet.conflux",
    ]);
    const user = launchdManager({ runner: fake, daemonsDir: dir, isRoot: false });
    await assert.rejects(() => user.check(), /needs root/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
