/**
 * A synchronous network of real agents for tests: whole conversations (probes, queries,
 * reports, frames) run to quiescence without timers, so a test can assert on the outcome and
 * on every message sent. Test support only; nothing in the product imports it.
 *
 * @module
 */

import { RouteAgent } from "../agent.ts";
import type { RouteAgentOptions } from "../agent.ts";
import type { OutboundRouteMessage, RouteMessage } from "../messages.ts";
import { mulberry32 } from "../prng.ts";
import { shortestDelays } from "../../../sim/dijkstra.ts";
import {
  buildTopology,
  FIBRE_KM_PER_MS,
  greatCircleKm,
  placeNodes,
  ROUTE_INFLATION,
} from "../../../sim/globe.ts";

/** A tiny synchronous network of real agents: links with one-way delays in ms. */
export class Net {
  readonly agents = new Map<string, RouteAgent>();
  readonly links: { a: string; b: string; delayMs: number }[];
  readonly sent: { from: string; to: string; message: RouteMessage }[] = [];
  readonly down = new Set<string>();
  now = 0;

  constructor(
    links: [string, string, number][],
    options: Partial<RouteAgentOptions> = {},
  ) {
    this.links = links.map(([a, b, delayMs]) => ({ a, b, delayMs }));
    const names = [...new Set(links.flatMap(([a, b]) => [a, b]))].sort();
    names.forEach((self, i) =>
      this.agents.set(self, new RouteAgent({ self, random: mulberry32(i + 1), ...options }))
    );
    this.probe();
  }

  agent(name: string): RouteAgent {
    return this.agents.get(name)!;
  }

  key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  probe(): void {
    for (const l of this.links) {
      if (this.down.has(this.key(l.a, l.b))) continue;
      this.agent(l.a).linkMeasured(l.b, this.now, { rttMs: 2 * l.delayMs });
      this.agent(l.b).linkMeasured(l.a, this.now, { rttMs: 2 * l.delayMs });
    }
  }

  fail(a: string, b: string): void {
    this.down.add(this.key(a, b));
    this.agent(a).linkDown(b, this.now);
    this.agent(b).linkDown(a, this.now);
  }

  /** Polls everyone and delivers until no message is left (bounded). */
  settle(): void {
    for (let round = 0; round < 100; round++) {
      const batch: { from: string; out: OutboundRouteMessage }[] = [];
      for (const [name, agent] of this.agents) {
        for (const out of agent.poll(this.now)) batch.push({ from: name, out });
      }
      if (batch.length === 0) return;
      for (const { from, out } of batch) {
        this.sent.push({ from, to: out.to, message: out.message });
        if (this.down.has(this.key(from, out.to))) continue;
        this.agent(out.to).receive(from, out.message, this.now);
      }
    }
    throw new Error("network did not settle");
  }

  /** Sends one packet hop by hop; returns the path, or null if it was lost. */
  send(src: string, dst: string): string[] | null {
    const path = [src];
    let cur = src;
    let prev: string | undefined;
    for (let hops = 0; hops < 32; hops++) {
      if (cur === dst) return path;
      const c = this.agent(cur).choose(
        dst,
        this.now,
        prev === undefined ? {} : { exclude: prev, discover: false },
      );
      if (c.kind !== "next-hop") return null;
      if (this.down.has(this.key(cur, c.nextHop))) return null;
      this.agent(c.nextHop).noteUpstream(cur, dst, this.now);
      prev = cur;
      cur = c.nextHop;
      path.push(cur);
    }
    return null;
  }

  /** Advances time in steps, probing once a second and sending `packets` per step. */
  run(ms: number, flows: [string, string][], stepMs = 100): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += stepMs;
      if (this.now % 1000 === 0) this.probe();
      for (const [s, d] of flows) this.send(s, d);
      this.settle();
    }
  }

  /** True shortest delay between two nodes, from Dijkstra over the same links. */
  truth(src: string, dst: string): number {
    const names = [...this.agents.keys()];
    const idx = new Map(names.map((n, i) => [n, i]));
    const links = this.links.map((l) => ({ a: idx.get(l.a)!, b: idx.get(l.b)! }));
    const adjacency: number[][] = names.map(() => []);
    links.forEach((l, i) => {
      adjacency[l.a].push(i);
      adjacency[l.b].push(i);
    });
    const dist = shortestDelays(
      { links, adjacency },
      idx.get(src)!,
      (li) =>
        this.down.has(this.key(this.links[li].a, this.links[li].b))
          ? Infinity
          : this.links[li].delayMs,
    );
    return dist[idx.get(dst)!];
  }
}

/** A small world of `n` nodes on the globe (as in sim/), with the position prior for queries. */
export function smallWorld(n: number, seed: number, options: Partial<RouteAgentOptions> = {}): Net {
  const random = mulberry32(seed);
  const places = placeNodes(n, random);
  const topo = buildTopology(places, random, { nearest: 4, long: 2 });
  const heuristic = (a: string, b: string) =>
    (greatCircleKm(places[Number(a.slice(1))], places[Number(b.slice(1))]) * ROUTE_INFLATION) /
    FIBRE_KM_PER_MS;
  return new Net(
    topo.links.map((l) => [`n${l.a}`, `n${l.b}`, l.delayMs]),
    { hopLimit: 32, heuristic, ...options },
  );
}
