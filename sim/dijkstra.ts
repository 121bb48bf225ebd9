/**
 * True shortest paths (Dijkstra) over the simulated topology: the yardstick for path stretch.
 *
 * @module
 */

/** A graph as the simulator holds it: links by index and, per node, the links touching it. */
export interface Graph {
  links: { a: number; b: number }[];
  adjacency: number[][];
}

/**
 * Shortest one-way delay from `source` to every node, where `weight(linkIndex)` is the current
 * delay of a link (Infinity for a failed one). Unreachable nodes get Infinity.
 */
export function shortestDelays(
  graph: Graph,
  source: number,
  weight: (link: number) => number,
): Float64Array {
  const n = graph.adjacency.length;
  const dist = new Float64Array(n).fill(Infinity);
  const done = new Uint8Array(n);
  // Binary heap of [distance, node] pairs; stale entries are skipped when popped.
  const heapD: number[] = [];
  const heapN: number[] = [];
  const push = (d: number, v: number) => {
    heapD.push(d);
    heapN.push(v);
    let i = heapD.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heapD[p] <= heapD[i]) break;
      [heapD[p], heapD[i]] = [heapD[i], heapD[p]];
      [heapN[p], heapN[i]] = [heapN[i], heapN[p]];
      i = p;
    }
  };
  const pop = (): number => {
    const v = heapN[0];
    const lastD = heapD.pop()!;
    const lastN = heapN.pop()!;
    if (heapD.length > 0) {
      heapD[0] = lastD;
      heapN[0] = lastN;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heapD.length && heapD[l] < heapD[m]) m = l;
        if (r < heapD.length && heapD[r] < heapD[m]) m = r;
        if (m === i) break;
        [heapD[m], heapD[i]] = [heapD[i], heapD[m]];
        [heapN[m], heapN[i]] = [heapN[i], heapN[m]];
        i = m;
      }
    }
    return v;
  };
  dist[source] = 0;
  push(0, source);
  while (heapD.length > 0) {
    const u = pop();
    if (done[u]) continue;
    done[u] = 1;
    for (const li of graph.adjacency[u]) {
      const w = weight(li);
      if (!Number.isFinite(w)) continue;
      const link = graph.links[li];
      const v = link.a === u ? link.b : link.a;
      const d = dist[u] + w;
      if (d < dist[v]) {
        dist[v] = d;
        push(d, v);
      }
    }
  }
  return dist;
}
