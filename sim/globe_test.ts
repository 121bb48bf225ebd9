import assert from "node:assert/strict";
import { buildTopology, greatCircleKm, linkDelayMs, placeNodes } from "./globe.ts";
import { mulberry32 } from "../core/route/prng.ts";
import { shortestDelays } from "./dijkstra.ts";

Deno.test("great-circle distance and delay follow the globe", () => {
  const [p] = placeNodes(1, mulberry32(1));
  assert.equal(greatCircleKm(p, p), 0);
  const london = { lat: 51.5, lon: -0.1 };
  const ny = { lat: 40.7, lon: -74 };
  const place = ({ lat, lon }: { lat: number; lon: number }) => {
    const phi = (lat * Math.PI) / 180;
    const l = (lon * Math.PI) / 180;
    return {
      lat,
      lon,
      x: Math.cos(phi) * Math.cos(l),
      y: Math.cos(phi) * Math.sin(l),
      z: Math.sin(phi),
    };
  };
  const km = greatCircleKm(place(london), place(ny));
  assert.ok(km > 5_500 && km < 5_600, `London-New York ${km} km`);
  assert.ok(linkDelayMs(place(london), place(ny)) > km / 200);
});

Deno.test("topology is connected, deterministic and links each node to its neighbours", () => {
  const build = () => {
    const random = mulberry32(9);
    return buildTopology(placeNodes(300, random), random, { nearest: 4, long: 1 });
  };
  const t = build();
  assert.deepEqual(build().links, t.links);
  for (const adj of t.adjacency) assert.ok(adj.length >= 4);
  const d = shortestDelays(t, 0, (li) => t.links[li].delayMs);
  assert.ok(d.every(Number.isFinite), "connected");
  const keys = new Set(t.links.map((l) => `${Math.min(l.a, l.b)}-${Math.max(l.a, l.b)}`));
  assert.equal(keys.size, t.links.length, "no duplicate links");
});

Deno.test("long links drawn by rank are mostly short, unlike uniform ones, and degree is bounded", () => {
  const places = placeNodes(2_000, mulberry32(4));
  const longLengths = (longLinks: "rank" | "uniform") => {
    const topo = buildTopology(places, mulberry32(8), { nearest: 0, long: 2, longLinks });
    assert.ok(topo.links.length <= 2 * 2_000 + 10);
    const km = topo.links.map((l) => greatCircleKm(places[l.a], places[l.b])).sort((a, b) => a - b);
    return km[km.length >> 1];
  };
  const rank = longLengths("rank");
  const uniform = longLengths("uniform");
  // Rank-based: P(r-th closest) ∝ 1/r, so the median link reaches about the √N-th closest
  // node, a few hundred km here; uniform links mostly cross oceans.
  assert.ok(rank * 5 < uniform, `median rank link ${rank} km, uniform ${uniform} km`);
});
