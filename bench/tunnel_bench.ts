/**
 * Tunnel benchmark (root): conflux nodes in network namespaces (real nats-server, Guardian,
 * TUNs), per tether engine, direct h1 → h2 and relayed h1 → h3 through h2 (no underlay path
 * between h1 and h3); then, in fresh namespaces of the same run, wireguard-go direct and nebula
 * direct and relayed (bench/peers/). Every row is measured the same way (bench/peers/measure.ts):
 * ping RTT p50/p99, iperf3 TCP with 1 and 4 streams, and daemon RSS (VmRSS) idle and near the
 * end of the load; relayed rows add a 10-stream run for the relay's RSS. Our rows also carry the
 * cold start (first ping of a new destination → its reply: discovery, stream handshake, tether;
 * for the relayed row it includes the failed direct attempt) and the RSS right after start.
 *
 * Prints one JSON document on stdout, the Markdown tables on stderr, and writes the SVG chart of
 * throughput by system.
 *
 *   deno run -A bench/tunnel_bench.ts [--seconds 5] [--pings 200] [--engines libdatachannel,werift]
 *     [--no-relay] [--no-wg] [--no-nebula] [--relay-streams 10] [--svg bench/tunnel.svg]
 *     [--markdown FILE] [--profile DIR] [--echo] [--channels N]
 *
 * `--channels N` runs our nodes with N data channels per tether (VEILNET_TETHER_CHANNELS).
 * `--lanes on,off` measures ours with the datagram lane and with data channels only
 * (VEILNET_LANE); `--lanes on` or `--lanes off` measures one of them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLab, type Lab, type LabConflux } from "../demo/lab.ts";
import { chain, createTestbed, type Host, rssMb, sh, type Testbed, withTestbed } from "./netns.ts";
import { measureTunnelWithMemory } from "./peers/measure.ts";
import { benchWireguard } from "./peers/wireguard.ts";
import { benchNebula } from "./peers/nebula.ts";
import type { BenchRow, MemorySample } from "./peers/row.ts";
import { nodePid } from "./node_pid.ts";
import {
  compareRows,
  reportComparisonMarkdown,
  reportJson,
  reportMemoryMarkdown,
  reportSvg,
} from "./report.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "tunnel"),
  options: {
    seconds: { type: "string", default: "5" },
    engines: { type: "string", default: "libdatachannel,werift" },
    channels: { type: "string", default: "1" },
    lanes: { type: "string", default: "on,off" },
    pings: { type: "string", default: "200" },
    "relay-streams": { type: "string", default: "10" },
    "no-wg": { type: "boolean", default: false },
    "no-nebula": { type: "boolean", default: false },
    "no-relay": { type: "boolean", default: false },
    svg: { type: "string", default: "bench/tunnel.svg" },
    markdown: { type: "string" },
    profile: { type: "string" },
    echo: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const pings = Number(values.pings);
const relayStreams = Number(values["relay-streams"]);
const BASELINE = "wireguard-go/direct";
const RELAYED_REFERENCE = "nebula/relayed";

function progress(text: string): void {
  console.error(`tunnel bench: ${text}`);
}

/** Our row's system name: the engine, and "+lane" when the datagram lane is on. */
function systemName(engine: string, lane: string): string {
  return lane === "on" ? `conflux/${engine}+lane` : `conflux/${engine}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The lab's namespace `i` as a testbed host (the lab, not the testbed, owns it). */
function labHost(lab: Lab, i: number): Host {
  return { label: `n${i}`, ns: lab.namespaces[i] };
}

/** Direct h1 → h2 with `engine`; pushes the nodes' RSS to `memory`. */
async function confluxDirect(
  lab: Lab,
  tb: Testbed,
  engine: string,
  index: number,
  memory: MemorySample[],
  lane = "off",
): Promise<BenchRow> {
  const team = `bench-${engine}-${lane}`;
  await lab.createTeam(team);
  const a = await lab.register(`bench-a-${engine}-${lane}`, [team]);
  const b = await lab.register(`bench-b-${engine}-${lane}`, [team]);
  // --profile DIR: V8 CPU profiles of both nodes (demo/run_node.ts VEILNET_CPU_PROFILE).
  const env = (i: number) => ({
    VEILNET_TETHER_CHANNELS: values.channels,
    VEILNET_LANE: lane,
    ...(values.profile
      ? { VEILNET_CPU_PROFILE: `${values.profile}/node${i}-${engine}.cpuprofile` }
      : {}),
  });
  try {
    const procs = await Promise.all([
      lab.startNode(0, a, { rtc: engine, tun: `vnb${index}`, env: env(0) }),
      lab.startNode(1, b, { rtc: engine, tun: `vnb${index}`, env: env(1) }),
    ]);
    const pids = await Promise.all(procs.map((p) => nodePid(p.child.pid)));
    const start = await Promise.all(pids.map((pid) => rssMb(pid)));
    // Cold start: the first packet waits for discovery, handshake and tether.
    const first = await lab.ping(0, b.overlayIp, { count: 1, waitS: 10 });
    const cold = first.rtts[0] ?? null;
    progress(`${engine}: cold start ${cold} ms`);
    const { row, memory: samples } = await measureTunnelWithMemory(tb, labHost(lab, 0), {
      system: systemName(engine, lane),
      mode: "direct",
      server: labHost(lab, 1),
      ip: b.overlayIp,
      daemonPid: pids[0],
      seconds,
      pings,
      watch: [{ role: "sender", pid: pids[0] }, { role: "receiver", pid: pids[1] }],
    });
    row.cold_start_ms = cold;
    samples.forEach((s, i) => s.start_mb = start[i]);
    memory.push(...samples);
    progress(`${engine}: ${JSON.stringify(row)}`);
    return row;
  } finally {
    await Promise.all([lab.stopNode(0), lab.stopNode(1)]);
  }
}

/** h1 → h3 through h2: namespaces 0 and 2 have no underlay path to each other. */
async function confluxRelayed(
  lab: Lab,
  tb: Testbed,
  engine: string,
  memory: MemorySample[],
  lane = "off",
): Promise<BenchRow> {
  await lab.createTeam(`bench-relay-${lane}`);
  const h: LabConflux[] = [];
  for (const name of ["h1", "h2", "h3"]) {
    h.push(await lab.register(`${name}-${lane}`, [`bench-relay-${lane}`]));
  }
  try {
    const procs = await Promise.all(
      h.map((c, i) =>
        lab.startNode(i, c, {
          rtc: engine,
          tun: "vnbr",
          env: { VEILNET_TETHER_CHANNELS: values.channels, VEILNET_LANE: lane },
        })
      ),
    );
    const pids = await Promise.all(procs.map((p) => nodePid(p.child.pid)));
    const start = await Promise.all(pids.map((pid) => rssMb(pid)));
    // h2 holds tethers to both ends; then h1's first packet finds h3 via h2.
    await lab.reachable(1, h[2].overlayIp);
    await lab.reachable(1, h[0].overlayIp);
    const started = Date.now();
    const ok = await lab.reachable(0, h[2].overlayIp, 45_000);
    const cold = ok ? Date.now() - started : null;
    const info = await lab.info(0);
    const route = info.routes.find((r) => r.destination === h[2].overlayIp);
    progress(`relayed: next hop ${route?.next_hop} (h2 = ${h[1].confluxId})`);
    const { row, memory: samples } = await measureTunnelWithMemory(tb, labHost(lab, 0), {
      system: systemName(engine, lane),
      mode: "relayed",
      server: labHost(lab, 2),
      ip: h[2].overlayIp,
      daemonPid: pids[1],
      seconds,
      pings,
      watch: [
        { role: "sender (h1)", pid: pids[0] },
        { role: "relay (h2)", pid: pids[1] },
        { role: "receiver (h3)", pid: pids[2] },
      ],
      manyStreams: relayStreams,
    });
    row.rss_of = "relay (h2)";
    row.cold_start_ms = cold;
    row.next_hop_is_h2 = route?.next_hop === h[1].confluxId ? 1 : 0;
    samples.forEach((s, i) => s.start_mb = start[i]);
    memory.push(...samples);
    progress(`relayed (${engine}): ${JSON.stringify(row)}`);
    return row;
  } finally {
    await Promise.all([0, 1, 2].map((i) => lab.stopNode(i)));
  }
}

/** Our rows: the conflux lab, closed before returning. */
async function conflux(rows: BenchRow[], memory: MemorySample[]): Promise<void> {
  const lab = await createLab({ nodes: 3, echo: values.echo, prefix: "vnbench" });
  // Only a handle for exec/spawn in the lab's namespaces: it creates and deletes none.
  const tb = createTestbed();
  const onInt = () => {
    Promise.allSettled([tb.close(), lab.close()]).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInt);
  try {
    // Namespaces 0 and 2 cannot reach each other: the relayed row goes 0 → 1 → 2.
    await lab.exec(lab.namespaces[0], ["ip", "route", "add", "prohibit", `${lab.underlay(2)}/32`]);
    await lab.exec(lab.namespaces[2], ["ip", "route", "add", "prohibit", `${lab.underlay(0)}/32`]);
    await lab.startServices();
    let index = 0;
    for (const lane of values.lanes.split(",").filter((l) => l === "on" || l === "off")) {
      for (const engine of values.engines.split(",").filter((e) => e)) {
        try {
          rows.push(await confluxDirect(lab, tb, engine, index++, memory, lane));
        } catch (e) {
          progress(`${engine} (lane ${lane}) failed: ${message(e)}`);
        }
      }
      if (!values["no-relay"]) {
        try {
          rows.push(await confluxRelayed(lab, tb, "libdatachannel", memory, lane));
        } catch (e) {
          progress(`relayed (lane ${lane}) failed: ${message(e)}`);
        }
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await tb.close();
    await lab.close();
  }
}

/** The peers' rows in fresh namespaces h1–h2–h3 (h1 and h3 share no link). */
async function peers(rows: BenchRow[], memory: MemorySample[]): Promise<void> {
  await withTestbed(async (tb) => {
    const { l12, l23 } = await chain(tb);
    if (!values["no-wg"]) {
      progress("wireguard-go direct");
      try {
        rows.push(await benchWireguard(tb, l12, { seconds, pings, memory }));
      } catch (e) {
        progress(`wireguard-go failed: ${message(e)}`);
      }
    }
    if (!values["no-nebula"]) {
      progress("nebula direct + relayed");
      try {
        rows.push(
          ...await benchNebula(tb, { l12, l23 }, {
            seconds,
            pings,
            memory,
            relayStreams,
            noRelay: values["no-relay"],
          }),
        );
      } catch (e) {
        progress(`nebula failed: ${message(e)}`);
      }
    }
  });
}

async function version(argv: string[]): Promise<string | null> {
  try {
    const r = await sh(argv, { allowFail: true });
    return (r.stdout + r.stderr).trim().split("\n")[0] || null;
  } catch {
    return null;
  }
}

/** The machine line: CPU, memory, kernel, and the versions of what was measured. */
async function machine(): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  return {
    cpus: navigator.hardwareConcurrency,
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? null,
    mem_gib: Math.round(memKb / 1024 / 1024),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    "wireguard-go": await version(["wireguard-go", "--version"]),
    nebula: (await version(["nebula", "-version"]))?.replace(/^Version:\s*/, "") ?? null,
    iperf3: await version(["iperf3", "--version"]),
  };
}

function loadavg(): number[] {
  return Deno.loadavg().map((x) => Math.round(x * 100) / 100);
}

if (import.meta.main) {
  if (Deno.uid() !== 0) {
    console.error("tunnel bench needs root (network namespaces, TUN)");
    Deno.exit(1);
  }
  if (
    !(seconds > 0 && seconds <= 120) || !(pings > 0 && pings <= 10000) ||
    !(Number.isInteger(relayStreams) && relayStreams >= 1 && relayStreams <= 128)
  ) {
    console.error(
      "tunnel bench: --seconds must be in (0, 120], --pings in (0, 10000], " +
        "--relay-streams an integer in [1, 128]",
    );
    Deno.exit(2);
  }
  const started = new Date();
  const loadStart = loadavg();
  const rows: BenchRow[] = [];
  const memory: MemorySample[] = [];
  await conflux(rows, memory);
  if (!values["no-wg"] || !values["no-nebula"]) await peers(rows, memory);
  if (rows.length === 0) {
    console.error("tunnel bench: no row could be measured");
    Deno.exit(1);
  }
  const ours = (r: BenchRow) => r.system.startsWith("conflux");
  const comparisons = compareRows(rows, {
    ours,
    baseline: BASELINE,
    relayedReference: RELAYED_REFERENCE,
  });
  const baseline = rows.some((r) => `${r.system}/${r.mode}` === BASELINE) ? BASELINE : undefined;
  const meta = {
    bench: "tunnel",
    date: started.toISOString(),
    seconds,
    pings,
    relay_streams: relayStreams,
    machine: await machine(),
    loadavg_start: loadStart,
    loadavg_end: loadavg(),
  };
  const doc = { ...reportJson(rows, { baseline, meta }), comparisons, memory };
  console.log(JSON.stringify(doc, null, 2));
  const m = meta.machine;
  const md = [
    `Run ${meta.date.slice(0, 16).replace("T", " ")} UTC, iperf3 -t ${seconds}, ` +
    `${m.cpus} vCPUs (${m.cpu_model}), ${m.mem_gib} GiB, Linux ${m.kernel}, Deno ${m.deno}, ` +
    `${m["wireguard-go"]}, nebula ${m.nebula}; load average ${loadStart[0]} → ` +
    `${meta.loadavg_end[0]}.`,
    "",
    reportComparisonMarkdown(rows, comparisons, { baseline: BASELINE }),
    reportMemoryMarkdown(memory),
  ].join("\n");
  console.error(md);
  if (values.markdown) await Deno.writeTextFile(values.markdown, md);
  if (values.svg) {
    await Deno.writeTextFile(
      values.svg,
      reportSvg(rows, {
        title: `TCP throughput by system (Gbit/s), run ${meta.date.slice(0, 10)}`,
      }),
    );
  }
}
