import assert from "node:assert/strict";
import {
  cidrContains,
  formatIpv4,
  ipv4Destination,
  ipv4Source,
  ipVersion,
  parseCidr,
  parseIpv4,
} from "./packet.ts";

function ipv4(src: number[], dst: number[]): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p.set(src, 12);
  p.set(dst, 16);
  return p;
}

Deno.test("packet: reads IPv4 source and destination", () => {
  const p = ipv4([100, 64, 0, 2], [100, 64, 0, 3]);
  assert.equal(ipVersion(p), 4);
  assert.equal(formatIpv4(ipv4Source(p)), "100.64.0.2");
  assert.equal(formatIpv4(ipv4Destination(p)), "100.64.0.3");
});

Deno.test("packet: refuses short and non-IPv4 packets", () => {
  assert.equal(ipv4Destination(new Uint8Array(10)), -1);
  const v6 = new Uint8Array(40);
  v6[0] = 0x60;
  assert.equal(ipv4Destination(v6), -1);
  assert.equal(ipVersion(new Uint8Array(0)), 0);
});

Deno.test("packet: dotted quads round-trip; junk is refused", () => {
  assert.equal(formatIpv4(parseIpv4("255.0.10.1")), "255.0.10.1");
  for (const junk of ["", "1.2.3", "1.2.3.256", "a.b.c.d", "1.2.3.4.5", "01234.1.1.1"]) {
    assert.equal(parseIpv4(junk), -1, junk);
  }
});

Deno.test("packet: CIDR parse and membership", () => {
  const c = parseCidr("100.64.7.9/16");
  assert.ok(c);
  assert.equal(formatIpv4(c.network), "100.64.0.0");
  assert.ok(cidrContains(c, parseIpv4("100.64.200.1")));
  assert.ok(!cidrContains(c, parseIpv4("100.65.0.1")));
  assert.ok(cidrContains(parseCidr("0.0.0.0/0")!, parseIpv4("1.2.3.4")));
  for (const junk of ["100.64.0.0", "100.64.0.0/33", "x/8", "1.2.3.4/-1"]) {
    assert.equal(parseCidr(junk), null, junk);
  }
});
