import assert from "node:assert/strict";
import { flowHash, FlowletTable } from "./flowlet.ts";
import type { FlowletPaths } from "./flowlet.ts";

/** Two paths with settable delays; `choose` returns the preferred one. */
function paths(delays: Record<string, number>, preferred: () => string | null): FlowletPaths {
  return { choose: preferred, delayMs: (hop) => delays[hop] ?? Infinity };
}

Deno.test("flowlet keeps a busy flow on its path while another flow may move", () => {
  const delays = { slow: 30, fast: 10 };
  let prefer = "slow";
  const p = paths(delays, () => prefer);
  const table = new FlowletTable({ minGapMs: 1, marginMs: 2 });
  assert.equal(table.pick(1, 0, p), "slow");
  prefer = "fast"; // the agent now prefers the faster path
  // Flow 1 sends every 5 ms: gaps never exceed the 20 ms delay difference, so it stays.
  for (let t = 5; t <= 500; t += 5) assert.equal(table.pick(1, t, p), "slow");
  // A new flow to the same destination takes the preferred path at once: multi-link.
  assert.equal(table.pick(2, 500, p), "fast");
  assert.equal(table.pick(1, 505, p), "slow");
  // After an idle gap longer than the delay difference (+margin), flow 1 may move.
  assert.equal(table.pick(1, 505 + 23, p), "fast");
  assert.equal(table.moves, 1);
});

Deno.test("flowlet does not move on a gap shorter than the delay difference", () => {
  const delays = { slow: 50, fast: 10 };
  let prefer = "slow";
  const table = new FlowletTable({ minGapMs: 1, marginMs: 2 });
  const p = paths(delays, () => prefer);
  table.pick(9, 0, p);
  prefer = "fast";
  assert.equal(table.pick(9, 30, p), "slow", "30 ms gap < 40 ms difference");
  assert.equal(table.pick(9, 30 + 43, p), "fast", "43 ms gap > 40 ms + 2 ms margin");
});

Deno.test("flowlet moving to a slower path needs no gap beyond the minimum", () => {
  const delays = { a: 10, b: 12 };
  let prefer = "a";
  const table = new FlowletTable({ minGapMs: 1, marginMs: 2 });
  const p = paths(delays, () => prefer);
  table.pick(3, 0, p);
  prefer = "b";
  assert.equal(table.pick(3, 1, p), "a", "gap not above the minimum");
  assert.equal(table.pick(3, 4, p), "b", "slower path cannot reorder: margin only");
});

Deno.test("flowlet moves a flow at once when its path fails", () => {
  const delays: Record<string, number> = { a: 10, b: 40 };
  const table = new FlowletTable();
  let prefer = "a";
  const p = paths(delays, () => prefer);
  table.pick(5, 0, p);
  delays.a = Infinity; // the agent set the failed next hop's estimate to infinity
  prefer = "b";
  assert.equal(table.pick(5, 0.5, p), "b", "no idle gap needed");
  prefer = "none";
  delays.b = Infinity;
  const noRoute = paths(delays, () => null);
  assert.equal(table.pick(5, 1, noRoute), null);
  assert.equal(table.current(5), null, "a flow with a dead path and no route is forgotten");
});

Deno.test("flowlet table is bounded and sweeps idle flows", () => {
  const table = new FlowletTable({ maxFlows: 3, idleTimeoutMs: 100 });
  const p = paths({ a: 1 }, () => "a");
  for (let f = 0; f < 5; f++) table.pick(f, f, p);
  assert.equal(table.size, 3);
  assert.equal(table.current(0), null, "oldest forgotten");
  assert.equal(table.sweep(103), 1);
  assert.equal(table.size, 2);
  assert.throws(() => new FlowletTable({ marginMs: -1 }), { name: "RouteError" });
});

Deno.test("flowHash is stable and spreads similar keys", () => {
  const a = flowHash(new Uint8Array([100, 64, 0, 1, 100, 64, 0, 2, 6, 0x1f, 0x90, 0xc3, 0x50]));
  const b = flowHash(new Uint8Array([100, 64, 0, 1, 100, 64, 0, 2, 6, 0x1f, 0x90, 0xc3, 0x51]));
  assert.equal(
    a,
    flowHash(new Uint8Array([100, 64, 0, 1, 100, 64, 0, 2, 6, 0x1f, 0x90, 0xc3, 0x50])),
  );
  assert.notEqual(a, b);
  assert.ok(Number.isInteger(a) && a >= 0 && a < 2 ** 32);
});
