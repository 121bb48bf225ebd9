/**
 * Profiled tunnel run (root): V8 CPU profiles of the sender, the receiver and (relayed) the relay
 * node while one iperf3 TCP stream runs through the tunnel, plus what bench/profile_summary.ts
 * needs to turn them into microseconds per packet: the iperf3 window on the profiles' clock
 * (CLOCK_MONOTONIC, read from /proc/uptime) and each node's packet counters before and after.
 *
 *   deno run -A bench/tunnel_profile.ts --out DIR [--seconds 5] [--engine libdatachannel]
 *     [--no-relay] [--no-direct] [--perf]
 *   deno run -A bench/profile_summary.ts DIR
 *
 * Writes DIR/{direct,relayed}-{sender,relay,receiver}.cpuprofile and DIR/runs.json; with
 * `--perf` also DIR/…perf.data, a Linux `perf record` of each node process over the same window,
 * which sees inside native code (libdatachannel's SCTP and DTLS, libcrypto, the kernel) where the
 * V8 profile only sees the JS function that called it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLab, type Lab, type LabConflux } from "../demo/lab.ts";
import type { NodeStats } from "../core/node/status_server.ts";

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    seconds: { type: "string", default: "5" },
    engine: { type: "string", default: "libdatachannel" },
    "no-relay": { type: "boolean", default: false },
    "no-direct": { type: "boolean", default: false },
    perf: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const engine = values.engine!;

/** One profiled node of a run. */
export interface ProfiledNode {
  role: "sender" | "relay" | "receiver";
  profile: string;
  /** `perf record` file (with --perf). */
  perf?: string;
  /** Per thread name, over the window: ns on a CPU and ns runnable but waiting for one. */
  threads?: ThreadTimes[];
  statsBefore: NodeStats | null;
  statsAfter: NodeStats | null;
}

/** Scheduler times of the threads of one name (/proc/PID/task/TID/schedstat). */
export interface ThreadTimes {
  thread: string;
  /** How many threads have this name. */
  count: number;
  /** Time on a CPU. */
  cpuNs: number;
  /** Time runnable in a run queue (waiting for a CPU). */
  waitNs: number;
}

/** Reads schedstat of every thread of `pid`, keyed by thread id. */
function schedstat(pid: number): Map<string, { thread: string; cpu: number; wait: number }> {
  const out = new Map<string, { thread: string; cpu: number; wait: number }>();
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const [cpu, wait] = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`)
          .split(" ").map(Number);
        // The main isolate runs on the process's first thread; Deno names other threads "deno" too.
        const thread = t.name === String(pid)
          ? "main isolate"
          : Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim();
        out.set(t.name, { thread, cpu, wait });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return out;
}

/** Per-name deltas between two schedstat readings (threads born in between count from 0). */
function threadDeltas(
  before: ReturnType<typeof schedstat>,
  after: ReturnType<typeof schedstat>,
): ThreadTimes[] {
  const by = new Map<string, ThreadTimes>();
  for (const [tid, a] of after) {
    const b = before.get(tid);
    const e = by.get(a.thread) ?? { thread: a.thread, count: 0, cpuNs: 0, waitNs: 0 };
    e.count++;
    e.cpuNs += a.cpu - (b?.cpu ?? 0);
    e.waitNs += a.wait - (b?.wait ?? 0);
    by.set(a.thread, e);
  }
  return [...by.values()].sort((x, y) => y.cpuNs - x.cpuNs);
}

/** One profiled iperf3 run, as written to runs.json. */
export interface ProfiledRun {
  name: "direct" | "relayed";
  engine: string;
  /** iperf3 window on the CPU profiles' clock, seconds. */
  windowStart: number;
  windowEnd: number;
  iperfBytes: number | null;
  iperfMbps: number | null;
  nodes: ProfiledNode[];
}

function progress(text: string): void {
  console.error(`tunnel profile: ${text}`);
}

/** CLOCK_MONOTONIC in seconds (V8 CPU profile timestamps are the same clock in µs). */
function monotonic(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
}

async function stats(lab: Lab, i: number): Promise<NodeStats | null> {
  try {
    return (await lab.info(i)).stats ?? null;
  } catch {
    return null;
  }
}

async function profiledIperf(
  lab: Lab,
  name: ProfiledRun["name"],
  nodes: { index: number; role: ProfiledNode["role"]; pid: number }[],
  target: string,
  out: string,
): Promise<ProfiledRun> {
  const server = lab.spawn(`iperf3-s-${name}`, lab.namespaces[nodes[nodes.length - 1].index], [
    "iperf3",
    "-s",
    "-1",
    "--forceflush",
    "-B",
    target,
  ]);
  await server.waitFor(/Server listening/, 10_000);
  const before = await Promise.all(nodes.map((n) => stats(lab, n.index)));
  const perfFile = (role: string) => `${name}-${role}.perf.data`;
  const perfs: Deno.ChildProcess[] = [];
  for (const n of values.perf ? nodes : []) {
    const args = ["record", "-g", "-F", "999", "-p", String(n.pid), "-o"];
    try {
      args.push(`${out}/${perfFile(n.role)}`);
      perfs.push(new Deno.Command("perf", { args, stdout: "null", stderr: "null" }).spawn());
    } catch (e) {
      // Debian package linux-perf; the run goes on without it.
      progress(`perf unavailable (${e instanceof Error ? e.message : e}), no perf data`);
      break;
    }
  }
  const schedBefore = nodes.map((n) => schedstat(n.pid));
  const windowStart = monotonic();
  const r = await lab.exec(lab.namespaces[nodes[0].index], [
    "iperf3",
    "-c",
    target,
    "-t",
    String(seconds),
    "-J",
  ], { check: false });
  const windowEnd = monotonic();
  const schedAfter = nodes.map((n) => schedstat(n.pid));
  for (const p of perfs) p.kill("SIGINT");
  await Promise.all(perfs.map((p) => p.status));
  const after = await Promise.all(nodes.map((n) => stats(lab, n.index)));
  await server.stop();
  let iperfBytes: number | null = null;
  let iperfMbps: number | null = null;
  try {
    const j = JSON.parse(r.stdout);
    iperfBytes = j.end.sum_received.bytes;
    iperfMbps = Math.round(j.end.sum_received.bits_per_second / 1e5) / 10;
  } catch {
    progress(`${name}: iperf3 failed: ${r.stderr.trim()}`);
  }
  progress(`${name}: ${iperfMbps} Mbit/s`);
  return {
    name,
    engine,
    windowStart,
    windowEnd,
    iperfBytes,
    iperfMbps,
    nodes: nodes.map((n, k) => ({
      role: n.role,
      profile: `${name}-${n.role}.cpuprofile`,
      perf: perfs.length === nodes.length ? perfFile(n.role) : undefined,
      threads: threadDeltas(schedBefore[k], schedAfter[k]),
      statsBefore: before[k],
      statsAfter: after[k],
    })),
  };
}

async function direct(lab: Lab, out: string): Promise<ProfiledRun> {
  await lab.createTeam("prof-direct");
  const a = await lab.register("prof-a", ["prof-direct"]);
  const b = await lab.register("prof-b", ["prof-direct"]);
  const env = (role: string) => ({ VEILNET_CPU_PROFILE: `${out}/direct-${role}.cpuprofile` });
  const procs = await Promise.all([
    lab.startNode(0, a, { rtc: engine, tun: "vnp0", env: env("sender") }),
    lab.startNode(1, b, { rtc: engine, tun: "vnp0", env: env("receiver") }),
  ]);
  try {
    if (!await lab.reachable(0, b.overlayIp)) throw new Error("direct path never came up");
    return await profiledIperf(
      lab,
      "direct",
      [
        { index: 0, role: "sender", pid: procs[0].child.pid },
        { index: 1, role: "receiver", pid: procs[1].child.pid },
      ],
      b.overlayIp,
      out,
    );
  } finally {
    // SIGTERM: demo/run_node.ts writes the profile on the way out.
    await Promise.all([lab.stopNode(0), lab.stopNode(1)]);
  }
}

async function relayed(lab: Lab, out: string): Promise<ProfiledRun> {
  await lab.createTeam("prof-relay");
  const h: LabConflux[] = [];
  for (const name of ["prof-h1", "prof-h2", "prof-h3"]) {
    h.push(await lab.register(name, ["prof-relay"]));
  }
  const roles = ["sender", "relay", "receiver"];
  const procs = await Promise.all(h.map((c, i) =>
    lab.startNode(i, c, {
      rtc: engine,
      tun: "vnpr",
      env: { VEILNET_CPU_PROFILE: `${out}/relayed-${roles[i]}.cpuprofile` },
    })
  ));
  try {
    await lab.reachable(1, h[2].overlayIp);
    await lab.reachable(1, h[0].overlayIp);
    if (!await lab.reachable(0, h[2].overlayIp, 45_000)) throw new Error("relayed path not up");
    return await profiledIperf(
      lab,
      "relayed",
      [
        { index: 0, role: "sender", pid: procs[0].child.pid },
        { index: 1, role: "relay", pid: procs[1].child.pid },
        { index: 2, role: "receiver", pid: procs[2].child.pid },
      ],
      h[2].overlayIp,
      out,
    );
  } finally {
    await Promise.all([0, 1, 2].map((i) => lab.stopNode(i)));
  }
}

if (import.meta.main) {
  if (!values.out) {
    console.error("usage: deno run -A bench/tunnel_profile.ts --out DIR [--seconds 5]");
    Deno.exit(2);
  }
  if (Deno.uid() !== 0) {
    console.error("tunnel profile needs root (network namespaces, TUN)");
    Deno.exit(1);
  }
  const out = await Deno.realPath(
    await Deno.mkdir(values.out, { recursive: true }).then(() => values.out!),
  );
  const lab = await createLab({ nodes: 3, prefix: "vnprof" });
  const runs: ProfiledRun[] = [];
  try {
    // Namespaces 0 and 2 cannot reach each other: the relayed run goes 0 → 1 → 2.
    await lab.exec(lab.namespaces[0], ["ip", "route", "add", "prohibit", `${lab.underlay(2)}/32`]);
    await lab.exec(lab.namespaces[2], ["ip", "route", "add", "prohibit", `${lab.underlay(0)}/32`]);
    await lab.startServices();
    if (!values["no-direct"]) runs.push(await direct(lab, out));
    if (!values["no-relay"]) runs.push(await relayed(lab, out));
  } finally {
    await lab.close();
  }
  await Deno.writeTextFile(`${out}/runs.json`, JSON.stringify(runs, null, 2));
  progress(`wrote ${out}/runs.json; next: deno run -A bench/profile_summary.ts ${out}`);
}
