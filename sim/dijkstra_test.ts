import assert from "node:assert/strict";
import { shortestDelays } from "./dijkstra.ts";
import { mulberry32 } from "../core/route/prng.ts";

Deno.test("dijkstra matches Floyd-Warshall on random graphs, with failed links", () => {
  const random = mulberry32(3);
  for (let round = 0; round < 20; round++) {
    const n = 12;
    const links: { a: number; b: number; w: number }[] = [];
    for (let i = 0; i < 24; i++) {
      const a = Math.floor(random() * n);
      const b = Math.floor(random() * n);
      if (a !== b) links.push({ a, b, w: random() < 0.1 ? Infinity : 1 + 50 * random() });
    }
    const adjacency: number[][] = Array.from({ length: n }, () => []);
    links.forEach((l, i) => {
      adjacency[l.a].push(i);
      adjacency[l.b].push(i);
    });
    const fw = Array.from(
      { length: n },
      (_, i) => Array.from({ length: n }, (_, j) => i === j ? 0 : Infinity),
    );
    for (const l of links) {
      fw[l.a][l.b] = Math.min(fw[l.a][l.b], l.w);
      fw[l.b][l.a] = Math.min(fw[l.b][l.a], l.w);
    }
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) fw[i][j] = Math.min(fw[i][j], fw[i][k] + fw[k][j]);
      }
    }
    for (let s = 0; s < n; s++) {
      const d = shortestDelays({ links, adjacency }, s, (li) => links[li].w);
      for (let t = 0; t < n; t++) {
        if (!Number.isFinite(fw[s][t])) assert.equal(d[t], Infinity);
        else assert.ok(Math.abs(d[t] - fw[s][t]) < 1e-9, `${s}->${t}`);
      }
    }
  }
});
