/**
 * Virtual nodes on a globe and the links between them.
 *
 * Nodes cluster around population centres (most overlay nodes sit where people and data centres
 * are), each node links to its nearest neighbours plus a few long links, and the one-way delay of
 * a link follows the great-circle distance through fibre with a route inflation factor.
 *
 * Long links are drawn by rank (Liben-Nowell et al., 2005): a node links to its r-th closest
 * node with probability proportional to 1/r. That is the small world real social and overlay
 * graphs show (people talk mostly to nearby peers, sometimes far away) and, unlike uniformly
 * random long links, it is navigable: a walk that always steps closer to the target reaches it
 * in O(log² N) hops even where node density varies by orders of magnitude, as it does here.
 *
 * @module
 */

import type { Random } from "../core/route/prng.ts";

/** Earth radius in km. */
export const EARTH_RADIUS_KM = 6371;
/** Light in fibre covers about 200 km per ms. */
export const FIBRE_KM_PER_MS = 200;
/** Real routes are longer than the great circle. */
export const ROUTE_INFLATION = 1.5;
/** Fixed per-link cost (forwarding, serialization) in ms. */
export const PER_HOP_MS = 0.5;

/** A node position: latitude and longitude in degrees, plus its unit vector. */
export interface Place {
  lat: number;
  lon: number;
  x: number;
  y: number;
  z: number;
}

/** An undirected link between two node indexes with its base one-way delay. */
export interface Link {
  a: number;
  b: number;
  delayMs: number;
}

/** A generated topology. */
export interface Topology {
  places: Place[];
  links: Link[];
  /** adjacency[i] = indexes into `links` touching node i. */
  adjacency: number[][];
}

const CENTRES: [number, number, number][] = [
  // lat, lon, weight: rough population / hosting centres.
  [40, -75, 3],
  [37, -122, 2],
  [51, 0, 3],
  [50, 8, 3],
  [35, 139, 2],
  [1, 104, 2],
  [22, 114, 2],
  [19, 73, 2],
  [-23, -46, 1.5],
  [-33, 151, 1],
  [-26, 28, 0.7],
  [55, 37, 1],
  [30, 31, 0.8],
  [6, 3, 0.8],
];

function place(lat: number, lon: number): Place {
  const phi = (lat * Math.PI) / 180;
  const lambda = (lon * Math.PI) / 180;
  return {
    lat,
    lon,
    x: Math.cos(phi) * Math.cos(lambda),
    y: Math.cos(phi) * Math.sin(lambda),
    z: Math.sin(phi),
  };
}

/** Great-circle distance in km between two places. */
export function greatCircleKm(p: Place, q: Place): number {
  const dot = Math.min(1, Math.max(-1, p.x * q.x + p.y * q.y + p.z * q.z));
  return Math.acos(dot) * EARTH_RADIUS_KM;
}

/** Base one-way delay in ms of a direct link between two places. */
export function linkDelayMs(p: Place, q: Place): number {
  return (greatCircleKm(p, q) * ROUTE_INFLATION) / FIBRE_KM_PER_MS + PER_HOP_MS;
}

function gaussian(random: Random): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Places `n` nodes: 85% around weighted centres (σ ≈ 6°), the rest uniformly on the sphere. */
export function placeNodes(n: number, random: Random): Place[] {
  const total = CENTRES.reduce((s, c) => s + c[2], 0);
  const out: Place[] = [];
  for (let i = 0; i < n; i++) {
    if (random() < 0.85) {
      let r = random() * total;
      let c = CENTRES[0];
      for (const cand of CENTRES) {
        r -= cand[2];
        if (r <= 0) {
          c = cand;
          break;
        }
      }
      const lat = Math.max(-89, Math.min(89, c[0] + 6 * gaussian(random)));
      const lon = ((c[1] + 6 * gaussian(random) + 540) % 360) - 180;
      out.push(place(lat, lon));
    } else {
      const z = 2 * random() - 1;
      out.push(place((Math.asin(z) * 180) / Math.PI, 360 * random() - 180));
    }
  }
  return out;
}

/** Options of {@link buildTopology}. */
export interface TopologyOptions {
  /** Links to the nearest nodes per node (default 4). */
  nearest?: number;
  /** Long links per node (default 1). */
  long?: number;
  /**
   * How long links are drawn: `rank` (default) picks the r-th closest node with probability
   * ∝ 1/r (navigable small world); `uniform` picks any node with equal probability.
   */
  longLinks?: "rank" | "uniform";
}

/**
 * Links each node to its `nearest` closest nodes and to `long` more nodes drawn as
 * `longLinks` says, then joins any disconnected parts so that the graph is connected.
 * Deterministic for a given `random`.
 */
export function buildTopology(
  places: Place[],
  random: Random,
  options: TopologyOptions = {},
): Topology {
  const n = places.length;
  const k = Math.min(n - 1, options.nearest ?? 4);
  const long = options.long ?? 1;
  const byRank = (options.longLinks ?? "rank") === "rank";
  const far = new Float64Array(n);
  const scratch = new Float64Array(n);
  const links: Link[] = [];
  const adjacency: number[][] = places.map(() => []);
  const seen = new Set<number>();
  const add = (a: number, b: number) => {
    if (a === b) return;
    const key = a < b ? a * n + b : b * n + a;
    if (seen.has(key)) return;
    seen.add(key);
    adjacency[a].push(links.length);
    adjacency[b].push(links.length);
    links.push({ a, b, delayMs: linkDelayMs(places[a], places[b]) });
  };
  // Nearest neighbours by a bucketed search on the unit-vector dot product.
  const grid = new Map<string, number[]>();
  const cell = (p: Place) => `${Math.floor((p.lat + 90) / 5)},${Math.floor((p.lon + 180) / 5)}`;
  places.forEach((p, i) => {
    const c = cell(p);
    const list = grid.get(c);
    if (list) list.push(i);
    else grid.set(c, [i]);
  });
  for (let i = 0; i < n; i++) {
    const p = places[i];
    let ring = 1;
    let best: { j: number; dot: number }[] = [];
    for (;;) {
      best = [];
      const la = Math.floor((p.lat + 90) / 5);
      const lo = Math.floor((p.lon + 180) / 5);
      for (let da = -ring; da <= ring; da++) {
        for (let dl = -ring; dl <= ring; dl++) {
          const list = grid.get(`${la + da},${(((lo + dl) % 72) + 72) % 72}`);
          if (!list) continue;
          for (const j of list) {
            if (j === i) continue;
            const q = places[j];
            best.push({ j, dot: p.x * q.x + p.y * q.y + p.z * q.z });
          }
        }
      }
      // Enough candidates in a wide enough ring, or we covered the globe.
      if (best.length >= k * 3 || ring >= 36) break;
      ring *= 2;
    }
    best.sort((a, b) => b.dot - a.dot);
    for (const { j } of best.slice(0, k)) add(i, j);
    for (let l = 0; l < long; l++) {
      add(i, byRank ? rankedPick(places, i, random, far, scratch) : Math.floor(random() * n));
    }
  }
  // Join components (rare) with one link each to the first component.
  const comp = components(n, links, adjacency);
  for (let c = 1; c < comp.count; c++) {
    const a = comp.first[0];
    const b = comp.first[c];
    add(a, b);
  }
  return { places, links, adjacency };
}

/**
 * The r-th closest node to `i` for r drawn with P(r) ∝ 1/r over 1..n-1 (continuous
 * approximation r = n^U). Quickselect on the negated dot product keeps this O(n) per link.
 */
function rankedPick(
  places: Place[],
  i: number,
  random: Random,
  far: Float64Array,
  scratch: Float64Array,
): number {
  const n = places.length;
  const r = Math.min(n - 1, Math.max(1, Math.floor(Math.exp(random() * Math.log(n)))));
  const p = places[i];
  for (let j = 0; j < n; j++) {
    const q = places[j];
    far[j] = j === i ? -Infinity : -(p.x * q.x + p.y * q.y + p.z * q.z);
  }
  scratch.set(far);
  const value = select(scratch, r);
  for (let j = 0; j < n; j++) if (far[j] === value && j !== i) return j;
  return (i + 1) % n;
}

/** The k-th smallest value of `a` (0-based); reorders `a`. */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[lo];
}

function components(
  n: number,
  links: Link[],
  adjacency: number[][],
): { count: number; first: number[] } {
  const label = new Int32Array(n).fill(-1);
  const first: number[] = [];
  for (let s = 0; s < n; s++) {
    if (label[s] >= 0) continue;
    const c = first.length;
    first.push(s);
    const stack = [s];
    label[s] = c;
    while (stack.length > 0) {
      const u = stack.pop()!;
      for (const li of adjacency[u]) {
        const v = links[li].a === u ? links[li].b : links[li].a;
        if (label[v] < 0) {
          label[v] = c;
          stack.push(v);
        }
      }
    }
  }
  return { count: first.length, first };
}
