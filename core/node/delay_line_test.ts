import assert from "node:assert/strict";
import { DelayLine } from "./delay_line.ts";

Deno.test("delay line: frames arrive in order, not before their delay", async () => {
  const got: { to: string; n: number; at: number }[] = [];
  const line = new DelayLine(30, (to, frame) => {
    got.push({ to, n: frame[0], at: performance.now() });
    return true;
  });
  const start = performance.now();
  for (let n = 0; n < 5; n++) line.push(n % 2 ? "a" : "b", Uint8Array.of(n));
  await new Promise((r) => setTimeout(r, 10));
  line.push("a", Uint8Array.of(5));
  assert.equal(got.length, 0);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(got.map((g) => g.n), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(got.map((g) => g.to), ["b", "a", "b", "a", "b", "a"]);
  assert.ok(got[0].at - start >= 29);
  line.close();
});

Deno.test("delay line: close drops what is queued", async () => {
  let sent = 0;
  const line = new DelayLine(10, () => ++sent > 0);
  line.push("a", Uint8Array.of(1));
  line.close();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(sent, 0);
});
