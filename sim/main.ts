/**
 * `deno task sim`: runs the routing simulator for one or more network sizes and prints JSON.
 *
 * Flags:
 *   --nodes 100,1000     network sizes (comma-separated; default 100,1000)
 *   --seed 1             PRNG seed (default 1)
 *   --scenario NAME      steady | relay-failure | churn (default relay-failure)
 *   --out DIR            also write DIR/sim.json and DIR/sim.svg (stretch and control vs N)
 *   --flows-per-node 1   flows started per node
 *   --interval 200       packet interval per flow in ms
 *   --no-heuristic       discovery without position hints
 *
 * @module
 */

import { parseArgs } from "node:util";
import { renderChart } from "./chart.ts";
import { runSimulation, SCENARIOS } from "./network.ts";
import type { Scenario, SimResult } from "./network.ts";

/** A bad command line, reported without a stack trace. */
export class UsageError extends Error {}

/** Parsed command line. */
export interface SimCli {
  nodes: number[];
  seed: number;
  scenario: Scenario;
  out: string | null;
  flowsPerNode: number;
  interval: number;
  heuristic: boolean;
}

function int(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be an integer`);
  const v = Number(value);
  if (v < min || v > max) throw new UsageError(`--${name} must be in [${min}, ${max}]`);
  return v;
}

/** Parses the flags; throws {@link UsageError} on bad input. */
export function parseCli(args: string[]): SimCli {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        nodes: { type: "string", default: "100,1000" },
        seed: { type: "string", default: "1" },
        scenario: { type: "string", default: "relay-failure" },
        out: { type: "string" },
        "flows-per-node": { type: "string", default: "1" },
        interval: { type: "string", default: "200" },
        "no-heuristic": { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  const scenario = v.scenario as Scenario;
  if (!SCENARIOS.includes(scenario)) {
    throw new UsageError(`--scenario must be one of ${SCENARIOS.join(", ")}`);
  }
  const nodes = (v.nodes ?? "").split(",").map((s) => int(s.trim(), "nodes", 3, 100_000));
  return {
    nodes,
    seed: int(v.seed ?? "1", "seed", 0, 0xffffffff),
    scenario,
    out: v.out ?? null,
    flowsPerNode: int(v["flows-per-node"] ?? "1", "flows-per-node", 1, 100),
    interval: int(v.interval ?? "200", "interval", 10, 10_000),
    heuristic: !v["no-heuristic"],
  };
}

async function main(): Promise<number> {
  let cli: SimCli;
  try {
    cli = parseCli(Deno.args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`sim: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const results: SimResult[] = [];
  for (const nodes of cli.nodes) {
    const r = runSimulation({
      nodes,
      seed: cli.seed,
      scenario: cli.scenario,
      flowsPerNode: cli.flowsPerNode,
      packetIntervalMs: cli.interval,
      heuristic: cli.heuristic,
      progress: (ms) => console.error(`sim: N=${nodes} at ${ms / 1000} s of 55 s simulated`),
    });
    results.push(r);
    console.error(`sim: N=${nodes} done in ${(r.wallMs / 1000).toFixed(1)} s`);
  }
  const json = JSON.stringify({ scenario: cli.scenario, seed: cli.seed, results }, null, 2);
  console.log(json);
  if (cli.out) {
    await Deno.mkdir(cli.out, { recursive: true });
    const svg = renderChart(results.map((r) => ({
      nodes: r.nodes,
      meanStretch: r.stretch.mean,
      p99Stretch: r.stretch.p99,
      controlPerNodePerSec: r.control.steadyPerNodePerSec,
      controlPerRoutePerSec: r.control.steadyPerCarriedRoutePerSec,
    })));
    // Write to a temporary name and rename, so a crash never leaves a half-written file.
    for (const [name, body] of [["sim.json", json + "\n"], ["sim.svg", svg]]) {
      const tmp = `${cli.out}/.${name}.tmp`;
      await Deno.writeTextFile(tmp, body);
      await Deno.rename(tmp, `${cli.out}/${name}`);
    }
    console.error(`sim: wrote ${cli.out}/sim.json and ${cli.out}/sim.svg`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
