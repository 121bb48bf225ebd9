/**
 * Node RSS and throughput per V8 flag set: two nodes between namespaces (demo/lab.ts), RSS of both
 * node processes once the tunnel is idle and 5.5 s into an iperf3 `-P 4` run of 6 s, for each
 * set of V8 flags (`--v8-flags`), variants interleaved per round. Prints one JSON line per run and a
 * Markdown table of medians on stderr.
 *
 * Usage: deno run -A bench/v8flags_bench.ts [--rounds 3]
 *        [--variant NAME=FLAGS]…   (FLAGS comma-separated; default: none, the shipped flags)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createLab } from "../demo/lab.ts";
import { NODE_V8_FLAGS } from "../core/node/options.ts";
import { nodePid } from "./node_pid.ts";

/** One run of one variant. */
export interface FlagsRun {
  name: string;
  flags: string;
  /** RSS MB of the two nodes, idle and under load. */
  idleMb: number[];
  loadMb: number[];
  gbps: number;
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

/** Runs two nodes with `flags` (empty: none) and measures them. */
export async function measureFlags(name: string, flags: string): Promise<FlagsRun> {
  const lab = await createLab({ nodes: 2, prefix: "vnv8f" });
  try {
    await lab.startServices();
    await lab.createTeam("dev");
    const a = await lab.register("a", ["dev"]), b = await lab.register("b", ["dev"]);
    const nodes = [
      await lab.startNode(0, a, { v8Flags: flags }),
      await lab.startNode(1, b, { v8Flags: flags }),
    ];
    if (!await lab.reachable(0, b.overlayIp)) throw new Error("the nodes never reached each other");
    await new Promise((r) => setTimeout(r, 3000));
    const pids = await Promise.all(nodes.map((p) => nodePid(p.child.pid)));
    const idleMb = pids.map(rssMb);
    const server = lab.spawn("iperf3-s", lab.namespaces[1], ["iperf3", "-s", "-1", "--forceflush"]);
    await server.waitFor(/Server listening/, 10_000);
    const client = lab.exec(lab.namespaces[0], [
      "iperf3",
      "-c",
      b.overlayIp,
      "-t",
      "6",
      "-P",
      "4",
      "-J",
    ], { check: false });
    await new Promise((r) => setTimeout(r, 5500));
    const loadMb = pids.map(rssMb);
    const result = JSON.parse((await client).stdout);
    const gbps = Math.round(result.end.sum_received.bits_per_second / 1e6) / 1000;
    return { name, flags, idleMb, loadMb, gbps };
  } finally {
    await lab.close();
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Medians per variant as a Markdown table. */
export function flagsTable(runs: FlagsRun[]): string {
  const lines = [
    "| variant | V8 flags | runs | idle RSS MB | RSS MB, 4 streams | Gbit/s |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const name of [...new Set(runs.map((r) => r.name))]) {
    const of = runs.filter((r) => r.name === name);
    lines.push(
      `| ${name} | ${of[0].flags || "(none)"} | ${of.length} | ${
        median(of.flatMap((r) => r.idleMb))
      } | ${median(of.flatMap((r) => r.loadMb))} | ${median(of.map((r) => r.gbps))} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "3" },
      variant: { type: "string", multiple: true },
    },
  });
  const rounds = Number(values.rounds);
  const variants = (values.variant ?? [
    "none=",
    `shipped=${NODE_V8_FLAGS}`,
  ]).map((v) => {
    const eq = v.indexOf("=");
    return { name: eq < 0 ? v : v.slice(0, eq), flags: eq < 0 ? "" : v.slice(eq + 1) };
  });
  if (!Number.isInteger(rounds) || rounds < 1 || variants.some((v) => !v.name)) {
    console.error("v8flags: --rounds N ≥ 1, --variant NAME=FLAGS");
    Deno.exit(2);
  }
  const runs: FlagsRun[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const run = await measureFlags(v.name, v.flags);
      console.log(JSON.stringify(run));
      runs.push(run);
    }
  }
  console.error(flagsTable(runs));
}
