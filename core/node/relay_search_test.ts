import assert from "node:assert/strict";
import {
  MAX_QUERY_DEPTH,
  QUERY_INTERVAL_MS,
  QUERY_TIMEOUT_MS,
  RelaySearch,
  REMEMBER_MS,
  SERVE_ATTEMPT_BURST,
  SERVE_CONCURRENT,
  SERVE_DEDUPE_MS,
} from "./relay_search.ts";

Deno.test("relay search: offers reach the query's waiters, once per relay", () => {
  const s = new RelaySearch();
  const heard: string[] = [];
  const q = s.begin("d", 0, (r) => heard.push(r), "q1");
  assert.deepEqual(q, { queryId: "q1", fresh: true });
  assert.equal(s.offer("q1", "r1", "d", 10), true);
  assert.equal(s.offer("q1", "r1", "d", 11), false, "the same relay twice");
  assert.equal(s.offer("q1", "r2", "other", 12), false, "an offer for another destination");
  assert.equal(s.offer("nope", "r3", "d", 12), false, "an offer for no query");
  assert.equal(s.offer("q1", "r3", "d", QUERY_TIMEOUT_MS + 1), false, "an offer after expiry");
  assert.deepEqual(heard, ["r1"]);
  // An offer alone is not remembered: only a relay that carried traffic back is.
  assert.deepEqual(s.remembered("d", 20), []);
});

Deno.test("relay search: own queries are known; a full relay is busy before any check", () => {
  const s = new RelaySearch();
  s.begin("d", 0, () => {}, "q1");
  assert.equal(s.isOpen("q1"), true);
  assert.equal(s.isOpen("q2"), false);
  for (let i = 0; i < SERVE_CONCURRENT; i++) s.decide(`a${i}`, "d", 0, true, 0);
  assert.equal(s.busy(), true);
  s.done();
  assert.equal(s.busy(), false);
});

Deno.test("relay search: a second search for the destination joins the open query", () => {
  const s = new RelaySearch();
  const a: string[] = [], b: string[] = [];
  s.begin("d", 0, (r) => a.push(r), "q1");
  s.offer("q1", "r1", "d", 5);
  const second = s.begin("d", 10, (r) => b.push(r), "q2");
  assert.deepEqual(second, { queryId: "q1", fresh: false });
  assert.deepEqual(b, ["r1"], "earlier offers are replayed to the joiner");
  s.offer("q1", "r2", "d", 20);
  assert.deepEqual(a, ["r1", "r2"]);
  assert.deepEqual(b, ["r1", "r2"]);
  // Once expired, a new query starts.
  assert.equal(s.begin("d", QUERY_TIMEOUT_MS + 100, () => {}, "q3").fresh, true);
});

Deno.test("relay search: realm-wide queries per destination are spaced", () => {
  const s = new RelaySearch();
  assert.equal(s.mayAskRealm("d", 0), true);
  assert.equal(s.mayAskRealm("d", QUERY_INTERVAL_MS - 1), false);
  assert.equal(s.mayAskRealm("e", 1), true, "another destination is not held back");
  assert.equal(s.mayAskRealm("d", QUERY_INTERVAL_MS), true);
});

Deno.test("relay search: remembered relays, most recent first, forgotten after a while", () => {
  const s = new RelaySearch();
  s.remember("d", "r1", 0);
  s.remember("d", "r2", 1);
  s.remember("d", "r1", 2);
  assert.deepEqual(s.remembered("d", 3), ["r1", "r2"]);
  assert.deepEqual(s.remembered("d", 2 + REMEMBER_MS + 1), []);
});

Deno.test("relay search: a relay serves each (asker, destination) once per window", () => {
  const s = new RelaySearch();
  assert.deepEqual(s.decide("a", "d", 0, true, 0), { serve: true, needsAttempt: false });
  s.done();
  assert.deepEqual(s.decide("a", "d", 0, true, 1), { serve: false, why: "duplicate" });
  assert.equal(s.decide("b", "d", 0, true, 2).serve, true, "another asker");
  s.done();
  assert.equal(s.decide("a", "d", 0, true, SERVE_DEDUPE_MS + 1).serve, true);
  s.done();
});

Deno.test("relay search: new tether attempts are rate-limited, open routes are not", () => {
  const s = new RelaySearch();
  let served = 0;
  for (let i = 0; i < 50; i++) {
    const d = s.decide(`a${i}`, "d", 0, false, 0);
    if (d.serve) {
      served++;
      s.done();
    } else assert.equal(d.why, "rate");
  }
  assert.equal(served, SERVE_ATTEMPT_BURST);
  // With an open tether toward the destination the answer costs nothing new.
  const d = s.decide("z", "d", 0, true, 0);
  assert.equal(d.serve, true);
});

Deno.test("relay search: bounded concurrency and depth", () => {
  const s = new RelaySearch();
  for (let i = 0; i < SERVE_CONCURRENT; i++) {
    assert.equal(s.decide(`a${i}`, "d", 0, true, 0).serve, true);
  }
  assert.deepEqual(s.decide("x", "d", 0, true, 0), { serve: false, why: "busy" });
  s.done();
  assert.equal(s.decide("x", "d", 0, true, 0).serve, true);
  assert.deepEqual(s.decide("y", "d", MAX_QUERY_DEPTH + 1, true, 0), {
    serve: false,
    why: "depth",
  });
});

Deno.test("relay search: sweep drops expired queries", () => {
  const s = new RelaySearch();
  s.begin("d", 0, () => {}, "q1");
  s.sweep(QUERY_TIMEOUT_MS + 1);
  assert.equal(s.offer("q1", "r1", "d", 1), false);
});
