import assert from "node:assert/strict";
import { MAX_ESTIMATES_PER_REPORT, parseRouteMessage } from "./messages.ts";

Deno.test("parseRouteMessage accepts well-formed queries and reports", () => {
  const q = parseRouteMessage({
    kind: "query",
    queryId: 7,
    origin: "a",
    destination: "d",
    ttl: 5,
    path: ["a", "b"],
    closestMs: 12.5,
    stall: 1,
    extra: "dropped",
  });
  assert.deepEqual(q, {
    kind: "query",
    queryId: 7,
    origin: "a",
    destination: "d",
    ttl: 5,
    path: ["a", "b"],
    closestMs: 12.5,
    stall: 1,
  });
  const r = parseRouteMessage({
    kind: "report",
    estimates: [{ destination: "d", estimateMs: Infinity, hops: 0 }],
  });
  assert.deepEqual(r, {
    kind: "report",
    estimates: [{ destination: "d", estimateMs: Infinity, hops: 0 }],
  });
});

Deno.test("parseRouteMessage rejects bad input with a typed error", () => {
  const bad: unknown[] = [
    null,
    42,
    [],
    { kind: "nope" },
    { kind: "query", queryId: -1, origin: "a", destination: "d", ttl: 1, path: [] },
    { kind: "query", queryId: 1, origin: "", destination: "d", ttl: 1, path: [] },
    { kind: "query", queryId: 1, origin: "a", destination: "d", ttl: 1.5, path: [] },
    { kind: "query", queryId: 1, origin: "a", destination: "d", ttl: 1, path: [3] },
    { kind: "query", queryId: 1, origin: "a".repeat(200), destination: "d", ttl: 1, path: [] },
    { kind: "report", estimates: "x" },
    { kind: "report", estimates: [{ destination: "d", estimateMs: NaN, hops: 1 }] },
    { kind: "report", estimates: [{ destination: "d", estimateMs: -1, hops: 1 }] },
    { kind: "report", estimates: [{ destination: "d", estimateMs: 1, hops: 300 }] },
  ];
  for (const value of bad) {
    assert.throws(() => parseRouteMessage(value), { name: "RouteError", code: "malformed" });
  }
  const many = Array.from(
    { length: MAX_ESTIMATES_PER_REPORT + 1 },
    () => ({ destination: "d", estimateMs: 1, hops: 1 }),
  );
  assert.throws(
    () => parseRouteMessage({ kind: "report", estimates: many }),
    { name: "RouteError", code: "oversized" },
  );
});
