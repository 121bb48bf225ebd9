import assert from "node:assert/strict";
import { echoReplyInPlace } from "./icmp_echo.ts";

function sum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i] << 8) + (i + 1 < bytes.length ? bytes[i + 1] : 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}

Deno.test("icmp_echo: an IPv4 echo request becomes a valid reply to the sender", () => {
  const p = new Uint8Array(84);
  p[0] = 0x45;
  p[9] = 1;
  p.set([100, 64, 0, 1, 100, 64, 0, 2], 12);
  p[20] = 8;
  p.set([0x12, 0x34, 0, 1], 24);
  for (let i = 28; i < 84; i++) p[i] = i;
  assert.equal(echoReplyInPlace(p), true);
  assert.deepEqual([...p.subarray(12, 20)], [100, 64, 0, 2, 100, 64, 0, 1]);
  assert.equal(p[20], 0);
  assert.equal(sum(p.subarray(20)), 0xffff);
});

Deno.test("icmp_echo: an ICMPv6 echo request becomes a valid reply", () => {
  const p = new Uint8Array(40 + 16);
  p[0] = 0x60;
  p[5] = 16;
  p[6] = 58;
  p.set([0x20, 0x01, 0, 2, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 1], 8);
  p.set([0x20, 0x01, 0, 2, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  p[40] = 128;
  assert.equal(echoReplyInPlace(p), true);
  assert.equal(p[40], 129);
  assert.equal(p[23], 2);
  const pseudo = new Uint8Array(40);
  pseudo.set(p.subarray(8, 40));
  pseudo[35] = 16;
  pseudo[39] = 58;
  const all = new Uint8Array(56);
  all.set(pseudo);
  all.set(p.subarray(40), 40);
  assert.equal(sum(all), 0xffff);
});

Deno.test("icmp_echo: anything else is left untouched", () => {
  const udp = new Uint8Array(60);
  udp[0] = 0x45;
  udp[9] = 17;
  const copy = udp.slice();
  assert.equal(echoReplyInPlace(udp), false);
  assert.deepEqual(udp, copy);
  assert.equal(echoReplyInPlace(new Uint8Array(3)), false);
  const reply = new Uint8Array(60);
  reply[0] = 0x45;
  reply[9] = 1;
  reply[20] = 0;
  assert.equal(echoReplyInPlace(reply), false);
});
