/**
 * One simulation run: N virtual nodes, each running the real {@link RouteAgent} from
 * core/route/, exchanging the real route messages over simulated tethers with great-circle
 * delays, carrying flows, and suffering the failures of the chosen scenario.
 *
 * Model (deliberately simple, stated so the figures can be judged):
 * - Tethers are the topology's links (4 nearest neighbours plus 2 long links drawn by rank, a
 *   navigable small world, see globe.ts), so a node holds ~8 tethers whatever N is; each is probed
 *   once per simulated second (the agent sees RTT with ±5% noise and the link's queue delay).
 *   Real probes run every 250 ms and a tether is declared dead after 3 misses, so a failure is
 *   reported to the agent 750–1,000 ms after it happens.
 * - Control messages travel on the tether they are addressed to (one-way link delay + 0.2 ms).
 * - Each flow sends a packet every `packetIntervalMs`; a packet walks hop by hop, each node
 *   calling `choose` (with exploration), each relay learning its upstream via `noteUpstream`.
 *   A packet is lost on a dead link or node, with no route, or beyond the hop limit.
 * - Discovery queries are steered by a prior built from node positions (`heuristic`), standing in
 *   for network coordinates; `heuristic: false` runs them blind.
 *
 * @module
 */

import { RouteAgent } from "../core/route/agent.ts";
import type { OutboundRouteMessage } from "../core/route/messages.ts";
import { mulberry32 } from "../core/route/prng.ts";
import type { Random } from "../core/route/prng.ts";
import { shortestDelays } from "./dijkstra.ts";
import { EventQueue } from "./event_queue.ts";
import {
  buildTopology,
  FIBRE_KM_PER_MS,
  greatCircleKm,
  placeNodes,
  ROUTE_INFLATION,
} from "./globe.ts";
import type { Topology } from "./globe.ts";

/** What happens during a run. */
export type Scenario = "steady" | "relay-failure" | "churn";

/** The scenarios the simulator knows. */
export const SCENARIOS: readonly Scenario[] = ["steady", "relay-failure", "churn"];

/** Parameters of one run. */
export interface SimOptions {
  nodes: number;
  seed: number;
  scenario: Scenario;
  /** Flows started per node, each to a random destination (default 1). */
  flowsPerNode?: number;
  /** Packet interval per flow in ms (default 200). */
  packetIntervalMs?: number;
  /** Steer discovery by node positions (default true). */
  heuristic?: boolean;
  /** Flows sampled for the stretch figures (default 300). */
  stretchSamples?: number;
  /** Hop limit of the agents (default 32). */
  hopLimit?: number;
  /** Nearest-neighbour links per node (default 4) and long links per node (default 2). */
  nearest?: number;
  long?: number;
  /** How long links are drawn (default `rank`, see {@link buildTopology}). */
  longLinks?: "rank" | "uniform";
  /** Called every 5 simulated seconds with the virtual time in ms (for progress output). */
  progress?: (simMs: number) => void;
}

/** Summary statistics of a set of stretch samples. */
export interface StretchStats {
  mean: number;
  p99: number;
  samples: number;
  /** Fraction of sampled flows whose greedy route did not reach the destination. */
  noRoute: number;
  /** Mean hops of the sampled routes (relaying load per node grows with it). */
  meanHops: number;
}

/** Recovery of the flows that were routed through the failed relay. */
export interface RecoveryStats {
  failedNode: string;
  affectedFlows: number;
  recovered: number;
  /** Flows whose destination became unreachable in the graph (not counted as failures). */
  unreachable: number;
  meanMs: number;
  p99Ms: number;
  maxMs: number;
}

/** Route control messages (queries + reports) per node per second in each phase. */
export interface ControlStats {
  warmupPerNodePerSec: number;
  steadyPerNodePerSec: number;
  afterEventPerNodePerSec: number;
  queries: number;
  reports: number;
  /** Discovery and asking queries per node per second in the steady phase (part of steady). */
  steadyQueriesPerNodePerSec: number;
  estimates: number;
  /** Estimates that said "no route through me" (failures, poisoned reverse). */
  infiniteEstimates: number;
  /** Liveness probes are data-plane messages on the tethers, counted apart (4/s per tether). */
  probesPerNodePerSec: number;
  /**
   * Steady route messages per node per second divided by the routes a node carries: the load
   * per route, which is what stays flat as the realm grows (routes per node grow with path
   * length).
   */
  steadyPerCarriedRoutePerSec: number;
}

/** What one run measured. */
export interface SimResult {
  nodes: number;
  links: number;
  seed: number;
  scenario: Scenario;
  flows: number;
  /** Greedy routes just before the event (failure / churn phase). */
  stretch: StretchStats;
  /** Greedy routes at the end of the run. */
  stretchAtEnd: StretchStats;
  recovery: RecoveryStats | null;
  control: ControlStats;
  delivery: { steady: number; afterEvent: number };
  explorationRate: number;
  /** Destinations per node that some neighbour routes through it at the end (load driver). */
  routesCarriedPerNode: number;
  discoveriesFailed: number;
  /** Discovery at the end of the steady phase, over every flow (not a sample). */
  discovery: DiscoveryStats;
  wallMs: number;
}

/** How well discovery did. */
export interface DiscoveryStats {
  /** Discoveries started by all agents (sources and repairing relays) during the run. */
  started: number;
  /** Discoveries that gave up after every attempt (then back off and retry). */
  failed: number;
  /** Fraction of flows whose greedy route reached the destination just before the event. */
  flowsRouted: number;
}

const WARMUP_END = 20_000;
const EVENT_AT = 40_000;
const END = 55_000;
const TICK_MS = 100;
const MESSAGE_OVERHEAD_MS = 0.2;

interface Flow {
  src: number;
  dst: number;
  start: number;
  nextAt: number;
  affected: boolean;
  recoveredAt: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Runs one simulation to completion (synchronously) and returns its figures. */
export function runSimulation(options: SimOptions): SimResult {
  const wallStart = performance.now();
  const n = options.nodes;
  if (!Number.isInteger(n) || n < 3) throw new RangeError("nodes must be an integer >= 3");
  const random: Random = mulberry32(options.seed);
  const places = placeNodes(n, random);
  const topo: Topology = buildTopology(places, random, {
    nearest: options.nearest ?? 4,
    long: options.long ?? 2,
    longLinks: options.longLinks ?? "rank",
  });
  const ids = places.map((_, i) => `n${i}`);
  const index = new Map(ids.map((id, i) => [id, i]));
  const linkOf = new Map<number, number>();
  topo.links.forEach((l, li) => {
    linkOf.set(l.a * n + l.b, li);
    linkOf.set(l.b * n + l.a, li);
  });
  const hopLimit = options.hopLimit ?? 32;
  const useHeuristic = options.heuristic ?? true;
  const heuristic = (neighbour: string, destination: string): number => {
    const a = index.get(neighbour);
    const b = index.get(destination);
    if (a === undefined || b === undefined) return 0;
    return (greatCircleKm(places[a], places[b]) * ROUTE_INFLATION) / FIBRE_KM_PER_MS;
  };
  const agents = ids.map((self, i) =>
    new RouteAgent({
      self,
      random: mulberry32((options.seed * 1_000_003 + i * 7919) >>> 0),
      hopLimit,
      heuristic: useHeuristic ? heuristic : undefined,
    })
  );
  const linkUp = new Uint8Array(topo.links.length).fill(1);
  const nodeUp = new Uint8Array(n).fill(1);
  const queue = new Float64Array(topo.links.length);
  for (let li = 0; li < queue.length; li++) {
    queue[li] = random() < 0.8 ? random() : 2 + 8 * random();
  }
  const delay = (li: number) => topo.links[li].delayMs + queue[li];
  const alive = (li: number) =>
    linkUp[li] === 1 && nodeUp[topo.links[li].a] === 1 && nodeUp[topo.links[li].b] === 1;

  const events = new EventQueue();
  const control = {
    warmup: 0,
    steady: 0,
    steadyQueries: 0,
    after: 0,
    queries: 0,
    reports: 0,
    estimates: 0,
    infinite: 0,
  };
  const packets = { steadySent: 0, steadyOk: 0, afterSent: 0, afterOk: 0 };

  const send = (from: number, outs: OutboundRouteMessage[], now: number) => {
    for (const { to, message } of outs) {
      const v = index.get(to)!;
      if (now < WARMUP_END) control.warmup++;
      else if (now < EVENT_AT) {
        control.steady++;
        if (message.kind === "query") control.steadyQueries++;
      } else control.after++;
      if (message.kind === "query") control.queries++;
      else {
        control.reports++;
        control.estimates += message.estimates.length;
        for (const e of message.estimates) if (!Number.isFinite(e.estimateMs)) control.infinite++;
      }
      const li = linkOf.get(from * n + v);
      if (li === undefined || !alive(li)) continue;
      events.at(now + delay(li) + MESSAGE_OVERHEAD_MS, () => {
        if (!alive(li)) return;
        const t = events.now;
        agents[v].receive(ids[from], message, t);
        send(v, agents[v].poll(t), t);
      });
    }
  };

  // A failure is noticed by each end 750–1,000 ms later (probe every 250 ms, 3 misses).
  const detect = (li: number, now: number) => {
    const { a, b } = topo.links[li];
    for (const [u, v] of [[a, b], [b, a]]) {
      events.at(now + 750 + 250 * random(), () => {
        if (nodeUp[u] !== 1 || alive(li)) return;
        agents[u].linkDown(ids[v], events.now);
        send(u, agents[u].poll(events.now), events.now);
      });
    }
  };

  // Flows: random source/destination pairs, started in the first 2 s.
  const flows: Flow[] = [];
  const flowsAt: number[][] = ids.map(() => []);
  const perNode = options.flowsPerNode ?? 1;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < perNode; f++) {
      let dst = Math.floor(random() * n);
      if (dst === i) dst = (dst + 1) % n;
      const start = 2_000 * random();
      flowsAt[i].push(flows.length);
      flows.push({ src: i, dst, start, nextAt: start, affected: false, recoveredAt: Infinity });
    }
  }
  const interval = options.packetIntervalMs ?? 200;

  const walk = (flow: Flow, now: number): boolean => {
    const dstId = ids[flow.dst];
    let cur = flow.src;
    let prev = -1;
    for (let hops = 0; hops <= hopLimit; hops++) {
      if (cur === flow.dst) return true;
      const choice = prev < 0
        ? agents[cur].choose(dstId, now)
        : agents[cur].choose(dstId, now, { exclude: ids[prev], discover: false });
      if (choice.kind !== "next-hop") return false;
      const next = index.get(choice.nextHop)!;
      const li = linkOf.get(cur * n + next);
      if (li === undefined || !alive(li)) return false;
      agents[next].noteUpstream(ids[cur], dstId, now);
      prev = cur;
      cur = next;
    }
    return false;
  };

  // Per-node clock: probes once a second, flows, then poll.
  const tick = (u: number, count: number) => {
    const now = events.now;
    if (nodeUp[u] !== 1) return;
    if (count % 10 === 0) {
      for (const li of topo.adjacency[u]) {
        if (!alive(li)) continue;
        const l = topo.links[li];
        const v = l.a === u ? l.b : l.a;
        const noise = 1 + 0.1 * (random() - 0.5);
        agents[u].linkMeasured(ids[v], now, {
          rttMs: 2 * l.delayMs * noise,
          queueMs: queue[li],
        });
      }
    }
    for (const fi of flowsAt[u]) {
      const flow = flows[fi];
      while (flow.nextAt <= now) {
        flow.nextAt += interval;
        if (nodeUp[flow.dst] !== 1) continue;
        const ok = walk(flow, now);
        if (now >= WARMUP_END && now < EVENT_AT) {
          packets.steadySent++;
          if (ok) packets.steadyOk++;
        } else if (now >= EVENT_AT) {
          packets.afterSent++;
          if (ok) packets.afterOk++;
          if (ok && flow.affected && flow.recoveredAt === Infinity) flow.recoveredAt = now;
        }
      }
    }
    send(u, agents[u].poll(now), now);
    events.at(now + TICK_MS, () => tick(u, count + 1));
  };
  for (let u = 0; u < n; u++) {
    const phase = TICK_MS * random();
    events.at(phase, () => tick(u, 0));
  }

  const greedyPath = (src: number, dst: number): number[] | null => {
    const path = [src];
    let cur = src;
    let prev = -1;
    for (let hops = 0; hops <= hopLimit; hops++) {
      if (cur === dst) return path;
      const e = agents[cur].best(ids[dst], prev < 0 ? {} : { exclude: ids[prev] });
      if (!e) return null;
      const next = index.get(e.nextHop)!;
      const li = linkOf.get(cur * n + next);
      if (li === undefined || !alive(li)) return null;
      path.push(next);
      prev = cur;
      cur = next;
    }
    return null;
  };

  const sampleRandom = mulberry32(options.seed ^ 0x5eed);
  const stretch = (): StretchStats => {
    const want = Math.min(options.stretchSamples ?? 300, flows.length);
    const values: number[] = [];
    let hops = 0;
    let noRoute = 0;
    let tried = 0;
    for (let s = 0; s < want * 3 && tried < want; s++) {
      const flow = flows[Math.floor(sampleRandom() * flows.length)];
      if (nodeUp[flow.src] !== 1 || nodeUp[flow.dst] !== 1) continue;
      const best = shortestDelays(topo, flow.src, (li) => alive(li) ? delay(li) : Infinity);
      const opt = best[flow.dst];
      if (!Number.isFinite(opt)) continue;
      tried++;
      const path = greedyPath(flow.src, flow.dst);
      if (!path) {
        noRoute++;
        continue;
      }
      let d = 0;
      hops += path.length - 1;
      for (let i = 1; i < path.length; i++) d += delay(linkOf.get(path[i - 1] * n + path[i])!);
      values.push(d / opt);
    }
    const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    return {
      mean: round(mean),
      p99: round(percentile(values, 99)),
      samples: values.length,
      noRoute: round(noRoute / Math.max(1, tried)),
      meanHops: round(hops / Math.max(1, values.length), 2),
    };
  };

  const runTo = (until: number) => {
    for (let t = Math.ceil((events.now + 1) / 5_000) * 5_000; t < until; t += 5_000) {
      events.runUntil(t);
      options.progress?.(t);
    }
    events.runUntil(until);
  };
  runTo(EVENT_AT - 1);
  const before = stretch();
  let routed = 0;
  for (const f of flows) if (greedyPath(f.src, f.dst)) routed++;

  let recovery: RecoveryStats | null = null;
  let victim = -1;
  if (options.scenario === "relay-failure") {
    // Fail the relay that carries the most flows on their greedy routes.
    const load = new Int32Array(n);
    const paths = flows.map((f) => greedyPath(f.src, f.dst));
    for (const p of paths) {
      if (p) { for (let i = 1; i < p.length - 1; i++) load[p[i]]++; }
    }
    victim = load.indexOf(Math.max(...load));
    flows.forEach((f, fi) => {
      const p = paths[fi];
      f.affected = !!p && p.includes(victim) && f.src !== victim && f.dst !== victim;
    });
    events.at(EVENT_AT, () => {
      nodeUp[victim] = 0;
      for (const li of topo.adjacency[victim]) detect(li, EVENT_AT);
    });
  } else if (options.scenario === "churn") {
    // Each link fails on average once per 300 s for 5 s; 10% of links change load every 5 s.
    // Flows are counted as "affected" if their route at the start of the phase breaks.
    for (let t = EVENT_AT; t < END; t += 1_000) {
      events.at(t, () => {
        for (let li = 0; li < topo.links.length; li++) {
          if (linkUp[li] === 1 && random() < 1 / 300) {
            linkUp[li] = 0;
            detect(li, events.now);
            events.at(events.now + 5_000, () => {
              linkUp[li] = 1;
            });
          }
        }
        if ((t - EVENT_AT) % 5_000 === 0) {
          for (let li = 0; li < queue.length; li++) {
            if (random() < 0.1) queue[li] = random() < 0.5 ? random() : 10 + 20 * random();
          }
        }
      });
    }
  }
  runTo(END);
  const atEnd = stretch();

  if (victim >= 0) {
    const affected = flows.filter((f) => f.affected);
    const times: number[] = [];
    let unreachable = 0;
    const sources = new Map<number, Float64Array>();
    for (const f of affected) {
      let dist = sources.get(f.src);
      if (!dist) {
        dist = shortestDelays(topo, f.src, (li) => alive(li) ? delay(li) : Infinity);
        sources.set(f.src, dist);
      }
      if (!Number.isFinite(dist[f.dst])) unreachable++;
      else if (f.recoveredAt < Infinity) times.push(f.recoveredAt - EVENT_AT);
    }
    recovery = {
      failedNode: ids[victim],
      affectedFlows: affected.length,
      recovered: times.length,
      unreachable,
      meanMs: round(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length), 1),
      p99Ms: round(percentile(times, 99), 1),
      maxMs: round(times.length ? Math.max(...times) : NaN, 1),
    };
  }

  const stats = agents.map((a) => a.stats);
  let carried = 0;
  for (const a of agents) for (const r of a.snapshot()) if (r.subscribers.length > 0) carried++;
  const decisions = stats.reduce((s, x) => s + x.decisions, 0);
  const explorations = stats.reduce((s, x) => s + x.explorations, 0);
  const degreeSum = topo.adjacency.reduce((s, a) => s + a.length, 0);
  return {
    nodes: n,
    links: topo.links.length,
    seed: options.seed,
    scenario: options.scenario,
    flows: flows.length,
    stretch: before,
    stretchAtEnd: atEnd,
    recovery,
    control: {
      warmupPerNodePerSec: round(control.warmup / n / (WARMUP_END / 1000)),
      steadyPerNodePerSec: round(control.steady / n / ((EVENT_AT - WARMUP_END) / 1000)),
      afterEventPerNodePerSec: round(control.after / n / ((END - EVENT_AT) / 1000)),
      queries: control.queries,
      reports: control.reports,
      steadyQueriesPerNodePerSec: round(
        control.steadyQueries / n / ((EVENT_AT - WARMUP_END) / 1000),
      ),
      estimates: control.estimates,
      infiniteEstimates: control.infinite,
      probesPerNodePerSec: round((4 * degreeSum) / n, 1),
      steadyPerCarriedRoutePerSec: round(
        control.steady / n / ((EVENT_AT - WARMUP_END) / 1000) / Math.max(1, carried / n),
      ),
    },
    delivery: {
      steady: round(packets.steadyOk / Math.max(1, packets.steadySent), 4),
      afterEvent: round(packets.afterOk / Math.max(1, packets.afterSent), 4),
    },
    explorationRate: round(explorations / Math.max(1, decisions), 4),
    routesCarriedPerNode: round(carried / n, 2),
    discoveriesFailed: stats.reduce((s, x) => s + x.discoveriesFailed, 0),
    discovery: {
      started: stats.reduce((s, x) => s + x.discoveriesStarted, 0),
      failed: stats.reduce((s, x) => s + x.discoveriesFailed, 0),
      flowsRouted: round(routed / Math.max(1, flows.length), 4),
    },
    wallMs: Math.round(performance.now() - wallStart),
  };
}
