import assert from "node:assert/strict";
import { bestRoute, excluding, rankedRoutes } from "./best_route.ts";
import { destinationFor } from "./destination.ts";
import { learnReport } from "./learning.ts";
import { mulberry32 } from "./prng.ts";
import { NONE } from "./q_table.ts";
import { newAgentState } from "./state.ts";

/** S with tethers to D (direct) and to a, b, c, which report the given estimates for D. */
function withRoutes(reports: [string, number, number][]) {
  const s = newAgentState({ self: "S", random: mulberry32(1) });
  s.links.measure("D", { rttMs: 20 }); // direct: 10 ms, 1 hop
  for (const [from, estimateMs, hops] of reports) {
    s.links.measure(from, { rttMs: 2 }); // 1 ms each
    learnReport(
      s,
      from,
      { kind: "report", estimates: [{ destination: "D", estimateMs, hops }] },
      0,
    );
  }
  return { s, d: destinationFor(s, "D", 0) };
}

Deno.test("best route: the lowest estimate wins, over the direct tether too", () => {
  const { s, d } = withRoutes([["a", 12, 2], ["b", 5, 3], ["c", 7, 1]]);
  const { best, usable } = bestRoute(s, "D", d, undefined);
  assert.deepEqual(best, { nextHop: "b", estimateMs: 6, hops: 4 });
  assert.equal(usable, 4);
});

Deno.test("best route: equal estimates go to fewer hops, or to the first walked", () => {
  // a and b both give 9 ms; b has fewer hops. The direct tether (10 ms) is worse.
  const { s, d } = withRoutes([["a", 8, 5], ["b", 8, 2]]);
  assert.equal(bestRoute(s, "D", d, undefined).best.nextHop, "b");
  assert.equal(bestRoute(s, "D", d, undefined, "first").best.nextHop, "a");
});

Deno.test("best route: skipped neighbours and the destination's own direct tether", () => {
  const { s, d } = withRoutes([["a", 3, 2]]);
  assert.equal(bestRoute(s, "D", d, excluding("a")).best.nextHop, "D");
  const none = bestRoute(s, "D", d, (y) => y === "a" || y === "D");
  assert.equal(none.best, NONE);
  assert.equal(none.usable, 0);
  // Without destination state only the direct tether is known.
  assert.equal(bestRoute(s, "D", undefined, undefined).best.nextHop, "D");
});

Deno.test("best route: unusable candidates are not counted and not ranked", () => {
  const { s, d } = withRoutes([["a", 3, 2], ["b", Infinity, 0], ["c", 4, 99]]);
  // b said "no route" and c's route is beyond the hop limit: neither became a candidate.
  assert.equal(bestRoute(s, "D", d, undefined).usable, 2);
  assert.deepEqual(rankedRoutes(s, "D", d, undefined).map((e) => e.nextHop), ["a", "D"]);
});

Deno.test("ranked routes: best first, ties by hops, the same order as the best route", () => {
  const { s, d } = withRoutes([["a", 8, 5], ["b", 8, 2], ["c", 1, 1]]);
  const ranked = rankedRoutes(s, "D", d, undefined);
  assert.deepEqual(ranked.map((e) => e.nextHop), ["c", "b", "a", "D"]);
  assert.deepEqual(ranked[0], bestRoute(s, "D", d, undefined).best);
  assert.equal(rankedRoutes(s, "D", d, excluding("c"))[0].nextHop, "b");
});
