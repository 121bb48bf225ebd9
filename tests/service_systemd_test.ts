/**
 * The service under a real systemd: a minimal Debian bookworm root (debootstrap, cached in
 * `.cache/nspawn/`) booted with `systemd-nspawn --boot` inside a network namespace of this test,
 * where a real Guardian and nats-server listen on loopback. Inside the container the CLI runs
 * `register --guardian http://127.0.0.1:PORT -t TOKEN`; systemd starts the node, which logs in,
 * opens its TUN and serves `info`; `unregister` then removes the unit.
 *
 * Needs root, `systemd-nspawn` (Debian systemd-container), `debootstrap`, `ip`, `nsenter`.
 * The first run downloads ~240 MB from the apt mirror (~70 s); later runs reuse the root.
 * Set VEILNET_NSPAWN_CACHE to keep the root elsewhere.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  containerInit,
  ensureRoot as ensureNspawnRoot,
  exec,
  lineReader,
  NSPAWN_CACHE,
  nspawnSkipReason,
  type Output,
} from "./helpers/nspawn.ts";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT = join(NSPAWN_CACHE, "bookworm");
const skipReason = nspawnSkipReason();
if (skipReason) console.error(`service_systemd_test: skipped: ${skipReason}`);

/** Creates the cached Debian root once (tests/helpers/nspawn.ts). */
async function ensureRoot(): Promise<void> {
  await ensureNspawnRoot("bookworm", []);
}

async function denoDir(): Promise<string> {
  const r = await exec(Deno.execPath(), ["info", "--json"]);
  return JSON.parse(r.stdout).denoDir as string;
}

Deno.test({
  name: "systemd: register → active node → info → unregister → unit gone (nspawn, real Guardian)",
  ignore: skipReason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureRoot();
    const { locateShim } = await import("../ffi/shim.ts");
    const shim = await locateShim(); // builds libtun on the host if needed (gcc)
    const cacheOfDeno = await denoDir();
    const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
    const netns = `vn-svc-${tag}`;
    const cleanups: Array<() => Promise<unknown>> = [];
    try {
      const add = await exec("ip", ["netns", "add", netns]);
      assert.equal(add.code, 0, add.stderr);
      cleanups.push(() => exec("ip", ["netns", "del", netns]));
      await exec("ip", ["-n", netns, "link", "set", "lo", "up"]);

      // A real Guardian + nats-server on the namespace's loopback.
      const guardian = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          netns,
          Deno.execPath(),
          "run",
          "-A",
          "--config",
          join(REPO, "deno.json"),
          join(REPO, "tests", "service_guardian_child.ts"),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const stdin = guardian.stdin.getWriter();
      cleanups.push(async () => {
        await stdin.close().catch(() => {});
        const timer = setTimeout(() => guardian.kill("SIGKILL"), 15_000);
        await guardian.status;
        clearTimeout(timer);
      });
      const readLine = lineReader(guardian.stdout);
      const g = JSON.parse(await readLine()) as { url: string; token: string };
      const live = async () => {
        await stdin.write(new TextEncoder().encode("live\n"));
        return (JSON.parse(await readLine()) as { live: number }).live;
      };
      assert.equal(await live(), 0);

      // Boot systemd in that namespace; the repo, Deno, its cache and the TUN shim bound
      // read-only at the same paths; /dev/net/tun and CAP_NET_ADMIN for the node's TUN.
      const binds = new Set([REPO, dirname(Deno.execPath()), cacheOfDeno, dirname(shim.path)]);
      const nspawn = new Deno.Command("setsid", {
        args: [
          "systemd-nspawn",
          "-D",
          ROOT,
          "--boot",
          `--machine=vnsvc${tag.replace(/[^a-z0-9]/g, "")}`,
          "--register=no",
          "--keep-unit",
          "--volatile=overlay",
          "--console=pipe",
          "-q",
          `--network-namespace-path=/run/netns/${netns}`,
          ...[...binds].map((b) => `--bind-ro=${b}`),
          "--bind=/dev/net/tun",
          "--capability=CAP_NET_ADMIN,CAP_NET_RAW",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const nspawnErr = new Response(nspawn.stderr).text();
      cleanups.push(async () => {
        try {
          nspawn.kill("SIGTERM"); // halts the container cleanly
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            nspawn.kill("SIGKILL");
          } catch { /* gone */ }
        }, 20_000);
        await nspawn.status;
        clearTimeout(timer);
      });

      let init: number | null = null;
      let state = "";
      for (let i = 0; i < 300 && !["running", "degraded"].includes(state); i++) {
        await new Promise((r) => setTimeout(r, 200));
        init ??= containerInit(nspawn.pid);
        if (init) {
          state = (await exec("nsenter", ["-t", `${init}`, "-a", "systemctl", "is-system-running"]))
            .stdout.trim();
        }
      }
      if (!init || !["running", "degraded"].includes(state)) {
        try {
          nspawn.kill("SIGTERM");
        } catch { /* gone */ }
        throw new Error(`container did not boot (state "${state}"): ${await nspawnErr}`);
      }
      const inside = (args: string[], timeoutMs?: number) =>
        exec("nsenter", ["-t", `${init}`, "-a", ...args], timeoutMs);
      const cli = (args: string[]) =>
        inside([
          "env",
          "-i",
          "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
          "HOME=/root",
          `DENO_DIR=${cacheOfDeno}`,
          `VEILNET_TUN_LIBRARY=${shim.path}`,
          Deno.execPath(),
          "run",
          "-A",
          "--config",
          join(REPO, "deno.json"),
          join(REPO, "main.ts"),
          ...args,
        ]);
      const journal = async () =>
        (await inside(["journalctl", "-u", "veilnet", "--no-pager", "-n", "40"])).stdout;

      const reg = await cli(["register", "--guardian", g.url, "-t", g.token, "--tag", "nspawn"]);
      assert.equal(reg.code, 0, reg.stdout + reg.stderr);
      assert.match(reg.stdout, /service installed and started \(systemd/);
      assert.equal(await live(), 1);
      const unitFile = await inside(["cat", "/etc/systemd/system/veilnet.service"]);
      assert.match(unitFile.stdout, /--config-dir \/root\/\.config\/conflux --profile register/);
      const conf = JSON.parse((await inside(["cat", "/root/.config/conflux/conflux.json"])).stdout);
      const mode =
        (await inside(["stat", "-c", "%a", "/root/.config/conflux/conflux.json"])).stdout;
      assert.equal(mode.trim(), "600");

      // The node is up once its status socket answers; systemd must call it active.
      let info: Output | null = null;
      for (let i = 0; i < 120; i++) {
        info = await cli(["info", "--json"]);
        if (info.code === 0) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(info?.code, 0, `node never answered info:\n${info?.stderr}\n${await journal()}`);
      const node = JSON.parse(info!.stdout);
      assert.equal(node.conflux_id, conf.conflux_id);
      assert.match(node.overlay_ip, /^100\.64\.7\.\d+$/);
      assert.match(await journal(), /Started veilnet\.service/); // `journalctl -u veilnet`
      const active = await inside(["systemctl", "is-active", "veilnet"]);
      assert.equal(active.stdout.trim(), "active", await journal());
      const status = await cli(["status"]);
      assert.equal(status.code, 0, status.stdout + status.stderr);
      assert.match(status.stdout, /state:\s+running/);
      const table = await cli(["info"]);
      assert.equal(table.code, 0);
      assert.match(table.stdout, new RegExp(`conflux:\\s+${conf.conflux_id}`));

      const unreg = await cli(["unregister"]);
      assert.equal(unreg.code, 0, unreg.stdout + unreg.stderr);
      assert.equal(await live(), 0);
      const after = await inside(["systemctl", "is-active", "veilnet"]);
      assert.notEqual(after.stdout.trim(), "active");
      const files = await inside([
        "systemctl",
        "list-unit-files",
        "veilnet.service",
        "--no-legend",
      ]);
      assert.equal(files.stdout.trim(), "", "unit gone");
      const gone = await inside(["test", "-e", "/etc/systemd/system/veilnet.service"]);
      assert.notEqual(gone.code, 0);
      const confGone = await inside(["test", "-e", "/root/.config/conflux/conflux.json"]);
      assert.notEqual(confGone.code, 0);
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    }
  },
});
