// `veilnet-guardian stun` and `serve --stun` as a user runs them: the STUN server answers a
// Binding request with the client's own address, and sessions hand its URL out as an ICE server.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { fileURLToPath } from "node:url";
import { createUser } from "@nats-io/nkeys";
import { GuardianClient } from "../core/control/guardian_client.ts";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import {
  BINDING_SUCCESS,
  decodeStunMessage,
  decodeXorMappedAddress,
  encodeBindingRequest,
} from "../core/stun/message.ts";
import { createRealm, registerConflux, startGuardian } from "./helpers/guardian.ts";

const MAIN = fileURLToPath(new URL("../guardian/main.ts", import.meta.url));

/** A `guardian/main.ts` child process and the stdout lines it printed first. */
interface Child {
  lines: string[];
  stop(): Promise<Deno.CommandStatus>;
}

/** Runs `guardian/main.ts args` and waits for its first `count` stdout lines. */
async function spawnGuardian(args: string[], count: number): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    return await child.status;
  };
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => reader.cancel().catch(() => {}), 30_000);
  let text = "";
  try {
    while (text.split("\n").length <= count) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`guardian ${args[0]} ended early; stdout: ${text}`);
      text += value;
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  // Keep draining so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return { lines: text.split("\n").slice(0, count), stop };
}

/** Sends one Binding request to `host:port` from 127.0.0.1; returns the answer and our port. */
async function bind(host: string, port: number): Promise<{ reply: Uint8Array; port: number }> {
  const socket = dgram.createSocket({ type: "udp4" });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => resolve());
    });
    const reply = new Promise<Uint8Array>((resolve) => {
      socket.once("message", (data: Uint8Array) => resolve(new Uint8Array(data)));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no STUN answer from ${host}:${port}`)), 5000);
    });
    socket.send(encodeBindingRequest(crypto.getRandomValues(new Uint8Array(12))), port, host);
    try {
      return { reply: await Promise.race([reply, timeout]), port: socket.address().port };
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** Asserts a STUN server on 127.0.0.1:`port` tells us our own address. */
async function assertReflexive(port: number): Promise<void> {
  const { reply, port: ours } = await bind("127.0.0.1", port);
  const msg = decodeStunMessage(reply);
  assert.equal(msg.type, BINDING_SUCCESS);
  assert.deepEqual(decodeXorMappedAddress(msg), { address: "127.0.0.1", port: ours, family: 4 });
}

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("guardian stun: port 0 prints the real port; answers with our address", async () => {
  const child = await spawnGuardian(["stun", "--listen", "127.0.0.1:0", "--log-level", "warn"], 1);
  try {
    const m = /^stun listening on stun:127\.0\.0\.1:(\d+)$/.exec(child.lines[0]);
    assert.ok(m, `first line: ${child.lines[0]}`);
    const port = Number(m[1]);
    assert.ok(port > 0);
    await assertReflexive(port);
  } finally {
    const status = await child.stop();
    assert.equal(status.code, 0, "SIGTERM ends it cleanly");
  }
});

Deno.test("guardian serve --stun: sessions hand out the STUN server, which answers", async () => {
  // The helper provides the data dir, nats-server and a conflux; a `serve --stun` child then
  // takes over the same data dir (the in-process Guardian is closed first).
  const g = await startGuardian();
  try {
    const realm = await createRealm(g);
    const conflux = await registerConflux(g, realm);
    await g.server!.close();
    const base = [
      "serve",
      "--data",
      g.dataDir,
      "--nats",
      g.natsUrls.join(","),
      "--listen",
      "127.0.0.1:0",
      "--log-level",
      "warn",
    ];
    const iceServersOf = async (child: Child) => {
      const url = /^listening on (http:\/\/\S+)$/.exec(child.lines[0])?.[1];
      assert.ok(url, `first line: ${child.lines[0]}`);
      const client = new GuardianClient(url);
      await waitHealthy(client);
      const session = await client.sessionLogin({
        token: conflux.token,
        mldsaPublicKey: generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32)))
          .publicKey,
        nkey: createUser().getPublicKey(),
      });
      return session.iceServers;
    };
    const stunPort = (child: Child) => {
      const m = /^stun listening on stun:127\.0\.0\.1:(\d+)$/.exec(child.lines[1]);
      assert.ok(m, `second line: ${child.lines[1]}`);
      return Number(m[1]);
    };
    const cases: Array<{ args: string[]; expected: (port: number) => string[] }> = [
      // No --stun-advertise: the --stun host with the port actually bound.
      { args: ["--stun", "127.0.0.1:0"], expected: (port) => [`stun:127.0.0.1:${port}`] },
      {
        args: ["--stun", "127.0.0.1:0", "--stun-advertise", "stun.example.test:3478"],
        expected: () => ["stun:stun.example.test:3478"],
      },
      // --ice wins; the STUN server still runs.
      {
        args: ["--stun", "127.0.0.1:0", "--ice", "stun:stun.example.test:19302"],
        expected: () => ["stun:stun.example.test:19302"],
      },
    ];
    for (const c of cases) {
      const child = await spawnGuardian([...base, ...c.args], 2);
      try {
        const port = stunPort(child);
        assert.deepEqual(await iceServersOf(child), c.expected(port), c.args.join(" "));
        await assertReflexive(port);
      } finally {
        const status = await child.stop();
        assert.equal(status.code, 0, `${c.args.join(" ")}: SIGTERM ends it cleanly`);
      }
    }
  } finally {
    await g.stop();
  }
});

Deno.test("guardian stun and serve --stun: bad flags exit 2 with a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-guardian-stun-" });
  try {
    const serve = ["serve", "--data", dir, "--nats", "nats://127.0.0.1:1"];
    const cases: Array<[string[], RegExp]> = [
      [["stun", "--listen", "nohost"], /--listen: expected HOST:PORT/],
      [["stun", "--listen", "127.0.0.1:65536"], /--listen: expected HOST:PORT/],
      [["stun", "--log-level", "loud"], /--log-level must be/],
      [["stun", "--bogus"], /bogus/],
      [[...serve, "--stun", "bad"], /--stun: expected HOST:PORT/],
      [[...serve, "--stun", "0.0.0.0:3478"], /--stun 0\.0\.0\.0:3478 .*--stun-advertise/],
      [[...serve, "--stun", "[::]:3478"], /listens on every address.*--stun-advertise/],
      [[...serve, "--stun-advertise", "192.0.2.1:3478"], /--stun-advertise needs --stun/],
      [
        [...serve, "--stun", "0.0.0.0:3478", "--stun-advertise", "192.0.2.1:0"],
        /--stun-advertise: expected HOST:PORT .*port 1–65535/,
      ],
      [
        [...serve, "--stun", "127.0.0.1:0", "--stun-advertise", "a:1", "--ice", "stun:b:2"],
        /exclude each other/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^veilnet-guardian: .*\nusage:/s, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function waitHealthy(client: GuardianClient): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const health = await client.call("GET", "/health") as { nats?: boolean };
      if (health.nats) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("Guardian not healthy");
}
