import assert from "node:assert/strict";
import {
  cidrWithin,
  formatCidr,
  formatIpv4,
  isHostAddress,
  nextFreeAddress,
  parseCidr,
  parseIpv4,
  usableHosts,
} from "./ip_pool.ts";

Deno.test("parseIpv4 accepts dotted quads and rejects the rest", () => {
  assert.equal(formatIpv4(parseIpv4("100.64.1.2")!), "100.64.1.2");
  for (const bad of ["100.64.1", "256.1.1.1", "1.2.3.04", "a.b.c.d", "1.2.3.4 ", ""]) {
    assert.equal(parseIpv4(bad), null, bad);
  }
});

Deno.test("parseCidr requires zero host bits when strict", () => {
  assert.equal(formatCidr(parseCidr("100.64.0.0/24")!), "100.64.0.0/24");
  assert.equal(parseCidr("100.64.0.1/24"), null);
  assert.notEqual(parseCidr("100.64.0.1/24", { strict: false }), null);
  assert.equal(parseCidr("100.64.0.0/33"), null);
  assert.equal(parseCidr("100.64.0.0"), null);
});

Deno.test("cidrWithin checks containment in the CGNAT range", () => {
  const cgnat = parseCidr("100.64.0.0/10")!;
  assert.equal(cidrWithin(parseCidr("100.100.0.0/16")!, cgnat), true);
  assert.equal(cidrWithin(parseCidr("100.128.0.0/16")!, cgnat), false);
  assert.equal(cidrWithin(parseCidr("100.0.0.0/8")!, cgnat), false);
});

Deno.test("nextFreeAddress skips leased, network and broadcast addresses", () => {
  const net = parseCidr("100.64.7.0/30")!;
  assert.equal(usableHosts(net), 2);
  const leased = new Set<number>();
  const a = nextFreeAddress(net, leased)!;
  assert.equal(formatIpv4(a), "100.64.7.1");
  leased.add(a);
  const b = nextFreeAddress(net, leased)!;
  assert.equal(formatIpv4(b), "100.64.7.2");
  leased.add(b);
  assert.equal(nextFreeAddress(net, leased), null);
  assert.equal(isHostAddress(net, parseIpv4("100.64.7.3")!), false);
  assert.equal(isHostAddress(net, parseIpv4("100.64.7.0")!), false);
});
