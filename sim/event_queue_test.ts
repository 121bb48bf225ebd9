import assert from "node:assert/strict";
import { EventQueue } from "./event_queue.ts";

Deno.test("event queue runs events in time order, ties in scheduling order", () => {
  const q = new EventQueue();
  const seen: string[] = [];
  q.at(30, () => seen.push("c"));
  q.at(10, () => seen.push("a1"));
  q.at(10, () => seen.push("a2"));
  q.at(20, () => {
    seen.push("b");
    q.at(25, () => seen.push("b+5"));
    q.at(5, () => seen.push("late")); // never runs in the past: clamped to now
  });
  assert.equal(q.runUntil(26), 5);
  assert.deepEqual(seen, ["a1", "a2", "b", "late", "b+5"]);
  assert.equal(q.now, 26);
  assert.equal(q.size, 1);
  q.runUntil(100);
  assert.deepEqual(seen.at(-1), "c");
});

Deno.test("event queue orders many random events", () => {
  const q = new EventQueue();
  const times: number[] = [];
  let x = 12345;
  for (let i = 0; i < 2_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const t = x % 10_000;
    q.at(t, () => times.push(q.now));
  }
  q.runUntil(10_000);
  assert.equal(times.length, 2_000);
  for (let i = 1; i < times.length; i++) assert.ok(times[i - 1] <= times[i]);
});
