/**
 * `deno task demo`: a three-node VeilNet overlay on this machine.
 *
 * Installs what it lacks (nats-server, iperf3, nftables from Debian), builds three network
 * namespaces joined by a bridge on 198.18.0.0/24 (node2 also gets a LAN namespace behind it),
 * starts nats-server and a Guardian in a hub namespace,
 * creates a user, a realm, a team and registration tokens through the Guardian API, registers
 * three nodes with the CLI in `--debug` foreground mode (separate `--config-dir`s), then shows
 * ping between overlay addresses, a short iperf3 run, the owner approving node2's LAN (a portal's
 * networks need approval), node0 reaching a host on that LAN through node2 in portal mode, and
 * `info` of node0. Everything is torn down at the end, on error, and on
 * Ctrl-C. `--verbose` echoes every process's log.
 *
 * @module
 */
import { join } from "node:path";
import { type CommandResult, createLab, type Lab, Proc, run } from "./lab.ts";
import { NODE_V8_FLAGS } from "../core/node/options.ts";

const REPO = new URL("..", import.meta.url).pathname;
const verbose = Deno.args.includes("--verbose");
const NODES = 3;
/** node2 runs in portal mode and has this LAN behind it (its own namespace, no other route). */
const PORTAL = 2;
const LAN = { net: "198.19.77.0/24", gateway: "198.19.77.1", host: "198.19.77.2" };

function step(text: string): void {
  console.log(`\n==> ${text}`);
}

function detail(text: string): void {
  console.log(`    ${text}`);
}

async function has(bin: string): Promise<boolean> {
  const r = await run(["sh", "-c", `command -v ${bin}`], { check: false });
  return r.code === 0;
}

async function ensurePackages(): Promise<void> {
  const missing: string[] = [];
  if (!(await has("nats-server"))) missing.push("nats-server");
  if (!(await has("iperf3"))) missing.push("iperf3");
  if (!(await has("ping"))) missing.push("iputils-ping");
  if (!(await has("ip"))) missing.push("iproute2");
  if (!(await has("nft"))) missing.push("nftables"); // the portal's masquerade
  if (missing.length === 0) {
    detail("nats-server, iperf3, ping, ip and nft are installed");
    return;
  }
  detail(`installing ${missing.join(", ")} with apt-get`);
  await run(["apt-get", "update", "-q"], { check: false });
  const r = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-q", "--no-install-recommends", ...missing],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    throw new Error(`apt-get install failed: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

function cli(lab: Lab, i: number, args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    `--v8-flags=${NODE_V8_FLAGS}`,
    join(REPO, "main.ts"),
    ...args,
    "--config-dir",
    lab.configDir(i),
  ];
}

async function main(): Promise<void> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) {
    console.error("the demo needs Linux and root (network namespaces and TUN devices)");
    Deno.exit(1);
  }
  const started = Date.now();
  step("Checking system packages");
  await ensurePackages();

  step(`Creating ${NODES} network namespaces and a hub on 198.18.0.0/24`);
  const lab = await createLab({ nodes: NODES, echo: verbose, prefix: "vndemo" });
  let stopping = false;
  const teardown = async () => {
    if (stopping) return;
    stopping = true;
    step("Tearing down (processes, namespaces, files)");
    await lab.close();
    detail("done");
  };
  const onSignal = () => {
    console.log("\ninterrupted");
    teardown().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    detail(`hub ${lab.hub}; nodes ${lab.namespaces.join(", ")}`);
    const lan = await lab.addLan(PORTAL, LAN.gateway, LAN.host);
    detail(`node${PORTAL} also has a LAN ${LAN.net} (namespace ${lan}, host ${LAN.host})`);

    step("Starting nats-server (the Master) and a Guardian in the hub namespace");
    await lab.startServices();
    detail(`Guardian http://198.18.0.1:8080, NATS nats://198.18.0.1:4222, realm ${lab.realmId}`);

    step('Creating team "demo" and one registration token per node (Guardian API)');
    await lab.createTeam("demo");

    step(`Registering three nodes with the CLI: register --debug (node${PORTAL} with --portal)`);
    const procs: Proc[] = [];
    for (let i = 0; i < NODES; i++) {
      const token = await lab.registrationToken();
      await Deno.mkdir(lab.configDir(i), { recursive: true });
      const args = cli(lab, i, [
        "register",
        "--debug",
        "-t",
        token,
        "-g",
        "http://198.18.0.1:8080",
        "--teams",
        "demo",
        "--tag",
        `demo-node-${i}`,
        ...(i === PORTAL ? ["--portal"] : []),
      ]);
      procs.push(lab.spawn(`node${i}`, lab.namespaces[i], args));
    }
    const ips: string[] = [];
    for (let i = 0; i < NODES; i++) {
      await procs[i].waitFor(/node running/, 60_000);
      const info = await lab.info(i);
      ips.push(info.overlay_ip);
      detail(
        `node${i} in ${lab.namespaces[i]}: conflux ${info.conflux_id}, overlay ${info.overlay_ip}`,
      );
    }

    step("Ping between overlay addresses (first packet discovers, handshakes, tethers)");
    for (const [from, to] of [[0, 1], [1, 2], [2, 0]]) {
      const p = await lab.ping(from, ips[to], { count: 4, intervalS: 0.3, waitS: 2 });
      detail(
        `node${from} → node${to} (${ips[to]}): ${p.received}/4 replies, RTT ms ${
          p.rtts.map((r) => r.toFixed(2)).join(" ")
        }`,
      );
    }

    step("iperf3 TCP for 3 s: node0 → node1");
    const server = lab.spawn("iperf3", lab.namespaces[1], ["iperf3", "-s", "-1", "--forceflush"]);
    await server.waitFor(/Server listening/, 10_000);
    const client: CommandResult = await lab.exec(lab.namespaces[0], [
      "iperf3",
      "-c",
      ips[1],
      "-t",
      "3",
      "-J",
    ], { check: false });
    try {
      const r = JSON.parse(client.stdout);
      if (r.error) detail(`iperf3 failed: ${r.error}`);
      else {
        detail(
          `throughput ${(r.end.sum_received.bits_per_second / 1e6).toFixed(1)} Mbit/s, ` +
            `retransmits ${r.end.sum_sent.retransmits}`,
        );
      }
    } catch {
      detail(`iperf3 failed: ${client.stderr.trim() || client.stdout.trim()}`);
    }

    step(`Approving node${PORTAL}'s LAN ${LAN.net} (POST /conflux/subnets/approve)`);
    const portalId = (await lab.info(PORTAL)).conflux_id;
    const asked = await lab.portalSubnets(portalId);
    detail(`node${PORTAL} asks to serve ${(asked.advertised as string[]).join(", ")}`);
    const decided = await lab.approveSubnets(portalId, [LAN.net]);
    detail(
      `certified now: ${(decided.certified as string[]).join(", ")}; still pending: ${
        (decided.pending as string[]).join(", ") || "none"
      }`,
    );

    step(`Portal mode: node0 reaches ${LAN.host} on node${PORTAL}'s LAN through node${PORTAL}`);
    const routed = await waitFor(async () => {
      const r = await lab.exec(lab.namespaces[0], ["ip", "-4", "route", "show", LAN.net]);
      return r.stdout.includes("veilnet0") ? r.stdout.trim() : null;
    }, 30_000);
    detail(routed ? `node0 routes ${routed}` : `node0 never got a route to ${LAN.net}`);
    if (routed && await lab.reachable(0, LAN.host, 20_000)) {
      const p = await lab.ping(0, LAN.host, { count: 4, intervalS: 0.3, waitS: 2 });
      detail(
        `node0 → ${LAN.host} (LAN host, no overlay of its own): ${p.received}/4 replies, RTT ms ${
          p.rtts.map((r) => r.toFixed(2)).join(" ")
        }`,
      );
    } else detail(`node0 cannot reach ${LAN.host}`);

    step("veilnet-conflux info (node0)");
    const info = await lab.exec(lab.namespaces[0], cli(lab, 0, ["info"]), { check: false });
    for (const line of (info.stdout || info.stderr).trimEnd().split("\n")) detail(line);

    console.log(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  } catch (e) {
    console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    await teardown();
    Deno.exit(1);
  }
  await teardown();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}

/** Polls `check` until it returns a value or `timeoutMs` passes (then null). */
async function waitFor<T>(check: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

if (import.meta.main) await main();
