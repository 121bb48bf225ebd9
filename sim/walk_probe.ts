/**
 * `deno run -A sim/walk_probe.ts`: how often one cold discovery walk of the real agent reaches
 * its destination on a generated realm, against the realm's size, its long links and the
 * query's TTL and steering. This is the measurement behind the 10,000-node fix (sim/README.md).
 *
 * Every node runs a {@link RouteAgent} with one walk per attempt (`queryFanout: [1]`); messages
 * are delivered at once, in order. Each trial asks for a destination no earlier trial used, so
 * no node on the way knows it and the walk must reach the destination itself.
 *
 * Flags: --nodes 10000 --long 2 --long-links rank|uniform --ttl 32 --cost-weight 0.1
 *        --trials 300 --seed 1
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RouteAgent } from "../core/route/agent.ts";
import type { OutboundRouteMessage } from "../core/route/messages.ts";
import { mulberry32 } from "../core/route/prng.ts";
import {
  buildTopology,
  FIBRE_KM_PER_MS,
  greatCircleKm,
  placeNodes,
  ROUTE_INFLATION,
} from "./globe.ts";

/** Parameters of {@link probeWalks}. */
export interface WalkProbeOptions {
  nodes: number;
  seed: number;
  /** Long links per node (nearest neighbours are 4). */
  long: number;
  longLinks: "rank" | "uniform";
  ttl: number;
  /** The agent's `queryCostWeight`. */
  costWeight: number;
  trials: number;
}

/** What {@link probeWalks} measured. */
export interface WalkProbeResult {
  options: WalkProbeOptions;
  links: number;
  /** Fraction of walks that reached their destination. */
  success: number;
  /** Query messages per successful walk: median and 90th percentile. */
  medianHops: number;
  p90Hops: number;
}

/** Runs the trials; deterministic for its options. */
export function probeWalks(options: WalkProbeOptions): WalkProbeResult {
  const n = options.nodes;
  const random = mulberry32(options.seed);
  const places = placeNodes(n, random);
  const topo = buildTopology(places, random, {
    nearest: 4,
    long: options.long,
    longLinks: options.longLinks,
  });
  const heuristic = (a: string, b: string) =>
    (greatCircleKm(places[Number(a.slice(1))], places[Number(b.slice(1))]) * ROUTE_INFLATION) /
    FIBRE_KM_PER_MS;
  const agents = places.map((_, i) =>
    new RouteAgent({
      self: `n${i}`,
      random: mulberry32(i + 1),
      hopLimit: Math.max(options.ttl, 1),
      queryTtl: options.ttl,
      queryFanout: [1],
      queryCostWeight: options.costWeight,
      heuristic,
    })
  );
  for (const l of topo.links) {
    agents[l.a].linkMeasured(`n${l.b}`, 0, { rttMs: 2 * l.delayMs });
    agents[l.b].linkMeasured(`n${l.a}`, 0, { rttMs: 2 * l.delayMs });
  }
  const pick = mulberry32(options.seed ^ 0x77a1);
  const usedDestinations = new Set<number>();
  const hops: number[] = [];
  let ok = 0;
  let tried = 0;
  for (let t = 0; t < options.trials * 3 && tried < options.trials; t++) {
    const src = Math.floor(pick() * n);
    const dst = Math.floor(pick() * n);
    if (src === dst || usedDestinations.has(dst)) continue;
    usedDestinations.add(dst);
    const now = 1 + t;
    if (agents[src].best(`n${dst}`)) continue; // a direct tether: nothing to discover
    tried++;
    agents[src].choose(`n${dst}`, now);
    let queries = 0;
    let pending: { from: number; out: OutboundRouteMessage }[] = agents[src].poll(now).map((
      out,
    ) => ({ from: src, out }));
    for (let round = 0; pending.length > 0 && round < 4 * options.ttl + 8; round++) {
      const next: typeof pending = [];
      for (const { from, out } of pending) {
        if (out.message.kind === "query") queries++;
        const to = Number(out.to.slice(1));
        agents[to].receive(`n${from}`, out.message, now);
        for (const o of agents[to].poll(now)) next.push({ from: to, out: o });
      }
      pending = next;
    }
    if (agents[src].best(`n${dst}`)) {
      ok++;
      hops.push(queries);
    }
  }
  hops.sort((a, b) => a - b);
  return {
    options,
    links: topo.links.length,
    success: Math.round((ok / Math.max(1, tried)) * 1000) / 1000,
    medianHops: hops[hops.length >> 1] ?? NaN,
    p90Hops: hops[Math.floor(hops.length * 0.9)] ?? NaN,
  };
}

function main(): number {
  let v;
  try {
    v = parseArgs({
      args: Deno.args,
      options: {
        nodes: { type: "string", default: "10000" },
        long: { type: "string", default: "2" },
        "long-links": { type: "string", default: "rank" },
        ttl: { type: "string", default: "32" },
        "cost-weight": { type: "string", default: "0.1" },
        trials: { type: "string", default: "300" },
        seed: { type: "string", default: "1" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`walk_probe: ${(e as Error).message}`);
    return 2;
  }
  const num = (s: string | undefined, name: string, min: number, max: number) => {
    const x = Number(s);
    if (!Number.isFinite(x) || x < min || x > max) {
      throw new RangeError(`--${name} must be a number in [${min}, ${max}]`);
    }
    return x;
  };
  const kind = v["long-links"];
  if (kind !== "rank" && kind !== "uniform") {
    console.error("walk_probe: --long-links must be rank or uniform");
    return 2;
  }
  try {
    const r = probeWalks({
      nodes: Math.floor(num(v.nodes, "nodes", 10, 100_000)),
      long: Math.floor(num(v.long, "long", 0, 16)),
      longLinks: kind,
      ttl: Math.floor(num(v.ttl, "ttl", 1, 64)),
      costWeight: num(v["cost-weight"], "cost-weight", 0, 10),
      trials: Math.floor(num(v.trials, "trials", 1, 100_000)),
      seed: Math.floor(num(v.seed, "seed", 0, 0xffffffff)),
    });
    console.log(JSON.stringify(r));
    return 0;
  } catch (e) {
    if (e instanceof RangeError) {
      console.error(`walk_probe: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(main());
