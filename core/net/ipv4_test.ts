import assert from "node:assert/strict";
import {
  cidrContains,
  cidrOverlaps,
  cidrWithin,
  formatCidr,
  formatIpv4,
  hostBitsZero,
  parseCidr,
  parseIpv4,
} from "./ipv4.ts";

Deno.test("ipv4: canonical dotted quads only", () => {
  assert.equal(parseIpv4("100.64.0.1"), 0x64400001);
  assert.equal(parseIpv4("0.0.0.0"), 0);
  assert.equal(parseIpv4("255.255.255.255"), 0xffff_ffff);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.-4",
      " 1.2.3.4",
      "1e2.0.0.1",
      "0x1.2.3.4",
    ]
  ) {
    assert.equal(parseIpv4(bad), -1, bad);
  }
  assert.equal(parseIpv4(42 as unknown as string), -1);
  assert.equal(formatIpv4(0x64400001), "100.64.0.1");
});

Deno.test("ipv4: CIDR host bits cleared, refused or kept", () => {
  assert.deepEqual(parseCidr("10.1.2.3/8"), { network: 0x0a00_0000, prefix: 8 });
  assert.equal(parseCidr("10.1.2.3/8", { hostBits: "refuse" }), null);
  assert.deepEqual(parseCidr("10.1.2.3/8", { hostBits: "keep" }), {
    network: 0x0a01_0203,
    prefix: 8,
  });
  for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/", "/8", "10.0.0.0/8/8"]) {
    assert.equal(parseCidr(bad), null, bad);
  }
  assert.equal(formatCidr(parseCidr("100.64.0.0/10")!), "100.64.0.0/10");
  assert.equal(hostBitsZero({ network: 0x0a01_0000, prefix: 8 }), false);
});

Deno.test("ipv4: containment and overlap", () => {
  const realm = parseCidr("100.64.0.0/10")!;
  assert.equal(cidrContains(realm, parseIpv4("100.127.255.255")), true);
  assert.equal(cidrContains(realm, parseIpv4("100.128.0.0")), false);
  assert.equal(cidrContains(parseCidr("0.0.0.0/0")!, 12345), true);
  assert.equal(cidrWithin(parseCidr("100.64.1.0/24")!, realm), true);
  assert.equal(cidrWithin(realm, parseCidr("100.64.1.0/24")!), false);
  assert.equal(cidrOverlaps(parseCidr("10.0.0.0/8")!, parseCidr("10.9.0.0/16")!), true);
  assert.equal(cidrOverlaps(parseCidr("10.0.0.0/16")!, parseCidr("10.1.0.0/16")!), false);
});
