import assert from "node:assert/strict";
import { ReplayWindow } from "./window.ts";

const MAX = 0xffff_ffff_ffff_ffffn;

Deno.test("replay: in-order, duplicate and reordered counters", () => {
  const w = new ReplayWindow();
  assert.ok(w.size >= 2048);
  for (let i = 0n; i < 100n; i++) assert.ok(w.update(i));
  assert.equal(w.update(50n), false, "duplicate");
  assert.equal(w.check(99n), false);
  assert.ok(w.update(150n));
  assert.ok(w.check(120n), "gap below the highest is still open");
  assert.ok(w.update(120n));
  assert.equal(w.update(120n), false);
  assert.equal(w.highest, 150n);
});

Deno.test("replay: check does not record, update does", () => {
  const w = new ReplayWindow();
  assert.ok(w.check(7n));
  assert.ok(w.check(7n));
  assert.ok(w.update(7n));
  assert.equal(w.check(7n), false);
});

Deno.test("replay: counters older than the window are rejected, the edge is exact", () => {
  const w = new ReplayWindow(2048);
  const size = BigInt(w.size);
  const top = 10_000n;
  assert.ok(w.update(top));
  assert.ok(w.check(top - size + 1n), "oldest counter inside the window");
  assert.equal(w.check(top - size), false, "first counter outside");
  assert.equal(w.update(0n), false);
  assert.ok(w.update(top - size + 1n));
});

Deno.test("replay: far-future jump clears the window", () => {
  const w = new ReplayWindow();
  for (let i = 0n; i < 3000n; i++) w.update(i);
  assert.ok(w.update(1n << 40n));
  for (let i = 0n; i < 3000n; i += 97n) assert.equal(w.update(i), false, "old after jump");
  // Counters just below the new top were never seen: accepted once each.
  for (let i = 1n; i <= 64n; i++) assert.ok(w.update((1n << 40n) - i));
  for (let i = 1n; i <= 64n; i++) assert.equal(w.update((1n << 40n) - i), false);
  // Jumps of less than a ring must clear exactly the blocks passed.
  const v = new ReplayWindow();
  v.update(100n);
  v.update(5000n);
  assert.ok(v.update(4000n));
  assert.equal(v.update(100n), false);
});

Deno.test("replay: counters near 2^64 and out of range", () => {
  const w = new ReplayWindow();
  assert.ok(w.update(MAX - 5n));
  assert.ok(w.update(MAX));
  assert.ok(w.update(MAX - 1n));
  assert.equal(w.update(MAX), false);
  assert.equal(w.update(MAX + 1n), false, "no wrap past 2^64 - 1");
  assert.equal(w.check(1n << 64n), false);
  assert.equal(w.update(0n), false, "a wrapped counter is far in the past");
  assert.equal(w.update(-1n), false);
  assert.equal(w.check(3 as unknown as bigint), false);
});

Deno.test("replay: random order within the window accepts each counter exactly once", () => {
  const w = new ReplayWindow(2048);
  const counters: bigint[] = [];
  for (let i = 0n; i < 2000n; i++) counters.push(i);
  // Deterministic shuffle (xorshift), so failures reproduce.
  let s = 0x9e3779b9;
  for (let i = counters.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [counters[i], counters[j]] = [counters[j], counters[i]];
  }
  let accepted = 0;
  for (const c of counters) if (w.update(c)) accepted++;
  for (const c of counters) if (w.update(c)) accepted++;
  assert.equal(accepted, 2000);
});

Deno.test("replay: sizes and reset", () => {
  assert.throws(() => new ReplayWindow(1024));
  const big = new ReplayWindow(10_000);
  assert.ok(big.size >= 10_000);
  big.update(20_000n);
  assert.ok(big.update(20_000n - 9_999n));
  big.reset();
  assert.equal(big.highest, -1n);
  assert.ok(big.update(0n));
});
