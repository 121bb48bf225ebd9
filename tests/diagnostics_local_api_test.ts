/**
 * The node's local API as `info`, `status` and `teams` reach it (cli/local_api.ts): HTTP spoken
 * straight onto the Unix socket, so no name is ever resolved, and one message per failure — no
 * socket, not a socket, a stale socket, permission denied, a node too busy to take the
 * connection, a node that took it and hung, a bad reply.
 *
 * The last test runs a real node in a network namespace whose default route leads nowhere and
 * whose resolver points at a dead address (issue 18: `info` used to wait 5 s for DNS there).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../cli/mod.ts";
import { fetchNodeInfo, LocalApiError, probeNode } from "../cli/local_api.ts";
import { memoryLogger } from "../core/log/logger.ts";
import { type NodeInfo, serveStatus } from "../core/node/status_server.ts";
import { ServiceError, type ServiceManager } from "../service/mod.ts";
import { labTest } from "./helpers/lab_test.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

const sample: NodeInfo = {
  conflux_id: "c0123456789abcdef",
  realm_id: "r0123456789abcdef",
  overlay_ip: "100.64.0.7",
  tag: "web-1",
  portal: false,
  teams: ["dev"],
  tethers: [],
  routes: [],
  streams: [],
};

/** Runs the CLI in-process; returns exit code and output. */
async function cli(
  args: string[],
  deps: Record<string, unknown> = {},
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    env: {},
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    ...deps,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Runs `veilnet-conflux ARGS` as a program, optionally under a prefix (setpriv, ip netns exec). */
async function program(
  args: string[],
  prefix: string[] = [],
): Promise<{ code: number; out: string; err: string; ms: number }> {
  const cmd = [...prefix, Deno.execPath(), "run", "-A", "--config", CONFIG, MAIN, ...args];
  const started = performance.now();
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  return {
    code: r.code,
    out: new TextDecoder().decode(r.stdout),
    err: new TextDecoder().decode(r.stderr),
    ms: performance.now() - started,
  };
}

/** A Unix listener with a listen queue of 0 that never accepts (Linux, through libc). */
function fullListener(path: string): { fill(): Promise<Deno.Conn[]>; close(): void } {
  const libc = Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    listen: { parameters: ["i32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  const fd = libc.symbols.socket(1, 1, 0); // AF_UNIX, SOCK_STREAM
  const addr = new Uint8Array(110);
  new DataView(addr.buffer).setUint16(0, 1, true); // sun_family = AF_UNIX
  addr.set(new TextEncoder().encode(path), 2);
  if (fd < 0 || libc.symbols.bind(fd, addr, addr.length) < 0 || libc.symbols.listen(fd, 0) < 0) {
    libc.close();
    throw new Error("cannot make a listener with libc");
  }
  return {
    async fill() {
      const held: Deno.Conn[] = [];
      for (let i = 0; i < 16; i++) {
        try {
          held.push(await Deno.connect({ transport: "unix", path }));
        } catch (e) {
          if (e instanceof Deno.errors.WouldBlock) return held;
          throw e;
        }
      }
      throw new Error("the listen queue never filled");
    },
    close() {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}

Deno.test("local API: no socket, not a socket, stale, bad replies: each says which (exit 3 or 1)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-localapi-" });
  const sock = join(dir, "conflux.sock");
  try {
    let r = await cli(["info", "--config-dir", dir]);
    assert.equal(r.code, 3);
    assert.match(r.err, /node is not running \(no socket at .*conflux\.sock\): start it with/);

    await Deno.writeTextFile(sock, "not a socket");
    r = await cli(["info", "--config-dir", dir]);
    assert.equal(r.code, 3);
    assert.match(r.err, /conflux\.sock is not a socket \(a regular file\): remove it/);
    await Deno.remove(sock);

    // A node killed with SIGKILL leaves its socket file behind.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(sock)} }); console.log("ready");` +
        " setTimeout(() => {}, 60000);",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    assert.ok(Deno.statSync(sock).isSocket, "the socket file stayed");
    r = await cli(["info", "--config-dir", dir]);
    assert.equal(r.code, 3);
    assert.match(r.err, /nobody listens on .*conflux\.sock: a stale socket/);
    await Deno.remove(sock);

    // Replies that are not a node's.
    const replies: Array<() => Response> = [
      () => new Response("oops", { status: 500 }),
      () => Response.json({ error: "not found" }, { status: 404 }),
      () => new Response("<html>"),
      () => Response.json([1, 2, 3]),
    ];
    const expected = [
      /HTTP 500 to GET \/info/,
      /HTTP 404 to GET \/info: not found/,
      /not JSON/,
      /not a JSON object/,
    ];
    let next = 0;
    const server = Deno.serve(
      { transport: "unix", path: sock, onListen() {} },
      () => replies[next](),
    );
    try {
      for (; next < replies.length; next++) {
        r = await cli(["info", "--config-dir", dir]);
        assert.equal(r.code, 1, r.err);
        assert.match(r.err, /the node's local API at .*conflux\.sock answered badly/);
        assert.match(r.err, expected[next]);
      }
    } finally {
      await server.shutdown();
    }

    // Something that is not HTTP at all.
    const raw = Deno.listen({ transport: "unix", path: sock });
    const serving = (async () => {
      for await (const conn of raw) {
        await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH\r\n\r\n"));
        conn.close();
      }
    })();
    r = await cli(["info", "--config-dir", dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /not an HTTP reply: "SSH-2\.0-OpenSSH"/);
    raw.close();
    await serving.catch(() => {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local API: a node that takes the connection and hangs, and one too busy to take it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-localapi-" });
  const sock = join(dir, "conflux.sock");
  try {
    const listener = Deno.listen({ transport: "unix", path: sock });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn); // accepted, never answered
    })();
    const started = performance.now();
    await assert.rejects(
      () => fetchNodeInfo(dir, { timeoutMs: 400 }),
      (e: unknown) => e instanceof LocalApiError && e.problem === "hung",
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 350 && waited < 2000, `gave up after ${waited} ms`);
    // The command itself: exit 1 and what to do.
    const r = await cli(["info", "--config-dir", dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /the node does not answer: it took the connection on .* but sent nothing within 3 s; it is hung or overloaded: see its log/,
    );
    listener.close();
    for (const c of held) c.close();
    await accepting.catch(() => {});
    await Deno.remove(sock).catch(() => {});

    if (Deno.build.os === "linux") {
      const full = fullListener(sock);
      const queued = await full.fill();
      try {
        const busy = await cli(["info", "--config-dir", dir]);
        assert.equal(busy.code, 1);
        assert.match(
          busy.err,
          /the node is busy: its socket .* takes no new connection \(listen queue full\)/,
        );
      } finally {
        for (const c of queued) c.close();
        full.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "local API: a socket this user may not open says permission denied (exit 1)",
  // As root, drop the capability that overrides file modes; elsewhere the mode alone does it.
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-localapi-" });
    const sock = join(dir, "conflux.sock");
    const server = serveStatus(sock, () => sample, { log: memoryLogger() });
    try {
      await new Promise((r) => setTimeout(r, 50));
      Deno.chmodSync(sock, 0o000);
      const prefix = Deno.uid() === 0
        ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        : [];
      const r = await program(["info", "--config-dir", dir], prefix);
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.err,
        /cannot connect to the node's socket .*conflux\.sock: permission denied .*run as root/,
      );
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("local API: a chunked and a large reply come through whole; probeNode reports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-localapi-" });
  const sock = join(dir, "conflux.sock");
  const big = {
    ...sample,
    routes: Array.from(
      { length: 5000 },
      (_, i) => ({ destination: `100.64.${i >> 8}.${i & 255}` }),
    ),
  };
  const server = Deno.serve({ transport: "unix", path: sock, onListen() {} }, () => {
    // A streamed body goes out chunked.
    const text = new TextEncoder().encode(JSON.stringify(big));
    let off = 0;
    return new Response(
      new ReadableStream({
        pull(c) {
          if (off >= text.length) return c.close();
          c.enqueue(text.slice(off, off + 7000));
          off += 7000;
        },
      }),
      { headers: { "content-type": "application/json" } },
    );
  });
  try {
    const info = await fetchNodeInfo(dir);
    assert.equal(info.conflux_id, sample.conflux_id);
    assert.equal(info.routes.length, 5000);
    const probe = await probeNode(dir);
    assert.equal(probe.state, "answering");
    const gone = await probeNode(join(dir, "elsewhere"));
    assert.equal(gone.state, "no-socket");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A service manager whose check says what this host's says: no systemd. */
function noSystemd(): ServiceManager {
  const fail = () =>
    Promise.reject(
      new ServiceError(
        "unsupported",
        "systemd is not running on this machine, so no service can be installed: use --debug",
      ),
    );
  return {
    kind: "systemd",
    location: "/etc/systemd/system/veilnet.service",
    check: fail,
    install: fail,
    start: fail,
    stop: fail,
    status: fail,
    remove: fail,
    snapshot: () => Promise.resolve({ definition: null, running: false }),
    restore: () => Promise.resolve(),
  };
}

Deno.test("status: the node's own answer on its socket, also where there is no service manager", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-localapi-" });
  try {
    let r = await cli(["status", "--config-dir", dir], { serviceManager: noSystemd });
    assert.equal(r.code, 3);
    assert.match(r.out, /service: none \(systemd is not running on this machine/);
    assert.match(r.out, /node: +no-socket: the node is not running \(no socket at/);
    const server = serveStatus(join(dir, "conflux.sock"), () => sample, { log: memoryLogger() });
    try {
      r = await cli(["status", "--config-dir", dir], { serviceManager: noSystemd });
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(
        r.out,
        /node: +answering on .*conflux\.sock \(conflux c0123456789abcdef, 100\.64\.0\.7\)/,
      );
      r = await cli(["status", "--json", "--config-dir", dir], { serviceManager: noSystemd });
      assert.equal(r.code, 0);
      const json = JSON.parse(r.out);
      assert.equal(json.manager, "none");
      assert.equal(json.node.state, "answering");
      assert.equal(json.node.conflux_id, sample.conflux_id);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

labTest(
  "local API: info answers at once in a namespace with a dead default route and no DNS",
  1,
  async (lab) => {
    await lab.startServices();
    await lab.createTeam("dev");
    const conflux = await lab.register("h0", ["dev"]);
    await lab.startNode(0, conflux);
    const ns = lab.namespaces[0];
    // The default route goes to the hub, which forwards nothing: packets vanish without an error,
    // as behind a NAT whose uplink is down. The resolver is an address nothing answers for.
    await lab.exec(ns, ["ip", "route", "add", "default", "via", "198.18.0.1"]);
    const etc = `/etc/netns/${ns}`;
    const hadParent = await Deno.stat("/etc/netns").then(() => true, () => false);
    await Deno.mkdir(etc, { recursive: true });
    try {
      await Deno.writeTextFile(join(etc, "resolv.conf"), "nameserver 198.18.3.53\n");
      const dir = lab.configDir(0);
      // Control: in this namespace a name lookup stalls (`ip netns exec` bind-mounts the file).
      const lookup = lab.exec(ns, ["timeout", "2", "getent", "ahosts", "conflux"], {
        check: false,
      });
      const inNs = ["ip", "netns", "exec", ns];
      const [info, stalled] = await Promise.all([
        program(["info", "--config-dir", dir], inNs),
        lookup,
      ]);
      const json = await program(["info", "--json", "--config-dir", dir], inNs);
      const status = await program(["status", "--config-dir", dir], inNs);
      assert.equal(
        stalled.code,
        124,
        `DNS should stall here: getent ended ${stalled.code} ${stalled.stderr}`,
      );
      assert.equal(info.code, 0, info.err);
      assert.match(info.out, new RegExp(`conflux:\\s+${conflux.confluxId}`));
      assert.match(
        info.out,
        new RegExp(`overlay ip:\\s+${conflux.overlayIp.replaceAll(".", "\\.")}`),
      );
      assert.equal(json.code, 0, json.err);
      assert.equal(JSON.parse(json.out).conflux_id, conflux.confluxId);
      assert.equal(status.code, 0, status.out + status.err);
      assert.match(status.out, /node: +answering on /);
      console.log(
        `without DNS: info ${Math.round(info.ms)} ms, info --json ${Math.round(json.ms)} ms, ` +
          `status ${Math.round(status.ms)} ms (whole program runs, Deno start included)`,
      );
      // The old client waited 5 s for the resolver; well under that, whatever the machine's load.
      for (const r of [info, json, status]) assert.ok(r.ms < 3_000, `${Math.round(r.ms)} ms`);
    } finally {
      await Deno.remove(etc, { recursive: true });
      if (!hadParent) await Deno.remove("/etc/netns").catch(() => {}); // only if still empty
    }
  },
);
