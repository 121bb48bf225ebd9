import assert from "node:assert/strict";
import {
  checkPortalSubnets,
  hostBitsZero,
  MAX_PORTAL_SUBNETS,
  networksOverlap,
  parseIpv4Network,
} from "./portal_subnets.ts";

const REALM = "100.64.0.0/10";

Deno.test("portal subnets: parseIpv4Network accepts only canonical a.b.c.d/n", () => {
  assert.deepEqual(parseIpv4Network("198.18.0.0/15"), { address: 0xc612_0000, prefix: 15 });
  assert.deepEqual(parseIpv4Network("255.255.255.255/32"), { address: 0xffff_ffff, prefix: 32 });
  assert.deepEqual(parseIpv4Network("0.0.0.0/0"), { address: 0, prefix: 0 });
  for (
    const bad of [
      "",
      "198.18.0.0",
      "198.18.0/16",
      "198.18.0.0.0/16",
      "198.18.0.256/24",
      "198.018.0.0/16",
      "198.18.0.0/016",
      "198.18.0.0/33",
      "198.18.0.0/",
      " 198.18.0.0/16",
      "198.18.0.0/16 ",
      "198.18.0.0/1e1",
      "::1/128",
      "0x0a.0.0.0/8",
    ]
  ) {
    assert.equal(parseIpv4Network(bad), null, bad);
  }
});

Deno.test("portal subnets: host bits and overlap", () => {
  const net = (text: string) => {
    const parsed = parseIpv4Network(text);
    assert.ok(parsed, text);
    return parsed;
  };
  assert.equal(hostBitsZero(net("198.18.0.0/15")), true);
  assert.equal(hostBitsZero(net("198.19.0.0/15")), false);
  assert.equal(hostBitsZero(net("198.18.7.9/32")), true);
  assert.equal(networksOverlap(net("198.18.0.0/15"), net("198.19.4.0/24")), true);
  assert.equal(networksOverlap(net("198.19.4.0/24"), net("198.18.0.0/15")), true);
  assert.equal(networksOverlap(net("198.18.0.0/16"), net("198.19.0.0/16")), false);
  assert.equal(networksOverlap(net("100.64.0.0/10"), net("100.128.0.0/10")), false);
});

Deno.test("portal subnets: acceptable lists give null", () => {
  assert.equal(checkPortalSubnets([], REALM), null);
  assert.equal(checkPortalSubnets(["198.18.0.0/16", "198.19.4.0/24"], REALM), null);
  // Just outside the realm on both sides, and a single host.
  assert.equal(checkPortalSubnets(["100.0.0.0/10", "100.128.0.0/9", "198.18.3.4/32"], REALM), null);
  const most = Array.from({ length: MAX_PORTAL_SUBNETS }, (_, i) => `198.18.${i}.0/24`);
  assert.equal(checkPortalSubnets(most, REALM), null);
  // A realm subnet written with host bits still bounds the overlay.
  assert.equal(checkPortalSubnets(["198.18.0.0/16"], "100.64.1.0/10"), null);
});

Deno.test("portal subnets: each kind of bad entry is named", () => {
  const cases: [string[], RegExp][] = [
    [Array.from({ length: MAX_PORTAL_SUBNETS + 1 }, (_, i) => `198.18.${i}.0/24`), /at most 32/],
    [["198.18.0.0"], /not IPv4 CIDR/],
    [["198.18.00.0/16"], /not IPv4 CIDR/],
    [["198.18.0.1/16"], /host bits set/],
    [["96.0.0.0/7"], /shorter than \/8/],
    [["198.18.0.0/16", "198.19.0.0/16", "198.18.0.0/16"], /listed twice/],
    [["100.64.0.0/10"], /overlaps the realm subnet/],
    [["100.96.0.0/11"], /overlaps the realm subnet/],
    [["100.0.0.0/8"], /overlaps the realm subnet/],
    [["0.0.0.0/8"], /reserved range 0\.0\.0\.0\/8/],
    [["127.0.0.1/32"], /reserved range 127\.0\.0\.0\/8/],
    [["169.254.0.0/24"], /reserved range 169\.254\.0\.0\/16/],
    [["169.0.0.0/8"], /reserved range 169\.254\.0\.0\/16/],
    [["239.1.0.0/16"], /reserved range 224\.0\.0\.0\/4/],
    [["255.255.255.255/32"], /reserved range 240\.0\.0\.0\/4/],
  ];
  for (const [subnets, expected] of cases) {
    const problem = checkPortalSubnets(subnets, REALM);
    assert.ok(problem !== null && expected.test(problem), `${subnets.at(-1)}: ${problem}`);
  }
});

Deno.test("portal subnets: bad input types and realm give a problem, not an exception", () => {
  assert.match(checkPortalSubnets(["198.18.0.0/16"], "100.64.0.0") ?? "", /realm subnet/);
  assert.match(checkPortalSubnets([], "nonsense/5/6") ?? "", /realm subnet/);
  assert.match(checkPortalSubnets([42 as unknown as string], REALM) ?? "", /not IPv4 CIDR/);
  assert.match(
    checkPortalSubnets("198.18.0.0/16" as unknown as string[], REALM) ?? "",
    /must be a list/,
  );
  // A huge entry is not echoed back in full.
  const problem = checkPortalSubnets(["9".repeat(10_000)], REALM) ?? "";
  assert.ok(problem.length < 100, problem);
});
