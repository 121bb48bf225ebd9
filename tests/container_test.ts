/**
 * The container image, built and run for real with podman (there is no Docker engine here).
 *
 * 1. The base: `debian:bookworm-slim` from local storage, else imported from the cached tarball
 *    `.cache/container/debian-bookworm-slim.tar` (`VEILNET_CONTAINER_CACHE` moves it), else made
 *    by container/debian-base.sh (debootstrap from this host's apt mirror, ~30 s) and cached.
 * 2. The Dockerfile built with `podman build --format docker --network host` (the build stage
 *    downloads from the apt mirror and the npm registry; the host's CA bundle is handed to it as
 *    the `build_ca` secret, for machines behind a TLS-inspecting proxy).
 * 3. A lab (demo/lab.ts): nats-server and a Guardian in the hub namespace, a conflux on the host
 *    side in namespace n0, and the image run in namespace n1 (`ip netns exec n1 podman run
 *    --network host --privileged`) configured only by `-e VEILNET_CONFLUX_TOKEN/GUARDIAN/PORTAL`,
 *    as portal for a LAN behind n1. Pings go both ways between the two confluxes, and from the
 *    host side through the container to the LAN; `podman healthcheck run` is healthy;
 *    `podman stop` ends the node on SIGTERM (exit 0 within the 5 s grace) and leaves no TUN, no
 *    nftables table and IPv4 forwarding as it was.
 * 4. The repository's docker-compose.yml, run with the seed's `.env` by Debian's docker-compose
 *    (1.29) against podman's Docker API (`podman system service`) in n1: Debian's podman-compose
 *    1.0.3 cannot run `network_mode: host` (it adds `--net <project>_default`, which podman
 *    refuses) and has no `config` command. Only the image and container name are overridden,
 *    so that the test never touches a user's `veilnet/conflux:beta` or `veilnet-conflux`.
 *
 * Everything the test makes is removed (containers, the image, namespaces), except the cached
 * base tarball and base image. Skipped, with the reason, only where podman cannot run (not root,
 * no podman or runc, `podman info` failing) or the lab cannot be built (no nats-server).
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab, GUARDIAN_URL, type Lab, labAvailable, Proc } from "../demo/lab.ts";
import type { NodeInfo } from "../core/node/mod.ts";
import { natTableName } from "../core/portal/linux_host.ts";
import { VERSION } from "../cli/version.ts";
import { namespacesOf } from "./helpers/lab_test.ts";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const CACHE = Deno.env.get("VEILNET_CONTAINER_CACHE") ?? join(REPO, ".cache", "container");
const BASE_TAR = join(CACHE, "debian-bookworm-slim.tar");
const BASE_IMAGE = "docker.io/library/debian:bookworm-slim";
/** podman's global flags here: runc (the default crun fails on this machine's cgroups). */
const PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"];
/** Without explicit limits, setrlimit in the container is refused on this machine. */
const ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];
const TUN = "veilnet0";
const LAN_GATEWAY = "198.19.88.1";
const LAN_HOST = "198.19.88.2";
const LAN = "198.19.88.0/24";

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (no shell); never throws on a non-zero exit. */
async function exec(
  cmd: string[],
  options: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<Output> {
  try {
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
      cwd: options.cwd,
      signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  } catch (e) {
    return { code: -1, stdout: "", stderr: `${cmd.join(" ")}: ${(e as Error).message}` };
  }
}

/** Like {@link exec}, but throws (with the output's tail) unless the exit code is 0. */
async function check(cmd: string[], options: Parameters<typeof exec>[1] = {}): Promise<Output> {
  const r = await exec(cmd, options);
  if (r.code !== 0) {
    throw new Error(
      `${cmd.join(" ")} failed (${r.code}):\n${(r.stdout + r.stderr).slice(-3000)}`,
    );
  }
  return r;
}

/**
 * `podman …`, inside network namespace `ns` when given (a `--network host` container lives
 * there). `nsenter --net`, not `ip netns exec`: the latter mounts a fresh /sys without the
 * cgroup file systems, and runc then refuses to create containers ("no cgroup mount found").
 */
function podman(args: string[], ns?: string): string[] {
  return [...(ns ? inNetns(ns) : []), ...PODMAN, ...args];
}

/** The prefix that runs a program in network namespace `ns` and nothing else changed. */
function inNetns(ns: string): string[] {
  return ["nsenter", `--net=/run/netns/${ns}`, "--"];
}

function which(program: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      if (Deno.statSync(join(dir, program)).isFile) return join(dir, program);
    } catch { /* keep looking */ }
  }
  return null;
}

async function skipReason(): Promise<string | null> {
  if (Deno.uid() !== 0) return "podman cannot run here: needs root (TUN, namespaces, --privileged)";
  const missing = ["podman", "runc", "ip", "nsenter"].filter((p) => !which(p));
  if (missing.length > 0) {
    return `podman cannot run here: missing ${missing.join(", ")} ` +
      "(apt-get install podman runc iproute2 util-linux)";
  }
  const info = await exec(podman(["info", "--format", "{{.Host.OCIRuntime.Name}}"]), {
    timeoutMs: 60_000,
  });
  if (info.code !== 0) return `podman cannot run here: podman info failed: ${info.stderr.trim()}`;
  if (!labAvailable()) return "the lab needs nats-server (apt-get install nats-server)";
  return null;
}

const skip = await skipReason();
if (skip) console.error(`container_test: skipped: ${skip}`);

async function imageExists(ref: string): Promise<boolean> {
  return (await exec(podman(["image", "exists", ref]))).code === 0;
}

/**
 * Makes sure `debian:bookworm-slim` is in podman's storage: already there, imported from the
 * cached tarball, or made by container/debian-base.sh (then cached). Concurrent runs wait on a
 * lock file holding the pid of the run that makes it. Returns where it came from.
 */
async function ensureBaseImage(): Promise<string> {
  if (await imageExists(BASE_IMAGE)) return "present";
  await Deno.mkdir(CACHE, { recursive: true });
  const lock = join(CACHE, "base.lock");
  for (let i = 0;; i++) {
    try {
      await Deno.writeTextFile(lock, String(Deno.pid), { createNew: true });
      break;
    } catch {
      // Held by another run; taken over when that process is gone (a killed run).
      const holder = await Deno.readTextFile(lock).catch(() => "");
      const alive = holder !== "" &&
        await Deno.stat(`/proc/${holder}`).then(() => true, () => false);
      if (!alive && holder !== "") await Deno.remove(lock).catch(() => {});
      if (i > 900) throw new Error(`${lock} held for 15 minutes by process ${holder}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (await imageExists(BASE_IMAGE)) return "present";
    let made = "cached tarball";
    try {
      await Deno.stat(BASE_TAR);
    } catch {
      if (!which("debootstrap")) {
        throw new Error(
          `no ${BASE_IMAGE} in podman's storage, no ${BASE_TAR}, and no debootstrap to make ` +
            "one (apt-get install debootstrap)",
        );
      }
      await check(["sh", join(REPO, "container/debian-base.sh"), BASE_TAR], {
        timeoutMs: 600_000,
      });
      made = "debootstrap";
    }
    await check(
      podman([
        "import",
        "--change",
        'CMD ["bash"]',
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        BASE_TAR,
        BASE_IMAGE,
      ]),
      { timeoutMs: 300_000 },
    );
    return made;
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}

/** The CA bundle this host trusts (handed to the build's downloads as the `build_ca` secret). */
function hostCaBundle(): string | null {
  for (
    const f of [
      Deno.env.get("NODE_EXTRA_CA_CERTS"),
      Deno.env.get("SSL_CERT_FILE"),
      "/etc/ssl/certs/ca-certificates.crt",
    ]
  ) {
    if (!f) continue;
    try {
      if (Deno.statSync(f).isFile) return f;
    } catch { /* next */ }
  }
  return null;
}

/** The node's /info inside container `name` (`podman exec … veilnet-conflux info --json`). */
async function containerInfo(name: string, ns: string): Promise<NodeInfo | null> {
  const r = await exec(podman(["exec", name, "veilnet-conflux", "info", "--json"], ns));
  if (r.code !== 0) return null;
  return JSON.parse(r.stdout) as NodeInfo;
}

/** Waits until the node in container `name` answers `info`, and returns what it says. */
async function waitForNode(name: string, ns: string, timeoutMs = 90_000): Promise<NodeInfo> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = await containerInfo(name, ns);
    if (info) return info;
    const state = await exec(podman(["inspect", "--format", "{{.State.Status}}", name], ns));
    if (state.code === 0 && !["running", "created", "configured"].includes(state.stdout.trim())) {
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const logs = await exec(podman(["logs", name], ns));
  throw new Error(`the node in ${name} never answered info:\n${(logs.stdout + logs.stderr)}`);
}

/** Polls `f` once a second until it returns a value that is not undefined. */
async function eventually<T>(
  what: string,
  f: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** What namespace `ns` has of the node's leftovers: its TUN, its nftables table, ip_forward. */
async function hostState(ns: string): Promise<{ tun: boolean; nft: string[]; forward: string }> {
  const link = await exec(["ip", "-n", ns, "link", "show", "dev", TUN]);
  const tables = await check(["ip", "netns", "exec", ns, "nft", "list", "tables"]);
  const forward = await check(["ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward"]);
  return {
    tun: link.code === 0,
    nft: tables.stdout.split("\n").map((l) => l.trim()).filter((l) => l.includes("veilnet")),
    forward: forward.stdout.trim(),
  };
}

Deno.test({
  name: "container: the image built with podman runs a conflux from env vars; compose runs it too",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const started = Date.now();
    const id = `${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
    const image = `localhost/veilnet-conflux-test:${id}`;
    const runName = `vnc-test-run-${id}`;
    const composeName = `vnc-test-compose-${id}`;
    const composeProject = `vnctest${id.replace(/[^a-z0-9]/g, "")}`;
    const work = await Deno.makeTempDir({ prefix: "veilnet-container-test-" });
    const apiSocket = join(work, "podman.sock");
    let lab: Lab | undefined;
    let api: Proc | undefined;
    const composeArgs = [
      "docker-compose",
      "-p",
      composeProject,
      "-f",
      "docker-compose.yml",
      "-f",
      "docker-compose.test.yml",
    ];
    const composeEnv = { DOCKER_HOST: `unix://${apiSocket}`, NO_COLOR: "1" };
    try {
      if (
        !await t.step("base image debian:bookworm-slim", async () => {
          const how = await ensureBaseImage();
          console.log(`base image: ${how}`);
        })
      ) return;

      if (
        !await t.step("podman build", async () => {
          const rev = await exec(["git", "-C", REPO, "rev-parse", "HEAD"]);
          const ca = hostCaBundle();
          const t0 = Date.now();
          await check(
            podman([
              "build",
              "--format",
              "docker",
              "--network",
              "host",
              "--pull=never",
              "--layers=false",
              ...ULIMITS,
              ...(ca ? ["--secret", `id=build_ca,src=${ca}`] : []),
              "--build-arg",
              `REVISION=${rev.code === 0 ? rev.stdout.trim() : "unknown"}`,
              "-t",
              image,
              REPO,
            ]),
            { timeoutMs: 480_000 },
          );
          const [inspect] = JSON.parse(
            (await check(podman(["image", "inspect", image]))).stdout,
          ) as Array<Record<string, unknown>>;
          const config = inspect.Config as Record<string, unknown>;
          const labels = config.Labels as Record<string, string>;
          assert.equal(labels["org.opencontainers.image.title"], "VeilNet Conflux");
          assert.equal(labels["org.opencontainers.image.version"], VERSION);
          if (rev.code === 0) {
            assert.equal(labels["org.opencontainers.image.revision"], rev.stdout.trim());
          }
          const health = inspect.Healthcheck as { Test: string[] } | null;
          assert.ok(
            health && health.Test.join(" ").includes("veilnet-conflux info"),
            "HEALTHCHECK",
          );
          assert.deepEqual(config.Cmd, ["run"]);
          assert.equal(config.StopSignal, "SIGTERM");
          // One base image: the final image's first layer is the base's only layer.
          const [base] = JSON.parse((await check(podman(["image", "inspect", BASE_IMAGE]))).stdout);
          const layers = (inspect.RootFS as { Layers: string[] }).Layers;
          assert.equal(layers[0], base.RootFS.Layers[0]);
          // No compiler, and the program runs from the build-time cache without any network.
          const probe = await check(
            podman([
              "run",
              "--rm",
              ...ULIMITS,
              "--network",
              "none",
              "--entrypoint",
              "sh",
              image,
              "-c",
              "for c in cc gcc clang tcc; do command -v $c && exit 1; done; " +
              "ls /opt/veilnet-conflux/lib; veilnet-conflux version",
            ]),
          );
          assert.match(probe.stdout, /libtun-[0-9a-f]{16}\.so/);
          assert.match(probe.stdout, /libaesgcm-[0-9a-f]{16}\.so/);
          assert.match(probe.stdout, /libudp-[0-9a-f]{16}\.so/);
          assert.ok(probe.stdout.includes(`veilnet-conflux ${VERSION}`), probe.stdout);
          const mb = (Number(inspect.Size) / 1e6).toFixed(0);
          console.log(`image built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${mb} MB`);
        })
      ) return;

      lab = await createLab({ nodes: 2, prefix: "vnct", echo: Deno.env.get("LAB_ECHO") === "1" });
      const ctrNs = lab.namespaces[1];
      // The Guardian approves the LAN the container serves as portal (a realm policy).
      await lab.startServices({ autoApprove: [LAN] });
      await lab.createTeam("dev");
      const host = await lab.register("host-side", ["dev"]);
      const ctr = await lab.register("in-container", ["dev"]);
      await lab.startNode(0, host);
      await lab.addLan(1, LAN_GATEWAY, LAN_HOST);
      const before = await hostState(ctrNs);
      assert.equal(before.tun, false);

      if (
        !await t.step("podman run: env only, ping both ways, portal, healthcheck", async () => {
          await check(podman([
            "run",
            "-d",
            "--name",
            runName,
            "--privileged",
            "--network",
            "host",
            ...ULIMITS,
            "-e",
            `VEILNET_CONFLUX_TOKEN=${ctr.token}`,
            "-e",
            `VEILNET_GUARDIAN=${GUARDIAN_URL}`,
            "-e",
            "VEILNET_PORTAL=true",
            image,
          ], ctrNs));
          const info = await waitForNode(runName, ctrNs);
          assert.equal(info.overlay_ip, ctr.overlayIp);
          assert.equal(info.conflux_id, ctr.confluxId);
          assert.equal(info.portal, true);
          assert.deepEqual(info.teams, ["dev"]);
          // The TUN, the portal's masquerade and forwarding are in the namespace the container
          // shares (--network host).
          const running = await hostState(ctrNs);
          assert.equal(running.tun, true);
          assert.deepEqual(running.nft, [`table ip ${natTableName(TUN)}`]);
          assert.equal(running.forward, "1");

          assert.ok(await lab!.reachable(0, ctr.overlayIp, 40_000), "host side never reached it");
          const there = await lab!.ping(0, ctr.overlayIp, { count: 3 });
          assert.ok(there.received >= 2, there.output);
          assert.ok(await lab!.reachable(1, host.overlayIp, 40_000), "it never reached host side");
          const back = await lab!.ping(1, host.overlayIp, { count: 3 });
          assert.ok(back.received >= 2, back.output);
          const seen = await eventually(
            "a stream to the host side in the container's info",
            async () => {
              const i = await containerInfo(runName, ctrNs);
              return i?.streams.some((s) => s.peer === host.confluxId) ? i : undefined;
            },
          );
          assert.ok(seen.tethers.some((x) => x.peer === host.confluxId), JSON.stringify(seen));
          // Through the container, as portal, to a LAN host that has no route to the overlay.
          assert.ok(await lab!.reachable(0, LAN_HOST, 60_000), "the LAN behind the container");
          const lanInfo = await containerInfo(runName, ctrNs);
          assert.ok(lanInfo?.portals?.serving.includes(LAN), JSON.stringify(lanInfo?.portals));

          const text = await check(podman(["exec", runName, "veilnet-conflux", "info"], ctrNs));
          assert.ok(text.stdout.includes(ctr.overlayIp), text.stdout);
          const health = await exec(podman(["healthcheck", "run", runName], ctrNs));
          assert.equal(health.code, 0, `healthcheck: ${health.stdout}${health.stderr}`);
        })
      ) return;

      if (
        !await t.step(
          "podman stop: SIGTERM ends the node cleanly; nothing left behind",
          async () => {
            const t0 = Date.now();
            await check(podman(["stop", "--time", "5", runName], ctrNs), { timeoutMs: 60_000 });
            console.log(`podman stop took ${Date.now() - t0} ms`);
            const code = await check(
              podman(["inspect", "--format", "{{.State.ExitCode}}", runName], ctrNs),
            );
            const logs = await exec(podman(["logs", runName], ctrNs));
            const log = logs.stdout + logs.stderr;
            // 137 would mean SIGKILL after the 5 s grace.
            assert.equal(code.stdout.trim(), "0", log.slice(-3000));
            assert.match(log, /node stopped/);
            assert.ok(!log.includes(ctr.token), "the token never reaches the log");
            const after = await hostState(ctrNs);
            assert.equal(after.tun, false, `${TUN} left behind`);
            assert.deepEqual(after.nft, [], "nftables table left behind");
            assert.equal(after.forward, before.forward, "ip_forward not restored");
            await check(podman(["rm", runName], ctrNs));
          },
        )
      ) return;

      await t.step(
        "docker-compose.yml with the seed's .env (docker-compose → podman)",
        async () => {
          if (!which("docker-compose")) {
            throw new Error("docker-compose is missing (apt-get install docker-compose)");
          }
          const dir = join(work, "compose");
          await Deno.mkdir(dir);
          await Deno.copyFile(join(REPO, "docker-compose.yml"), join(dir, "docker-compose.yml"));
          // The example .env with this lab's values, nothing else.
          const example = await Deno.readTextFile(join(REPO, ".env.example"));
          const values: Record<string, string> = {
            VEILNET_CONFLUX_TOKEN: ctr.token,
            VEILNET_GUARDIAN: GUARDIAN_URL,
            VEILNET_PORTAL: "false",
          };
          const env = example.split("\n").map((l) => {
            const m = /^([A-Z_]+)=/.exec(l);
            return m && m[1] in values ? `${m[1]}=${values[m[1]]}` : l;
          }).join("\n");
          for (const k of Object.keys(values)) assert.match(env, new RegExp(`^${k}=`, "m"));
          await Deno.writeTextFile(join(dir, ".env"), env);
          await Deno.writeTextFile(
            join(dir, "docker-compose.test.yml"),
            `services:\n  veilnet-conflux:\n    image: ${image}\n    container_name: ${composeName}\n`,
          );
          // The compose file as Compose reads it (the seed's file alone).
          const config = await check(["docker-compose", "-p", composeProject, "config"], {
            cwd: dir,
          });
          for (
            const line of [
              "image: veilnet/conflux:beta",
              "network_mode: host",
              "privileged: true",
              "restart: unless-stopped",
              `VEILNET_CONFLUX_TOKEN: ${ctr.token}`,
            ]
          ) assert.ok(config.stdout.includes(line), `${line}:\n${config.stdout}`);

          // podman's Docker API in the container's namespace, with this machine's runtime flags.
          const conf = join(work, "containers.conf");
          await Deno.writeTextFile(
            conf,
            '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n' +
              '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
          );
          api = new Proc("podman-api", [
            ...inNetns(ctrNs),
            "podman",
            "system",
            "service",
            "--time=0",
            `unix://${apiSocket}`,
          ], { env: { CONTAINERS_CONF: conf } });
          await eventually("podman's API socket", async () => {
            try {
              return (await Deno.stat(apiSocket)).isSocket ? true : undefined;
            } catch {
              return undefined;
            }
          }, 30_000);

          await check([...composeArgs, "up", "-d"], { cwd: dir, env: composeEnv });
          const info = await waitForNode(composeName, ctrNs);
          assert.equal(info.overlay_ip, ctr.overlayIp);
          assert.equal(info.portal, false);
          const inspect = await check(podman([
            "inspect",
            "--format",
            "{{.HostConfig.NetworkMode}} {{.HostConfig.Privileged}} {{.HostConfig.RestartPolicy.Name}}",
            composeName,
          ], ctrNs));
          assert.equal(inspect.stdout.trim(), "host true unless-stopped");
          assert.ok(await lab!.reachable(0, ctr.overlayIp, 40_000), "host side → compose");
          assert.ok(await lab!.reachable(1, host.overlayIp, 40_000), "compose → host side");
          // `docker exec veilnet-conflux veilnet-conflux info` (podman's CLI: an exec through the API
          // leaves its conmon waiting 5 minutes after the container is gone).
          const exe = await check(
            podman(["exec", composeName, "veilnet-conflux", "info"], ctrNs),
          );
          assert.ok(exe.stdout.includes(ctr.overlayIp), exe.stdout);
          const logs = await check([...composeArgs, "logs", "--no-color"], {
            cwd: dir,
            env: composeEnv,
          });
          assert.match(logs.stdout, /node running/);
          await check([...composeArgs, "down", "-t", "5"], {
            cwd: dir,
            env: composeEnv,
            timeoutMs: 60_000,
          });
          const gone = await exec(podman(["container", "exists", composeName], ctrNs));
          assert.notEqual(gone.code, 0, "compose down left the container");
          const after = await hostState(ctrNs);
          assert.equal(after.tun, false, `${TUN} left behind`);
        },
      );
      console.log(`container test: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      for (const name of [runName, composeName]) {
        await exec(podman(["rm", "-f", "-t", "1", name], lab?.namespaces[1]));
      }
      await api?.stop();
      await exec(podman(["rmi", "-f", image]));
      if (lab) {
        await lab.close();
        const left = await namespacesOf(lab.id);
        assert.deepEqual(left, [], "namespaces left behind");
      }
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
