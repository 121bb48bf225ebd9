// `veilnet-guardian` as a user runs it: init creates keys once and never overwrites them,
// writes configs nats-server accepts, refuses bad flags with status 2 and writes nothing.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { freePort, startNatsServer } from "./helpers/nats_server.ts";

const MAIN = fileURLToPath(new URL("../guardian/main.ts", import.meta.url));

async function guardian(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli: init creates keys once, keeps them on re-run, nats-server accepts the config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-guardian-cli-" });
  try {
    const port = freePort();
    const first = await guardian(["init", "--data", dir, "--nats-listen", `127.0.0.1:${port}`]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created Guardian keys/);
    const keys = await Deno.readTextFile(`${dir}/guardian-keys.json`);
    assert.equal((await Deno.stat(`${dir}/guardian-keys.json`)).mode! & 0o777, 0o600);
    const second = await guardian(["init", "--data", dir, "--nats-listen", `127.0.0.1:${port}`]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /kept existing Guardian keys/);
    assert.equal(await Deno.readTextFile(`${dir}/guardian-keys.json`), keys);
    const conf = await Deno.readTextFile(`${dir}/nats.conf`);
    assert.match(conf, /resolver: MEMORY/);
    assert.ok(!conf.includes("seed"), "no seeds in the server config");
    const nats = await startNatsServer(`${dir}/nats.conf`);
    try {
      assert.equal(nats.port, port);
      assert.match(nats.logs(), /Trusted Operators/);
    } finally {
      await nats.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: bad flags exit 2 and leave no files behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-guardian-cli-" });
  try {
    const cases = [
      ["init"],
      ["init", "--data", dir, "--nats-listen", "nohost"],
      ["init", "--data", dir, "--cluster", "east=127.0.0.1:1:2", "--cluster", "west=127.0.0.1:3:4"],
      ["init", "--data", dir, "--gateway", "east=127.0.0.1:5"],
      ["init", "--data", dir, "--bogus"],
      ["serve", "--data", dir],
      ["serve", "--data", dir, "--nats", "http://x", "--session-ttl", "5"],
      ["serve", "--data", dir, "--nats", "nats://127.0.0.1:1", "--session-ttl", "0"],
      ["frobnicate"],
    ];
    for (const args of cases) {
      const r = await guardian(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^veilnet-guardian: .*\nusage:/s);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // serve without init: a clear error, status 1.
    const r = await guardian(["serve", "--data", dir, "--nats", "nats://127.0.0.1:1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /run "veilnet-guardian init" first/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
