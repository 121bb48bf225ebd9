/**
 * Names with systemd-resolved under a real systemd (issue 15): a Debian bookworm root with
 * systemd-resolved (debootstrap, cached in `.cache/nspawn/bookworm-resolved`) booted with
 * `systemd-nspawn --boot` in a network namespace of this test, a real Guardian on its loopback.
 * The CLI registers a conflux tagged web-1; systemd runs the node as the `veilnet` service
 * (CAP_NET_BIND_SERVICE for port 53). resolved then holds per-link settings on the TUN (DNS server
 * = the overlay IP, domain ~veilnet.internal, default-route off) and `resolvectl query` and
 * `getent hosts` resolve web-1.veilnet.internal through it; at stop, and after `kill -9`, the link
 * and its settings are gone and resolved's global settings never changed.
 *
 * Needs root, systemd-nspawn, debootstrap, ip, nsenter, nats-server; the first run downloads
 * ~250 MB from the apt mirror. VEILNET_NSPAWN_CACHE keeps the roots elsewhere.
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
const ROOT = join(NSPAWN_CACHE, "bookworm-resolved");
const skipReason = nspawnSkipReason();
if (skipReason) console.error(`dns_resolved_test: skipped: ${skipReason}`);

/** Creates the cached Debian root once (tests/helpers/nspawn.ts). */
async function ensureRoot(): Promise<void> {
  await ensureNspawnRoot("bookworm-resolved", ["systemd-resolved"], {
    marker: "usr/lib/systemd/systemd-resolved",
  });
}

/** resolvectl knows no link veilnet0 (it says so, exit code 0 or not). */
function linkGone(o: Output): boolean {
  return !o.stdout.includes("(veilnet0)") && /No such device/.test(o.stderr);
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

Deno.test({
  name:
    "dns: systemd-resolved per-link settings on the TUN, gone at stop and after kill -9 (nspawn)",
  ignore: skipReason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ensureRoot();
    const { locateShim } = await import("../ffi/shim.ts");
    const shim = await locateShim();
    const denoDir = JSON.parse((await exec(Deno.execPath(), ["info", "--json"])).stdout)
      .denoDir as string;
    const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
    const netns = `vn-dns-${tag}`;
    const cleanups: Array<() => Promise<unknown>> = [];
    try {
      const add = await exec("ip", ["netns", "add", netns]);
      assert.equal(add.code, 0, add.stderr);
      cleanups.push(() => exec("ip", ["netns", "del", netns]));
      await exec("ip", ["-n", netns, "link", "set", "lo", "up"]);

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
      const g = JSON.parse(await lineReader(guardian.stdout)()) as { url: string; token: string };

      const binds = new Set([REPO, dirname(Deno.execPath()), denoDir, dirname(shim.path)]);
      const nspawn = new Deno.Command("setsid", {
        args: [
          "systemd-nspawn",
          "-D",
          ROOT,
          "--boot",
          `--machine=vndns${tag.replace(/[^a-z0-9]/g, "")}`,
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
          nspawn.kill("SIGTERM");
        } catch { /* gone */ }
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
          `DENO_DIR=${denoDir}`,
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
        (await inside(["journalctl", "-u", "veilnet", "--no-pager", "-n", "60"])).stdout;
      const resolved = await inside(["systemctl", "is-active", "systemd-resolved"]);
      assert.equal(resolved.stdout.trim(), "active", "systemd-resolved runs in the container");
      const globalBefore = (await inside(["resolvectl", "dns"])).stdout;

      const reg = await cli(["register", "--guardian", g.url, "-t", g.token, "--tag", "web-1"]);
      assert.equal(reg.code, 0, reg.stdout + reg.stderr);
      let info: Record<string, unknown> | null = null;
      await until("the node answers info", async () => {
        const r = await cli(["info", "--json"]);
        if (r.code === 0) info = JSON.parse(r.stdout);
        return r.code === 0;
      }, 60_000).catch(async (e) => {
        throw new Error(`${e}\n${await journal()}`);
      });
      const ip = String(info!.overlay_ip);
      const dns = info!.dns as Record<string, unknown>;
      assert.equal(dns.host, "systemd-resolved", JSON.stringify(dns));
      assert.equal(dns.server, `${ip}:53`, "port 53 bound under systemd's capabilities");

      const link = await inside(["resolvectl", "status", "veilnet0", "--no-pager"]);
      assert.equal(link.code, 0, link.stderr);
      assert.match(link.stdout, new RegExp(`DNS Servers?: ${ip.replaceAll(".", "\\.")}`));
      assert.match(link.stdout, /DNS Domain: ~veilnet\.internal ~7\.64\.100\.in-addr\.arpa/);
      assert.match(link.stdout, /-DefaultRoute/);
      assert.match(link.stdout, /Current Scopes: DNS\n/, "no LLMNR or mDNS on the TUN");
      const q = await inside(["resolvectl", "query", "--no-pager", "web-1.veilnet.internal"]);
      assert.equal(q.code, 0, q.stdout + q.stderr);
      assert.match(
        q.stdout,
        new RegExp(`web-1\\.veilnet\\.internal: ${ip.replaceAll(".", "\\.")}`),
      );
      assert.match(q.stdout, /link: veilnet0/);
      const ge = await inside(["getent", "hosts", "web-1.veilnet.internal"]);
      assert.equal(ge.code, 0, ge.stderr + (await inside(["cat", "/etc/resolv.conf"])).stdout);
      assert.match(ge.stdout, new RegExp(`^${ip.replaceAll(".", "\\.")}\\s`));
      const ptr = await inside(["resolvectl", "query", "--no-pager", ip]);
      assert.match(ptr.stdout, /web-1\.veilnet\.internal/);

      // Stop: the link and its settings go; resolved's global servers never changed.
      assert.equal((await inside(["systemctl", "stop", "veilnet"])).code, 0);
      let last: Output | undefined;
      await until("the link is gone", async () => {
        last = await inside(["resolvectl", "status", "veilnet0", "--no-pager"]);
        return linkGone(last);
      }).catch(async (e) => {
        const links = (await inside(["ip", "link"])).stdout;
        throw new Error(`${e}: ${JSON.stringify(last)}\n${links}\n${await journal()}`);
      });
      assert.notEqual(
        (await inside(["resolvectl", "query", "--no-pager", "web-1.veilnet.internal"], 30_000))
          .code,
        0,
      );
      assert.equal((await inside(["resolvectl", "dns"])).stdout, globalBefore);

      // kill -9: nothing is left behind either (the TUN dies with the process).
      assert.equal((await inside(["systemctl", "start", "veilnet"])).code, 0);
      await until(
        "the link is configured again",
        async () =>
          (await inside(["resolvectl", "status", "veilnet0", "--no-pager"])).stdout.includes(
            "~veilnet.internal",
          ),
        60_000,
      );
      assert.equal((await inside(["systemctl", "kill", "-s", "KILL", "veilnet"])).code, 0);
      await until(
        "the link is gone after kill -9",
        async () => linkGone(await inside(["resolvectl", "status", "veilnet0", "--no-pager"])),
        4_000,
      );
      assert.equal((await inside(["resolvectl", "dns"])).stdout, globalBefore);

      const unreg = await cli(["unregister"]);
      assert.equal(unreg.code, 0, unreg.stdout + unreg.stderr);
      assert.equal((await inside(["resolvectl", "dns"])).stdout, globalBefore);
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    }
  },
});
