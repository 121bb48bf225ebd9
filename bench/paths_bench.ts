/**
 * Multi-path benchmark (root): does one TCP flow lose throughput when two relay paths exist?
 *
 * h1 and h3 share no underlay path; relays reach both. Run 1 has one relay (h2), run 2 two equal
 * relays (h2, h4), each a fresh lab. Per run: the cold start of h1 → h3 (first ping → its reply,
 * including the 1.5 s wait for a direct tether and the relay search), iperf3 TCP with 1 and 4
 * streams, and which relays carried frames. Prints one JSON document on stdout and a Markdown
 * table on stderr.
 *
 *   deno run -A bench/paths_bench.ts [--seconds 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLab, type Lab, type LabConflux } from "../demo/lab.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "paths"),
  options: {
    seconds: { type: "string", default: "5" },
    echo: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);

/** One run's figures. */
interface PathsRow {
  relays: number;
  cold_start_ms: number | null;
  tcp_1_stream_mbps: number | null;
  /** TCP retransmits of the 1-stream run (reordering across paths would show here). */
  tcp_1_retransmits: number | null;
  /** Flow moves at h1 and h3 during the 1-stream run. */
  flow_moves: number;
  tcp_4_streams_mbps: number | null;
  /** Frames each relay forwarded during the 1-stream run. */
  relayed_by: Record<string, number>;
}

function progress(text: string): void {
  console.error(`paths bench: ${text}`);
}

async function iperf(
  lab: Lab,
  ip: string,
  streams: number,
): Promise<{ mbps: number; retransmits: number } | null> {
  const server = lab.spawn(`iperf3-s-${streams}`, lab.namespaces[2], [
    "iperf3",
    "-s",
    "-1",
    "--forceflush",
  ]);
  try {
    await server.waitFor(/Server listening/, 10_000);
    const r = await lab.exec(lab.namespaces[0], [
      "iperf3",
      "-c",
      ip,
      "-t",
      String(seconds),
      "-P",
      String(streams),
      "-J",
    ], { check: false });
    const json = JSON.parse(r.stdout);
    if (json.error) {
      progress(`iperf3: ${json.error}`);
      return null;
    }
    return {
      mbps: Math.round(json.end.sum_received.bits_per_second / 1e5) / 10,
      retransmits: json.end.sum_sent.retransmits ?? 0,
    };
  } finally {
    await server.stop();
  }
}

async function coldStart(lab: Lab, ip: string): Promise<number | null> {
  const start = performance.now();
  return await lab.reachable(0, ip, 45_000) ? Math.round(performance.now() - start) : null;
}

async function run(relays: number): Promise<PathsRow> {
  const nodes = relays === 1 ? 3 : 4;
  const lab = await createLab({ nodes, echo: values.echo, prefix: "vnpath" });
  try {
    await lab.exec(lab.namespaces[0], ["ip", "route", "add", "prohibit", `${lab.underlay(2)}/32`]);
    await lab.exec(lab.namespaces[2], ["ip", "route", "add", "prohibit", `${lab.underlay(0)}/32`]);
    await lab.startServices();
    await lab.createTeam("dev");
    const h: LabConflux[] = [];
    for (let i = 0; i < nodes; i++) h.push(await lab.register(`h${i + 1}`, ["dev"]));
    await Promise.all(h.map((c, i) => lab.startNode(i, c, { rtc: "libdatachannel" })));
    const relayNodes = relays === 1 ? [1] : [1, 3];
    for (const r of relayNodes) {
      for (const end of [0, 2]) {
        if (!await lab.reachable(r, h[end].overlayIp)) throw new Error(`h${r + 1} ↛ h${end + 1}`);
      }
    }
    const cold = await coldStart(lab, h[2].overlayIp);
    progress(`${relays} relay(s): cold start ${cold} ms`);
    await new Promise((r) => setTimeout(r, 2000));
    const stats = () =>
      Promise.all([...relayNodes, 0, 2].map(async (r) => (await lab.info(r)).stats));
    const before = await stats();
    const one = await iperf(lab, h[2].overlayIp, 1);
    const after = await stats();
    const moves = (i: number) => (after[i]?.flow_moves ?? 0) - (before[i]?.flow_moves ?? 0);
    const four = await iperf(lab, h[2].overlayIp, 4);
    const relayedBy: Record<string, number> = {};
    relayNodes.forEach((r, i) => {
      relayedBy[`h${r + 1}`] = (after[i]?.frames_relayed ?? 0) - (before[i]?.frames_relayed ?? 0);
    });
    const row = {
      relays,
      cold_start_ms: cold,
      tcp_1_stream_mbps: one?.mbps ?? null,
      tcp_1_retransmits: one?.retransmits ?? null,
      flow_moves: moves(relayNodes.length) + moves(relayNodes.length + 1),
      tcp_4_streams_mbps: four?.mbps ?? null,
      relayed_by: relayedBy,
    };
    progress(JSON.stringify(row));
    return row;
  } finally {
    await lab.close();
  }
}

function markdown(rows: PathsRow[]): string {
  const base = rows.find((r) => r.relays === 1)?.tcp_1_stream_mbps ?? null;
  const lines = [
    "| relay paths | TCP 1 stream Mbit/s | × one path | retransmits | flow moves | TCP 4 streams Mbit/s | cold start | frames relayed (1 stream) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of rows) {
    const ratio = base && r.tcp_1_stream_mbps ? (r.tcp_1_stream_mbps / base).toFixed(2) : "-";
    const by = Object.entries(r.relayed_by).map(([k, v]) => `${k} ${v}`).join(", ");
    lines.push(
      `| ${r.relays} | ${r.tcp_1_stream_mbps ?? "-"} | ${ratio} | ${
        r.tcp_1_retransmits ?? "-"
      } | ` +
        `${r.flow_moves} | ${r.tcp_4_streams_mbps ?? "-"} | ` +
        `${r.cold_start_ms ?? "-"} ms | ${by} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const rows: PathsRow[] = [];
  for (const relays of [1, 2]) {
    try {
      rows.push(await run(relays));
    } catch (e) {
      progress(`${relays} relay(s) failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  console.log(JSON.stringify({ bench: "paths", seconds, date: new Date().toISOString(), rows }));
  console.error(markdown(rows));
}
