/**
 * Scale lab (root, issue 17 item 2): N real nodes (processes of demo/run_node.ts) in network
 * namespaces on the lab's hub bridge, one Guardian and one nats-server, on a topology with
 * relay-only pairs; measures cold first pings, reachability, and then churn.
 *
 * Topology: node i belongs to site `i % 4`; hosts of sites s and s + 2 (mod 4) cannot reach each
 * other over the underlay (`ip route add prohibit` both ways, as bench/tunnel_bench.ts does), so
 * every pair across opposite sites (about a quarter of all pairs) must go through a relay (any
 * node of the other two sites). Every node relays (the default).
 *
 * Phases, each bounded in time (the whole run by `--max-seconds`):
 * 1. start: namespaces, services, N registrations, nodes in groups of `--group`, each answering
 *    `info` before the next group starts;
 * 2. cold: for `--pairs` sampled pairs (half relay-only), one after the other, the first ping of a
 *    new destination → its first reply (ping every 0.2 s until one answers; cold = (seq − 1) ×
 *    0.2 s + that reply's RTT);
 * 3. reachability of every sampled pair (3 pings), then an idle steady window of `--window` s:
 *    NATS messages (/varz), messages each node published (/connz, by conflux id), frames each
 *    node received on its tethers (`info` stats.frames_in: with no pings these are the routing
 *    agent's probes and reports and the lanes' probes), tether bytes, node RSS (VmRSS) and CPU
 *    (utime + stime from /proc/PID/stat); control messages per node per second = NATS messages
 *    published + tether frames received, per node;
 * 4. churn, while every sampled pair pings once every 0.5 s (`ping -D`, for gaps): `--churn` nodes
 *    stopped (SIGTERM) for 10 s and started again; the relay carrying most relay-only pairs
 *    killed (SIGKILL) and, after recovery, started again; nats-server stopped for `--nats-down` s
 *    and started again (nodes reconnect; fresh pairs then ping cold: discovery after the restart);
 * 5. final reachability of every sampled pair.
 *
 * Super cluster (`--clusters K`, issue 17 item 3): K one-server NATS clusters joined by gateways,
 * as `guardian init --cluster/--gateway` writes them (demo/lab.ts `natsClusters`), each server on
 * its own hub address; node i belongs to cluster `clusterOf(i)` (contiguous blocks, every site in
 * every cluster) and reaches only that cluster's server (`prohibit` routes to the others: the
 * session lists all servers, nats.js keeps the one it can reach). Sampled pairs are two thirds
 * cross-cluster (half of all relay-only), reported apart (`cross_reachable`,
 * `cross_first_ping_ms_p50`); relayed routes are counted by the clusters of pinger, relay and
 * destination (`relayed_cluster_paths`, e.g. "A-B-A": a pair of one cluster relayed by a node of
 * the other); the NATS restart of the churn is cluster c1's server only (its nodes reconnect, the
 * others keep their connections) and the fresh pairs after it mostly cross clusters.
 *
 * Progress and a Markdown table on stderr; the last line on stdout is one JSON object with
 * `nodes`, `reachable`, `first_ping_ms_p50`, `control_msgs_per_node_per_s`, `rss_mb_p50` and the
 * rest. Everything (namespaces, processes by PID, files) is removed at the end, on error and on
 * Ctrl-C / SIGTERM.
 *
 *   deno run -A bench/scale_bench.ts [--nodes 32] [--clusters 1] [--pairs N] [--group 4] [--window 30]
 *     [--churn K] [--nats-down 5] [--seed 1] [--max-seconds 600] [--rtc libdatachannel] [--echo]
 *     [--keep-logs DIR]
 *
 * `--keep-logs DIR` writes every process's output (nodes at debug level, nats-server, Guardian)
 * to DIR/NAME.K.log before the lab closes.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLab, HUB_IP, type Lab, type LabConflux, natsHost, type Proc } from "../demo/lab.ts";
import type { NodeInfo } from "../core/node/mod.ts";
import { percentile, rssMb, sh } from "./netns.ts";
import { nodePid } from "./node_pid.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "scale"),
  options: {
    nodes: { type: "string", default: "32" },
    clusters: { type: "string", default: "1" },
    pairs: { type: "string" },
    group: { type: "string", default: "4" },
    window: { type: "string", default: "30" },
    churn: { type: "string" },
    "nats-down": { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    "max-seconds": { type: "string", default: "600" },
    rtc: { type: "string", default: "libdatachannel" },
    echo: { type: "boolean", default: false },
    "keep-logs": { type: "string" },
  },
});

/** Sites of the topology: a host reaches every site but the opposite one directly. */
const SITES = 4;
/** nats-server monitoring port on the hub (inside the hub namespace only). */
const MONITOR_PORT = 8222;
/** Interval of the churn pingers (s). */
const PING_INTERVAL_S = 0.5;
/** Interval of the cold pings (s). */
const COLD_INTERVAL_S = 0.2;
/** Longest wait for one cold first reply (s). */
const COLD_WAIT_S = 30;
/** How long stopped nodes stay down (ms). */
const STOP_HOLD_MS = 10_000;
/** Longest wait for recovery after an event (ms). */
const RECOVERY_WAIT_MS = 30_000;
/** Most fresh pairs pinged cold after the NATS restart. */
const FRESH_PAIRS = 8;

const nodes = Number(values.nodes);
const clusterCount = Number(values.clusters);
const group = Number(values.group);
const windowS = Number(values.window);
const natsDownS = Number(values["nats-down"]);
const maxSeconds = Number(values["max-seconds"]);
const seed = Number(values.seed);
const pairCount = Number(values.pairs ?? Math.min(nodes, 48));
const churnCount = Number(values.churn ?? Math.max(1, Math.round(nodes / 10)));
const started = Date.now();
const deadline = started + maxSeconds * 1000;

function progress(text: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1);
  console.error(`scale bench [${s} s]: ${text}`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number | null, d = 2) => x === null ? null : Math.round(x * 10 ** d) / 10 ** d;
const p50 = (xs: number[]) => percentile(xs, 0.5);
const max = (xs: number[]) => xs.length ? Math.max(...xs) : null;

/** Throws when the run's time budget is spent (every phase checks it). */
function checkTime(what: string): void {
  if (Date.now() > deadline) throw new Error(`time budget (${maxSeconds} s) spent at ${what}`);
}

/** mulberry32: a small seeded PRNG, so that a run's pairs can be repeated. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** True when hosts a and b have no underlay path (opposite sites). */
export function relayOnly(a: number, b: number): boolean {
  return (a % SITES + 2) % SITES === b % SITES;
}

/**
 * The NATS cluster of node `i` of `n` in a super cluster of `k` clusters: contiguous blocks of
 * nodes (0…n/k − 1 in cluster 0, and so on), so that every cluster holds every site when n is a
 * multiple of 4k, and relay-only pairs and their relays fall inside a cluster as well as across.
 */
export function clusterOf(i: number, n: number, k: number): number {
  return Math.min(k - 1, Math.floor(i * k / n));
}

/** A sampled pair: pings go from `a` to `b`. */
export interface Pair {
  a: number;
  b: number;
  relayOnly: boolean;
  /** The two ends connect to different NATS clusters (always false with one cluster). */
  crossCluster: boolean;
}

/**
 * The kinds of pair a super-cluster sample takes in turn, `[crossCluster, relayOnly]`: two thirds
 * cross the clusters, half are relay-only (so relay-only pairs across clusters are the largest
 * group, and relay-only pairs inside one cluster may still find their relay in the other).
 */
const CLUSTER_CYCLE: [boolean, boolean][] = [
  [true, true],
  [true, false],
  [false, true],
  [true, true],
  [true, false],
  [false, false],
];

/**
 * `count` distinct unordered pairs of `n` nodes, half relay-only (as far as there are), drawn with
 * `rand`, excluding `exclude` (keys "a-b" with a < b).
 */
export function samplePairs(
  n: number,
  count: number,
  rand: () => number,
  exclude = new Set<string>(),
  cluster: (i: number) => number = () => 0,
): Pair[] {
  const all: Pair[] = [];
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if (exclude.has(`${a}-${b}`)) continue;
      all.push({ a, b, relayOnly: relayOnly(a, b), crossCluster: cluster(a) !== cluster(b) });
    }
  }
  // Fisher–Yates, then take alternately from the relay-only and the direct pool (one cluster),
  // or in turn from the kinds of CLUSTER_CYCLE (a super cluster).
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  const pools = new Map<string, Pair[]>();
  for (const p of all) {
    const key = `${p.crossCluster}/${p.relayOnly}`;
    const list = pools.get(key);
    if (list) list.push(p);
    else pools.set(key, [p]);
  }
  const take = (cross: boolean, relayed: boolean) => pools.get(`${cross}/${relayed}`)?.shift();
  const superCluster = all.some((p) => p.crossCluster);
  const out: Pair[] = [];
  while (out.length < count) {
    let p: Pair | undefined;
    if (superCluster) {
      for (let t = 0; t < CLUSTER_CYCLE.length && !p; t++) {
        const [cross, relayed] = CLUSTER_CYCLE[(out.length + t) % CLUSTER_CYCLE.length];
        p = take(cross, relayed);
      }
    } else {
      const first = out.length % 2 === 0;
      p = take(false, first) ?? take(false, !first);
    }
    if (!p) break;
    // Alternate the direction so that every node pings as well as answers.
    out.push(rand() < 0.5 ? p : { ...p, a: p.b, b: p.a });
  }
  return out;
}

/** "a->b", marked when relay-only and when across clusters. */
function name(p: Pair): string {
  const marks = [p.relayOnly ? "relay-only" : "", p.crossCluster ? "cross-cluster" : ""];
  const m = marks.filter((x) => x).join(", ");
  return `${p.a}->${p.b}${m ? ` (${m})` : ""}`;
}

/**
 * The clusters of a relayed path a → relay → b as letters, A for a's cluster and B for the next
 * one met: "A-A-A" (all in one), "A-B-A" (a pair of one cluster through a relay of the other),
 * "A-A-B" and "A-B-B" (a pair across, relayed on a's or b's side).
 */
export function clusterPath(ca: number, cr: number, cb: number): string {
  const letters = new Map<number, string>();
  const letter = (c: number) => {
    if (!letters.has(c)) letters.set(c, String.fromCharCode(65 + letters.size));
    return letters.get(c)!;
  };
  return [ca, cr, cb].map(letter).join("-");
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

/** `lab.info(i)`, or null when the node does not answer within `ms`. */
async function infoOf(lab: Lab, i: number, ms = 5000): Promise<NodeInfo | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
  try {
    return await Promise.race([lab.info(i).catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** utime + stime of a process in seconds (/proc/PID/stat), null when it is gone. */
async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

let CLK_TCK = 100;

/** Busy and total CPU time of the whole host in seconds (/proc/stat "cpu" line). */
async function hostCpu(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  // user nice system idle iowait irq softirq steal (guest time is inside user).
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - f[3] - f[4]) / CLK_TCK, total: total / CLK_TCK };
}

/** The "some" avg10 of /proc/pressure/cpu (percent of time tasks waited for a CPU), or null. */
async function cpuPressure(): Promise<number | null> {
  try {
    const m = /some avg10=([\d.]+)/.exec(await Deno.readTextFile("/proc/pressure/cpu"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Hub address of nats-server `k` (the only one: HUB_IP; of a super cluster: natsHost(k)). */
function serverHost(k: number): string {
  return clusterCount > 1 ? natsHost(k) : HUB_IP;
}

/** JSON from the monitoring endpoint `path` of nats-server `k` (curl inside the hub). */
async function monitor(lab: Lab, path: string, k = 0): Promise<Record<string, unknown> | null> {
  const r = await lab.exec(lab.hub, [
    "curl",
    "-s",
    "-m",
    "5",
    `http://${serverHost(k)}:${MONITOR_PORT}${path}`,
  ], { check: false });
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

/**
 * Message counters summed over every nats-server (/varz; in a super cluster a message that
 * crosses a gateway counts at both servers), and the messages the servers sent to each other
 * over their outbound gateway connections (/gatewayz).
 */
interface Varz {
  at: number;
  inMsgs: number;
  outMsgs: number;
  gatewayMsgs: number;
}

async function varz(lab: Lab): Promise<Varz | null> {
  const out: Varz = { at: Date.now(), inMsgs: 0, outMsgs: 0, gatewayMsgs: 0 };
  for (let k = 0; k < clusterCount; k++) {
    const v = await monitor(lab, "/varz", k);
    if (!v) return null;
    out.inMsgs += Number(v.in_msgs);
    out.outMsgs += Number(v.out_msgs);
    if (clusterCount > 1) {
      const g = await monitor(lab, "/gatewayz", k);
      const outbound = (g?.outbound_gateways ?? {}) as Record<
        string,
        { connection?: { out_msgs?: number } }
      >;
      for (const gw of Object.values(outbound)) out.gatewayMsgs += gw.connection?.out_msgs ?? 0;
    }
  }
  return out;
}

/**
 * Messages each client published (its connection's in_msgs), by connection name (/connz of every
 * server), and the server each name is connected to.
 */
async function connz(
  lab: Lab,
): Promise<{ msgs: Map<string, number>; server: Map<string, number> }> {
  const msgs = new Map<string, number>();
  const server = new Map<string, number>();
  for (let k = 0; k < clusterCount; k++) {
    const c = await monitor(lab, "/connz?limit=4096", k);
    for (const conn of (c?.connections ?? []) as { name?: string; in_msgs?: number }[]) {
      if (!conn.name) continue;
      msgs.set(conn.name, (msgs.get(conn.name) ?? 0) + Number(conn.in_msgs ?? 0));
      server.set(conn.name, k);
    }
  }
  return { msgs, server };
}

/** One node of the lab. */
interface Node {
  i: number;
  conflux: LabConflux;
  proc?: Proc;
  pid?: number;
}

/** Starts node `n` and waits until it answers `info`; one retry when the start fails. */
async function startOne(lab: Lab, n: Node): Promise<void> {
  try {
    await startOnce(lab, n);
  } catch (e) {
    progress(`node ${n.i} did not start (${message(e).split("\n")[0]}): once more`);
    await lab.stopNode(n.i);
    await startOnce(lab, n);
  }
}

async function startOnce(lab: Lab, n: Node): Promise<void> {
  n.proc = await lab.startNode(n.i, n.conflux, { rtc: values.rtc, flags: ["--no-dns"] });
  n.pid = await nodePid(n.proc.child.pid);
  const by = Date.now() + 20_000;
  while (Date.now() < by) {
    if (await infoOf(lab, n.i, 3000)) return;
    await sleep(250);
  }
  throw new Error(`node ${n.i} runs but does not answer info`);
}

/** Starts `list` in groups of `group`. */
async function startGroups(lab: Lab, list: Node[]): Promise<void> {
  for (let g = 0; g < list.length; g += group) {
    checkTime("node start");
    const batch = list.slice(g, g + group);
    await Promise.all(batch.map((n) => startOne(lab, n)));
    progress(`nodes running: ${Math.min(g + group, list.length)}/${list.length}`);
  }
}

/**
 * Cold first ping a → b: ping every COLD_INTERVAL_S until one reply (at most COLD_WAIT_S);
 * the time from the first echo request sent to the first reply, or null.
 */
async function coldPing(
  lab: Lab,
  nodesList: Node[],
  p: Pair,
  waitS = COLD_WAIT_S,
): Promise<number | null> {
  const r = await lab.exec(lab.namespaces[p.a], [
    "ping",
    "-n",
    "-c",
    "1",
    "-i",
    String(COLD_INTERVAL_S),
    "-w",
    String(Math.max(1, Math.min(COLD_WAIT_S, Math.floor(waitS)))),
    nodesList[p.b].conflux.overlayIp,
  ], { check: false });
  const m = /icmp_seq=(\d+) .*time=([\d.]+) ms/.exec(r.stdout);
  if (!m) return null;
  return (Number(m[1]) - 1) * COLD_INTERVAL_S * 1000 + Number(m[2]);
}

/** True when a → b answers one of 3 pings; with the RTTs. */
async function check(lab: Lab, nodesList: Node[], p: Pair): Promise<number[]> {
  const r = await lab.ping(p.a, nodesList[p.b].conflux.overlayIp, {
    count: 3,
    intervalS: 0.2,
    waitS: 2,
  });
  return r.rtts;
}

/** Reply timestamps (s since the epoch) of a `ping -D` pinger. */
function replyTimes(proc: Proc): number[] {
  const out: number[] = [];
  for (const line of proc.lines) {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from/.exec(line);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/** A continuous pinger per pair (`ping -D`), bounded by `seconds`. */
function startPingers(lab: Lab, nodesList: Node[], pairs: Pair[], seconds: number): Proc[] {
  return pairs.map((p, k) =>
    lab.spawn(`ping${k}`, lab.namespaces[p.a], [
      "ping",
      "-n",
      "-D",
      "-i",
      String(PING_INTERVAL_S),
      "-W",
      "1",
      "-w",
      String(Math.ceil(seconds)),
      nodesList[p.b].conflux.overlayIp,
    ])
  );
}

/** First reply after `t` (s), or null. */
function firstAfter(times: number[], t: number): number | null {
  return times.find((x) => x > t) ?? null;
}

/**
 * Outage (ms) of a pinger in [from, to]: the longest time without a reply, counted from the last
 * reply before `from` (or `from`) to the next reply (or `to` when none came: a lower bound).
 */
export function outageMs(
  times: number[],
  from: number,
  to: number,
): { ms: number; recovered: boolean } {
  let last = from;
  for (const t of times) if (t <= from) last = t;
  let worst = 0;
  let recovered = true;
  for (const t of times) {
    if (t <= from) continue;
    if (t > to) break;
    worst = Math.max(worst, t - last);
    last = t;
  }
  if (to - last > worst) {
    worst = to - last;
    recovered = to - last <= 2 * PING_INTERVAL_S + 1;
  }
  // One interval between replies is no outage.
  return { ms: Math.max(0, (worst - PING_INTERVAL_S) * 1000), recovered };
}

/** True when pinger `times` had a reply in the 2.5 s before `t`: the pair worked then. */
function healthyAt(times: number[], t: number): boolean {
  return times.some((x) => x > t - 2.5 && x <= t);
}

/** An outage of at least two lost replies in a row counts as an interruption. */
const INTERRUPTED_MS = 2 * PING_INTERVAL_S * 1000;

/** Waits until every pinger in `idx` has a reply after `t` (s) or `ms` pass. */
async function waitReplies(pingers: Proc[], idx: number[], t: number, ms: number): Promise<void> {
  const by = Date.now() + ms;
  while (Date.now() < by) {
    if (idx.every((k) => firstAfter(replyTimes(pingers[k]), t) !== null)) return;
    await sleep(250);
  }
}

/** RSS (MB) and CPU seconds of every running node. */
async function sample(list: Node[]): Promise<{ rss: number[]; cpu: Map<number, number> }> {
  const rss: number[] = [];
  const cpu = new Map<number, number>();
  for (const n of list) {
    if (!n.pid) continue;
    const r = await rssMb(n.pid);
    const c = await cpuSeconds(n.pid);
    if (r !== null) rss.push(r);
    if (c !== null) cpu.set(n.i, c);
  }
  return { rss, cpu };
}

/** Per-node CPU (cores) between two samples over `seconds`. */
function cores(a: Map<number, number>, b: Map<number, number>, seconds: number): number[] {
  const out: number[] = [];
  for (const [i, c] of b) {
    const before = a.get(i);
    if (before !== undefined) out.push((c - before) / seconds);
  }
  return out;
}

/** NATS rates between two /varz samples. */
function natsRates(a: Varz | null, b: Varz | null, n: number) {
  if (!a || !b || b.at <= a.at) {
    return { in_per_s: null, out_per_s: null, per_node_per_s: null, gateway_per_s: null };
  }
  const s = (b.at - a.at) / 1000;
  const inRate = (b.inMsgs - a.inMsgs) / s;
  return {
    in_per_s: round(inRate),
    out_per_s: round((b.outMsgs - a.outMsgs) / s),
    per_node_per_s: round(inRate / n, 3),
    // A restarted server's counters start again from 0: no rate then.
    gateway_per_s: b.gatewayMsgs >= a.gatewayMsgs
      ? round((b.gatewayMsgs - a.gatewayMsgs) / s)
      : null,
  };
}

function loadavg(): number[] {
  return Deno.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** The whole run; returns the result object. */
async function bench(lab: Lab, result: Record<string, unknown>): Promise<void> {
  const rand = prng(seed);
  const cl = (i: number) => clusterOf(i, nodes, clusterCount);
  // Opposite sites: no underlay path, both ways (ip -batch per namespace). In a super cluster a
  // node reaches only its own cluster's nats-server: the session lists every server, nats.js
  // drops the ones it cannot reach at its first connect.
  for (let i = 0; i < nodes; i++) {
    const lines: string[] = [];
    for (let j = 0; j < nodes; j++) {
      if (relayOnly(i, j)) lines.push(`route add prohibit ${lab.underlay(j)}/32`);
    }
    for (let k = 0; k < clusterCount && clusterCount > 1; k++) {
      if (k !== cl(i)) lines.push(`route add prohibit ${natsHost(k)}/32`);
    }
    if (lines.length) {
      await sh(["ip", "-n", lab.namespaces[i], "-batch", "-"], { stdin: lines.join("\n") + "\n" });
    }
  }
  await lab.startServices({
    natsMonitorPort: MONITOR_PORT,
    ...(clusterCount > 1 ? { natsClusters: clusterCount } : {}),
  });
  progress(`services up (nats: ${lab.natsUrls.join(", ")})`);
  await lab.createTeam("scale");
  const list: Node[] = [];
  for (let i = 0; i < nodes; i++) {
    list.push({ i, conflux: await lab.register(`scale-${i}`, ["scale"]) });
  }
  const byId = new Map(list.map((n) => [n.conflux.confluxId, n]));
  const t0 = Date.now();
  await startGroups(lab, list);
  result.start_all_s = round((Date.now() - t0) / 1000, 1);
  const afterStart = await sample(list);
  result.rss_mb_after_start_p50 = round(p50(afterStart.rss), 1);
  if (clusterCount > 1) {
    // Which server each node's control connection is on (/connz by conflux id).
    const on = (await connz(lab)).server;
    const own = list.filter((n) => on.get(n.conflux.confluxId) === cl(n.i)).length;
    result.cluster_sizes = Array.from(
      { length: clusterCount },
      (_, k) => list.filter((n) => cl(n.i) === k).length,
    );
    result.nodes_on_own_cluster = round(own / nodes, 3);
    progress(`${own}/${nodes} nodes connected to their own cluster's nats-server`);
  }

  // Cold first pings, one pair after the other.
  const pairs = samplePairs(nodes, pairCount, rand, new Set(), cl);
  result.pairs = pairs.length;
  result.pairs_relay_only = pairs.filter((p) => p.relayOnly).length;
  const crossIdx = pairs.flatMap((p, k) => p.crossCluster ? [k] : []);
  if (clusterCount > 1) {
    result.cross_cluster_pairs = crossIdx.length;
    result.cross_cluster_relay_only_pairs = crossIdx.filter((k) => pairs[k].relayOnly).length;
  }
  const cold: (number | null)[] = [];
  // The cold phase has its own bound: 5 s a pair on average, at least 60 s.
  const coldBy = Date.now() + Math.max(60, 5 * pairs.length) * 1000;
  for (const p of pairs) {
    checkTime("cold pings");
    const ms = await coldPing(lab, list, p, (coldBy - Date.now()) / 1000);
    cold.push(ms);
    progress(`cold ${name(p)}: ${round(ms, 1)} ms`);
  }
  const coldOk = (rel: boolean) =>
    cold.filter((c, k) => c !== null && pairs[k].relayOnly === rel) as number[];
  result.first_ping_ms_p50 = round(p50(cold.filter((c) => c !== null) as number[]), 1);
  result.first_ping_ms_max = round(max(cold.filter((c) => c !== null) as number[]), 1);
  result.first_ping_direct_ms_p50 = round(p50(coldOk(false)), 1);
  result.first_ping_relayed_ms_p50 = round(p50(coldOk(true)), 1);
  result.first_ping_relayed_ms_max = round(max(coldOk(true)), 1);
  result.cold_answered = round(cold.filter((c) => c !== null).length / pairs.length, 3);
  if (clusterCount > 1) {
    const coldOf = (cross: boolean, rel?: boolean) =>
      cold.filter((c, k) =>
        c !== null && pairs[k].crossCluster === cross &&
        (rel === undefined || pairs[k].relayOnly === rel)
      ) as number[];
    result.cross_first_ping_ms_p50 = round(p50(coldOf(true)), 1);
    result.cross_first_ping_ms_max = round(max(coldOf(true)), 1);
    result.cross_first_ping_relayed_ms_p50 = round(p50(coldOf(true, true)), 1);
    result.same_cluster_first_ping_ms_p50 = round(p50(coldOf(false)), 1);
  }

  // Reachability, warm RTT.
  const warm = await pool(pairs, 8, (p) => check(lab, list, p));
  const reached = warm.filter((r) => r.length > 0).length;
  result.reachable = round(reached / pairs.length, 3);
  result.unreachable_pairs = pairs.filter((_, k) => warm[k].length === 0).map(name);
  result.rtt_ms_p50 = round(p50(warm.flatMap((r) => r)), 2);
  progress(`reachable ${reached}/${pairs.length}`);
  if (clusterCount > 1) {
    const crossOk = crossIdx.filter((k) => warm[k].length > 0).length;
    const same = pairs.length - crossIdx.length;
    result.cross_reachable = round(crossOk / Math.max(1, crossIdx.length), 3);
    result.same_cluster_reachable = round((reached - crossOk) / Math.max(1, same), 3);
    progress(`cross-cluster reachable ${crossOk}/${crossIdx.length}`);
  }

  // Paths and tethers now.
  const infos = await pool(list, 4, (n) => infoOf(lab, n.i));
  const relayUse = new Map<number, number>();
  const clusterPaths: Record<string, number> = {};
  let relayedRoutes = 0;
  pairs.forEach((p) => {
    const info = infos[p.a];
    const route = info?.routes.find((r) => r.destination === list[p.b].conflux.overlayIp);
    if (route?.next_hop && route.next_hop !== list[p.b].conflux.confluxId) {
      relayedRoutes++;
      const hop = byId.get(route.next_hop);
      if (hop) relayUse.set(hop.i, (relayUse.get(hop.i) ?? 0) + 1);
      if (hop && clusterCount > 1) {
        const key = clusterPath(cl(p.a), cl(hop.i), cl(p.b));
        clusterPaths[key] = (clusterPaths[key] ?? 0) + 1;
      }
    }
  });
  const tethers = infos.filter((x) => x).map((x) => x!.tethers.length);
  result.pairs_routed_via_relay = relayedRoutes;
  if (clusterCount > 1) {
    // Relayed routes by the clusters of pinger, relay and destination (see clusterPath).
    result.relayed_cluster_paths = clusterPaths;
    result.relayed_via_other_cluster = Object.entries(clusterPaths)
      .filter(([k]) => k !== "A-A-A").reduce((a, [, v]) => a + v, 0);
  }
  result.tethers_per_node_p50 = p50(tethers);
  result.tethers_per_node_max = max(tethers);

  // Idle steady window.
  checkTime("steady window");
  progress(`steady window ${windowS} s`);
  const t0Info = await pool(list, 4, (n) => infoOf(lab, n.i));
  const h0 = await hostCpu();
  const s0 = await sample(list);
  const v0 = await varz(lab);
  const c0 = await connz(lab);
  await sleep(windowS * 1000);
  const s1 = await sample(list);
  const h1 = await hostCpu();
  const pressure = await cpuPressure();
  const v1 = await varz(lab);
  const c1 = await connz(lab);
  const t1Info = await pool(list, 4, (n) => infoOf(lab, n.i));
  const secs = (v1 && v0) ? (v1.at - v0.at) / 1000 : windowS;
  const perNode = list.map((n) => {
    const id = n.conflux.confluxId;
    return ((c1.msgs.get(id) ?? 0) - (c0.msgs.get(id) ?? 0)) / secs;
  });
  // The routing agent's messages (probes, reports) and the lanes' probes travel on tethers as
  // frames: in the idle window (no pings) every frame a node receives is one of those.
  const framesPerNode = list.map((n) => {
    const a = t0Info[n.i]?.stats?.frames_in;
    const b = t1Info[n.i]?.stats?.frames_in;
    return a !== undefined && b !== undefined && b >= a ? (b - a) / secs : 0;
  });
  const natsPerNode = perNode.reduce((a, b) => a + b, 0) / nodes;
  const framesAvg = framesPerNode.reduce((a, b) => a + b, 0) / nodes;
  result.control_msgs_per_node_per_s = round(natsPerNode + framesAvg, 3);
  result.control_msgs_per_node_per_s_max = round(
    max(perNode.map((x, k) => x + framesPerNode[k])),
    3,
  );
  result.control_nats_msgs_per_node_per_s = round(natsPerNode, 3);
  result.control_tether_frames_per_node_per_s = round(framesAvg, 3);
  const steadyNats = natsRates(v0, v1, nodes);
  result.nats_msgs_in_per_s = steadyNats.in_per_s;
  result.nats_msgs_out_per_s = steadyNats.out_per_s;
  if (clusterCount > 1) result.gateway_msgs_per_s = steadyNats.gateway_per_s;
  // Idle tethers carry only the router's probes and reports, the tethers' own keepalives and
  // lane probes: bytes sent per node per second, over tethers open at both ends of the window.
  const tetherBytes = list.map((n) => {
    const before = new Map(t0Info[n.i]?.tethers.map((t) => [t.peer, t.bytes_sent]) ?? []);
    let sum = 0;
    for (const t of t1Info[n.i]?.tethers ?? []) {
      const b = before.get(t.peer);
      if (b !== undefined && t.bytes_sent >= b) sum += t.bytes_sent - b;
    }
    return sum / secs;
  });
  result.idle_tether_bytes_per_node_per_s_p50 = round(p50(tetherBytes), 0);
  result.idle_tether_bytes_per_node_per_s_max = round(max(tetherBytes), 0);
  result.rss_mb_p50 = round(p50(s1.rss), 1);
  result.rss_mb_max = round(max(s1.rss), 1);
  const steadyCores = cores(s0.cpu, s1.cpu, secs);
  result.cpu_cores_per_node_p50 = round(p50(steadyCores), 4);
  result.cpu_cores_per_node_max = round(max(steadyCores), 4);
  result.cpu_cores_all_nodes = round(steadyCores.reduce((a, b) => a + b, 0), 3);
  // The whole host in the same window (the machine is shared: busy cores beyond the nodes' are
  // other work), and how long runnable tasks waited for a CPU.
  result.host_cpu_cores_busy = round((h1.busy - h0.busy) / secs, 3);
  result.host_cpu_pressure_some_avg10 = pressure;

  // Churn, with one pinger per pair throughout.
  checkTime("churn");
  const churnBudget = Math.max(60, (deadline - Date.now()) / 1000 - 30);
  const pingers = startPingers(lab, list, pairs, churnBudget);
  const cs0 = await sample(list);
  const cv0 = await varz(lab);
  const churnT0 = Date.now();
  await sleep(3000);
  const now = () => Date.now() / 1000;
  const involves = (p: Pair, set: Set<number>) => set.has(p.a) || set.has(p.b);
  const idxWhere = (f: (p: Pair) => boolean) => pairs.flatMap((p, k) => f(p) ? [k] : []);

  // 1. Stop `churnCount` nodes that are endpoints of sampled pairs; start them again.
  const endpoints = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const stopped = new Set<number>();
  while (stopped.size < Math.min(churnCount, endpoints.length)) {
    stopped.add(endpoints[Math.floor(rand() * endpoints.length)]);
  }
  // The path each pair that a stopped node is part of takes before the stop (from its pinger).
  const pathBefore = new Map<number, string>();
  for (const k of idxWhere((p) => involves(p, stopped))) {
    const info = await infoOf(lab, pairs[k].a);
    const r = info?.routes.find((x) => x.destination === list[pairs[k].b].conflux.overlayIp);
    pathBefore.set(k, r?.path || "none");
  }
  progress(`stopping nodes ${[...stopped].join(", ")}`);
  const tStop = now();
  await Promise.all([...stopped].map((i) => lab.stopNode(i)));
  for (const i of stopped) list[i].pid = undefined;
  await sleep(STOP_HOLD_MS);
  const tStartBegin = now();
  const others = idxWhere((p) => !involves(p, stopped)).filter((k) =>
    healthyAt(replyTimes(pingers[k]), tStop)
  );
  const stopOutages = others.map((k) => outageMs(replyTimes(pingers[k]), tStop, tStartBegin));
  result.stop_reachable = round(
    others.filter((k) => firstAfter(replyTimes(pingers[k]), tStartBegin - 3) !== null).length /
      Math.max(1, others.length),
    3,
  );
  result.stop_outage_ms_max = round(max(stopOutages.map((o) => o.ms)), 0);
  result.stop_pairs_interrupted = stopOutages.filter((o) => o.ms >= INTERRUPTED_MS).length;
  progress(`restarting nodes ${[...stopped].join(", ")}`);
  const running = new Map<number, number>();
  await pool([...stopped], group, async (i) => {
    await startOne(lab, list[i]);
    running.set(i, now());
  });
  const touched = idxWhere((p) => involves(p, stopped));
  await waitReplies(pingers, touched, now(), RECOVERY_WAIT_MS);
  const restartRec: number[] = [];
  let restartMissing = 0;
  const late: { k: number; from: number }[] = [];
  for (const k of touched) {
    const p = pairs[k];
    const from = Math.max(running.get(p.a) ?? 0, running.get(p.b) ?? 0);
    const t = firstAfter(replyTimes(pingers[k]), from);
    if (t === null) {
      restartMissing++;
      late.push({ k, from });
    } else restartRec.push((t - from) * 1000);
  }
  result.restart_unrecovered = late.map(({ k }) => name(pairs[k]));
  // Recovered / all, by the path the pair took before the stop.
  const byPath: Record<string, string> = {};
  for (const path of new Set(pathBefore.values())) {
    const ks = touched.filter((k) => pathBefore.get(k) === path);
    const back = ks.filter((k) => !late.some((l) => l.k === k)).length;
    byPath[path] = `${back}/${ks.length}`;
  }
  result.restart_recovered_by_path_before = byPath;
  result.restart_recovery_ms_p50 = round(p50(restartRec), 0);
  result.restart_recovery_ms_max = round(max(restartRec), 0);
  result.restart_unrecovered_pairs = restartMissing;
  result.restart_node_start_s_max = round(
    max([...running.values()].map((t) => t - tStartBegin)),
    1,
  );
  progress(
    `restart: ${touched.length - restartMissing}/${touched.length} pairs back, ` +
      `recovery p50 ${result.restart_recovery_ms_p50} ms max ${result.restart_recovery_ms_max} ms`,
  );

  // 2. Kill the relay that carries the most relay-only pairs now.
  checkTime("relay kill");
  const use = new Map<number, number>();
  for (const p of pairs.filter((p) => p.relayOnly)) {
    const info = await infoOf(lab, p.a);
    const route = info?.routes.find((r) => r.destination === list[p.b].conflux.overlayIp);
    const hop = route?.next_hop ? byId.get(route.next_hop) : undefined;
    if (hop && hop.i !== p.b) use.set(hop.i, (use.get(hop.i) ?? 0) + 1);
  }
  // A relay that is no endpoint of a sampled pair first (its failure then only moves paths),
  // the one carrying most pairs among those.
  const ranked = [...use.entries()].sort((x, y) =>
    Number(endpoints.includes(x[0])) - Number(endpoints.includes(y[0])) || y[1] - x[1]
  );
  if (ranked.length === 0) {
    result.relay_killed = null;
    progress("no relayed route to kill a relay of");
  } else {
    const [relay, carried] = ranked[0];
    result.relay_killed = relay;
    result.relay_carried_pairs = carried;
    const dead = new Set([relay]);
    const tKill = now();
    progress(`killing relay ${relay} (next hop of ${carried} sampled relay-only pairs)`);
    try {
      Deno.kill(list[relay].pid!, "SIGKILL");
    } catch (e) {
      progress(`kill failed: ${message(e)}`);
    }
    await lab.stopNode(relay);
    list[relay].pid = undefined;
    const candidates = idxWhere((p) => !involves(p, dead));
    const alive = candidates.filter((k) => healthyAt(replyTimes(pingers[k]), tKill));
    result.relay_kill_pairs_down_before = candidates.length - alive.length;
    await sleep(2000);
    await waitReplies(pingers, alive, now() - 0.5, RECOVERY_WAIT_MS);
    const tEnd = now();
    const outs = alive.map((k) => outageMs(replyTimes(pingers[k]), tKill, tEnd));
    const hit = outs.filter((o) => o.ms >= INTERRUPTED_MS);
    result.relay_kill_pairs_interrupted = hit.length;
    result.relay_kill_recovery_ms_max = round(max(outs.map((o) => o.ms)), 0);
    result.relay_kill_reachable = round(
      alive.filter((k) => firstAfter(replyTimes(pingers[k]), tEnd - 3) !== null).length /
        Math.max(1, alive.length),
      3,
    );
    progress(
      `relay kill: ${hit.length} pairs interrupted, longest outage ` +
        `${result.relay_kill_recovery_ms_max} ms, reachable ${result.relay_kill_reachable}`,
    );
    await startOne(lab, list[relay]);
    const back = now();
    const withRelay = idxWhere((p) => involves(p, dead));
    await waitReplies(pingers, withRelay, back, RECOVERY_WAIT_MS);
    const relayBack = withRelay.filter((k) => firstAfter(replyTimes(pingers[k]), back) !== null);
    result.relay_restart_pairs = withRelay.length;
    result.relay_restart_recovered = relayBack.length;
    result.relay_restart_unrecovered = withRelay.filter((k) => !relayBack.includes(k)).map((k) =>
      name(pairs[k])
    );
  }
  const cv1 = await varz(lab);
  const cs1 = await sample(list);
  const churnSecs = (Date.now() - churnT0) / 1000;
  const churnNats = natsRates(cv0, cv1, nodes);
  result.churn_nats_msgs_per_node_per_s = churnNats.per_node_per_s;
  result.churn_nats_msgs_in_per_s = churnNats.in_per_s;
  result.churn_nats_msgs_out_per_s = churnNats.out_per_s;
  if (clusterCount > 1) result.churn_gateway_msgs_per_s = churnNats.gateway_per_s;
  const churnCores = cores(cs0.cpu, cs1.cpu, churnSecs);
  result.churn_cpu_cores_per_node_p50 = round(p50(churnCores), 4);

  // 3. nats-server restart: the only one, or in a super cluster the first cluster's (its nodes
  // reconnect to it; the other clusters' nodes keep their connections, the gateways reconnect).
  checkTime("nats restart");
  const restarted = list.filter((n) => cl(n.i) === 0);
  const otherNodes = list.filter((n) => cl(n.i) !== 0);
  progress(
    `stopping nats-server${clusterCount > 1 ? " of cluster c1" : ""} for ${natsDownS} s`,
  );
  const tNatsStop = now();
  await lab.stopNats(0);
  await sleep(natsDownS * 1000);
  await lab.startNats(0);
  const tNatsStart = now();
  const connectedAt = new Map<number, number>();
  const by = Date.now() + 60_000;
  while (Date.now() < by && connectedAt.size < restarted.length) {
    await pool(restarted.filter((n) => !connectedAt.has(n.i)), 8, async (n) => {
      const info = await infoOf(lab, n.i, 3000);
      // `since`: when the control channel entered this state (the node's own clock).
      const c = info?.control;
      if (c?.state === "connected") connectedAt.set(n.i, Math.max(c.since / 1000, tNatsStart));
    });
    if (connectedAt.size < restarted.length) await sleep(500);
  }
  const reconnect = [...connectedAt.values()].map((t) => (t - tNatsStart) * 1000);
  result.nats_reconnected = round(connectedAt.size / restarted.length, 3);
  result.nats_reconnect_ms_p50 = round(p50(reconnect), 0);
  result.nats_reconnect_ms_max = round(max(reconnect), 0);
  if (clusterCount > 1) {
    result.nats_restarted_cluster = "c1";
    result.nats_restarted_cluster_nodes = restarted.length;
    // The other clusters' nodes: still connected since before the stop.
    const kept = await pool(otherNodes, 8, async (n) => {
      const c = (await infoOf(lab, n.i, 3000))?.control;
      return c?.state === "connected" && c.since / 1000 < tNatsStop;
    });
    result.nats_other_clusters_kept_connection = round(
      kept.filter((x) => x).length / Math.max(1, otherNodes.length),
      3,
    );
    const on = (await connz(lab)).server;
    result.nodes_on_own_cluster_after_restart = round(
      list.filter((n) => on.get(n.conflux.confluxId) === cl(n.i)).length / nodes,
      3,
    );
  }
  await sleep(2000);
  const natsPairs = pairs.flatMap((_, k) =>
    healthyAt(replyTimes(pingers[k]), tNatsStop) ? [k] : []
  );
  const natsOut = natsPairs.map((k) => outageMs(replyTimes(pingers[k]), tNatsStop, now()));
  result.nats_restart_pairs_down_before = pairs.length - natsPairs.length;
  result.nats_restart_pairs_interrupted = natsOut.filter((o) => o.ms >= INTERRUPTED_MS).length;
  result.nats_restart_data_outage_ms_max = round(max(natsOut.map((o) => o.ms)), 0);
  progress(
    `nats restart: ${connectedAt.size}/${restarted.length} reconnected, ` +
      `max ${result.nats_reconnect_ms_max} ms` +
      ` after it was back; longest data-plane outage ${result.nats_restart_data_outage_ms_max} ms`,
  );
  const nv0 = await varz(lab);
  // Fresh pairs: discovery after the restart.
  const fresh = samplePairs(
    nodes,
    FRESH_PAIRS,
    rand,
    new Set(pairs.map((p) => `${Math.min(p.a, p.b)}-${Math.max(p.a, p.b)}`)),
    cl,
  );
  const freshCold: (number | null)[] = [];
  for (const p of fresh) {
    checkTime("fresh pairs");
    const ms = await coldPing(lab, list, p, 10);
    freshCold.push(ms);
    progress(`fresh ${name(p)}: ${round(ms, 1)} ms`);
  }
  const freshOk = freshCold.filter((c) => c !== null) as number[];
  result.after_nats_fresh_pairs = fresh.length;
  result.after_nats_fresh_reachable = round(freshOk.length / Math.max(1, fresh.length), 3);
  result.after_nats_first_ping_ms_p50 = round(p50(freshOk), 1);
  if (clusterCount > 1) {
    const fc = fresh.flatMap((p, k) => p.crossCluster ? [k] : []);
    result.after_nats_fresh_cross_pairs = fc.length;
    result.after_nats_fresh_cross_reachable = round(
      fc.filter((k) => freshCold[k] !== null).length / Math.max(1, fc.length),
      3,
    );
  }
  const nv1 = await varz(lab);
  result.after_nats_nats_msgs_in_per_s = natsRates(nv0, nv1, nodes).in_per_s;
  for (const p of pingers) await p.stop();
  // Pairs that had not recovered from the restart within RECOVERY_WAIT_MS: when they did.
  result.restart_late_recovery_ms = late.map(({ k, from }) => {
    const t = firstAfter(replyTimes(pingers[k]), from);
    return t === null ? null : round((t - from) * 1000, 0);
  });

  // 4. Final reachability of every sampled pair.
  const fin = await pool(pairs, 8, (p) => check(lab, list, p));
  const finOk = fin.filter((r) => r.length > 0).length;
  result.reachable_after_churn = round(finOk / pairs.length, 3);
  result.unreachable_after_churn = pairs.filter((_, k) => fin[k].length === 0).map(name);
  if (clusterCount > 1) {
    result.cross_reachable_after_churn = round(
      crossIdx.filter((k) => fin[k].length > 0).length / Math.max(1, crossIdx.length),
      3,
    );
  }
  // Evidence for each pair that no longer answers: both ends' routes to each other and their
  // frames dropped for an unknown stream.
  const diag = [];
  for (const p of pairs.filter((_, k) => fin[k].length === 0)) {
    const [ia, ib] = [await infoOf(lab, p.a), await infoOf(lab, p.b)];
    const route = (info: NodeInfo | null, to: Node) => {
      const r = info?.routes.find((x) => x.destination === to.conflux.overlayIp);
      const hop = r?.next_hop ? byId.get(r.next_hop)?.i ?? r.next_hop : null;
      return r ? `${r.path || "none"} via ${hop}` : "no route";
    };
    diag.push({
      pair: name(p),
      ...(clusterCount > 1 ? { clusters: [cl(p.a), cl(p.b)] } : {}),
      route_a_to_b: route(ia, list[p.b]),
      route_b_to_a: route(ib, list[p.a]),
      unknown_stream_drops_a: ia?.stats?.drops?.unknown_stream ?? null,
      unknown_stream_drops_b: ib?.stats?.drops?.unknown_stream ?? null,
    });
  }
  result.unreachable_after_churn_detail = diag;
  const end = await sample(list);
  result.rss_mb_end_p50 = round(p50(end.rss), 1);
  result.rss_mb_end_max = round(max(end.rss), 1);
  progress(`final: reachable ${finOk}/${pairs.length}`);
}

/** Writes the output of every process of the lab to `dir` (`--keep-logs`). */
async function keepLogs(lab: Lab, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const seen = new Map<string, number>();
  for (const p of lab.procs) {
    if (p.name.startsWith("ping")) continue;
    const k = seen.get(p.name) ?? 0;
    seen.set(p.name, k + 1);
    await Deno.writeTextFile(`${dir}/${p.name}.${k}.log`, p.lines.join("\n") + "\n");
  }
  progress(`logs in ${dir}`);
}

/** The Markdown table of one run (stderr; bench/README.md keeps it). */
function markdown(r: Record<string, unknown>): string {
  const row = (k: string, v: unknown) => `| ${k} | ${v ?? "–"} |`;
  const sc = Number(r.clusters) > 1;
  const cluster = sc
    ? [
      row(
        "clusters (nodes each); nodes on their own cluster's server",
        `${r.clusters} (${
          (r.cluster_sizes as number[] | undefined)?.join(", ")
        }); ${r.nodes_on_own_cluster}`,
      ),
      row(
        "cross-cluster pairs (relay-only): reachable; first ping ms p50 (relay-only)",
        `${r.cross_cluster_pairs} (${r.cross_cluster_relay_only_pairs}): ${r.cross_reachable}; ` +
          `${r.cross_first_ping_ms_p50} (${r.cross_first_ping_relayed_ms_p50})`,
      ),
      row(
        "same-cluster pairs: reachable; first ping ms p50",
        `${r.same_cluster_reachable}; ${r.same_cluster_first_ping_ms_p50}`,
      ),
      row(
        "relayed routes by cluster (pinger-relay-destination)",
        Object.entries(r.relayed_cluster_paths ?? {}).map(([k, v]) => `${k} ${v}`).join(", "),
      ),
      row("gateway msgs/s, idle; churn", `${r.gateway_msgs_per_s}; ${r.churn_gateway_msgs_per_s}`),
    ]
    : [];
  const natsRestart = sc
    ? [
      row(
        "c1 restart: other clusters' nodes kept their connection; nodes on own server after",
        `${r.nats_other_clusters_kept_connection}; ${r.nodes_on_own_cluster_after_restart}`,
      ),
      row(
        "after restart: fresh cross-cluster pairs answering",
        `${r.after_nats_fresh_cross_reachable} (${r.after_nats_fresh_cross_pairs} pairs)`,
      ),
    ]
    : [];
  return [
    `Run ${String(r.date).slice(0, 16).replace("T", " ")} UTC, ${r.nodes} nodes` +
    `${sc ? ` in ${r.clusters} NATS clusters` : ""}, ` +
    `${r.pairs} sampled pairs (${r.pairs_relay_only} relay-only), load average ` +
    `${(r.loadavg_start as number[])[0]} → ${(r.loadavg_end as number[])[0]}, ${r.wall_s} s.`,
    "",
    "| figure | value |",
    "| --- | ---: |",
    row("all nodes started (s)", r.start_all_s),
    row(
      "first ping ms p50 (direct / relay-only)",
      `${r.first_ping_ms_p50} (${r.first_ping_direct_ms_p50} / ${r.first_ping_relayed_ms_p50})`,
    ),
    row(
      "first ping ms max (relay-only max)",
      `${r.first_ping_ms_max} (${r.first_ping_relayed_ms_max})`,
    ),
    row("reachable (sampled pairs)", r.reachable),
    ...cluster,
    row("warm RTT ms p50", r.rtt_ms_p50),
    row("tethers per node p50 / max", `${r.tethers_per_node_p50} / ${r.tethers_per_node_max}`),
    row(
      "control msgs per node per s, idle (NATS published + tether frames; max node)",
      `${r.control_msgs_per_node_per_s} (${r.control_nats_msgs_per_node_per_s} + ${r.control_tether_frames_per_node_per_s}; ${r.control_msgs_per_node_per_s_max})`,
    ),
    row("NATS msgs/s in / out (idle)", `${r.nats_msgs_in_per_s} / ${r.nats_msgs_out_per_s}`),
    row(
      "idle tether bytes sent per node per s p50 / max",
      `${r.idle_tether_bytes_per_node_per_s_p50} / ${r.idle_tether_bytes_per_node_per_s_max}`,
    ),
    row("node RSS MB p50 / max (idle)", `${r.rss_mb_p50} / ${r.rss_mb_max}`),
    row(
      "node CPU cores p50 / max (idle); all nodes; whole host busy (CPU pressure avg10 %)",
      `${r.cpu_cores_per_node_p50} / ${r.cpu_cores_per_node_max}; ${r.cpu_cores_all_nodes}; ` +
        `${r.host_cpu_cores_busy} (${r.host_cpu_pressure_some_avg10})`,
    ),
    row(
      `${r.churn_nodes} nodes stopped 10 s: other pairs answering; interrupted; longest outage ms`,
      `${r.stop_reachable}; ${r.stop_pairs_interrupted}; ${r.stop_outage_ms_max}`,
    ),
    row(
      "restarted nodes' pairs: recovery ms p50 / max after running; not back in 30 s",
      `${r.restart_recovery_ms_p50} / ${r.restart_recovery_ms_max}; ${r.restart_unrecovered_pairs}`,
    ),
    row(
      "restarted nodes' pairs back within 30 s, by path before the stop",
      Object.entries(r.restart_recovered_by_path_before ?? {}).map(([k, v]) => `${k} ${v}`).join(
        ", ",
      ),
    ),
    row(
      "relay killed: pairs interrupted; longest outage ms; answering after",
      `${r.relay_kill_pairs_interrupted}; ${r.relay_kill_recovery_ms_max}; ${r.relay_kill_reachable}`,
    ),
    row(
      "churn: NATS msgs published per node per s; NATS msgs/s in / out",
      `${r.churn_nats_msgs_per_node_per_s}; ${r.churn_nats_msgs_in_per_s} / ${r.churn_nats_msgs_out_per_s}`,
    ),
    row(
      `nats-server${sc ? " of c1" : ""} down ${r.nats_down_s} s: its nodes reconnected; ` +
        "ms p50 / max after restart",
      `${r.nats_reconnected}; ${r.nats_reconnect_ms_p50} / ${r.nats_reconnect_ms_max}`,
    ),
    row(
      "nats restart: pairs interrupted; longest data-plane outage ms",
      `${r.nats_restart_pairs_interrupted}; ${r.nats_restart_data_outage_ms_max}`,
    ),
    row(
      "after restart: fresh pairs answering; first ping ms p50",
      `${r.after_nats_fresh_reachable}; ${r.after_nats_first_ping_ms_p50}`,
    ),
    ...natsRestart,
    row("reachable after churn", r.reachable_after_churn),
    ...(sc ? [row("cross-cluster reachable after churn", r.cross_reachable_after_churn)] : []),
    row("node RSS MB p50 / max (end)", `${r.rss_mb_end_p50} / ${r.rss_mb_end_max}`),
  ].join("\n");
}

if (import.meta.main) {
  if (Deno.uid() !== 0) {
    console.error("scale bench needs root (network namespaces, TUN)");
    Deno.exit(1);
  }
  if (
    !(Number.isInteger(nodes) && nodes >= 4 && nodes <= 200) ||
    !(Number.isInteger(group) && group >= 1 && group <= 16) ||
    !(windowS >= 5 && windowS <= 300) || !(natsDownS >= 1 && natsDownS <= 60) ||
    !(maxSeconds >= 60 && maxSeconds <= 3600) ||
    !(Number.isInteger(pairCount) && pairCount >= 1 && pairCount <= 200) ||
    !(Number.isInteger(churnCount) && churnCount >= 1 && churnCount < nodes / 2) ||
    !(Number.isInteger(clusterCount) && clusterCount >= 1 && clusterCount <= 4 &&
      nodes >= 4 * clusterCount)
  ) {
    console.error(
      "scale bench: --nodes 4..200, --group 1..16, --window 5..300, --nats-down 1..60, " +
        "--max-seconds 60..3600, --pairs 1..200, --churn 1..nodes/2, --clusters 1..4 " +
        "(at least 4 nodes per cluster)",
    );
    Deno.exit(2);
  }
  CLK_TCK = Number((await sh(["getconf", "CLK_TCK"], { allowFail: true })).stdout.trim()) || 100;
  const result: Record<string, unknown> = {
    bench: "scale",
    nodes,
    clusters: clusterCount,
    date: new Date(started).toISOString(),
    loadavg_start: loadavg(),
    cpus: navigator.hardwareConcurrency,
    seed,
    churn_nodes: churnCount,
    nats_down_s: natsDownS,
    window_s: windowS,
  };
  const lab = await createLab({ nodes, echo: values.echo, prefix: "vnsc" });
  let closing = false;
  const onSignal = () => {
    if (closing) return;
    closing = true;
    progress("interrupted: cleaning up");
    lab.close().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let failed: string | null = null;
  try {
    await bench(lab, result);
  } catch (e) {
    failed = message(e);
    result.error = failed;
    progress(`failed: ${failed}`);
  } finally {
    closing = true;
    if (values["keep-logs"]) await keepLogs(lab, values["keep-logs"]);
    progress("closing the lab");
    await lab.close();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  result.loadavg_end = loadavg();
  result.wall_s = round((Date.now() - started) / 1000, 0);
  console.error(markdown(result));
  console.log(JSON.stringify(result));
  Deno.exit(failed ? 1 : 0);
}
