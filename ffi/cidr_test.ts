import assert from "node:assert/strict";
import { parseCidr, validateInterfaceName } from "./cidr.ts";
import { TunError } from "./errors.ts";

const invalid = (e: unknown) => e instanceof TunError && e.code === "invalid-argument";

Deno.test("cidr: IPv4 and IPv6 CIDRs parse to bytes and prefix", () => {
  const a = parseCidr("100.64.0.7/10");
  assert.equal(a.family, 4);
  assert.deepEqual([...a.address], [100, 64, 0, 7]);
  assert.equal(a.prefix, 10);
  const b = parseCidr("2001:2::77:1/64");
  assert.equal(b.family, 6);
  assert.deepEqual(
    [...b.address],
    [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77, 0, 1],
  );
  assert.deepEqual([...parseCidr("::/0").address], new Array(16).fill(0));
  assert.deepEqual([...parseCidr("::ffff:198.18.0.1/128").address].slice(10), [
    0xff,
    0xff,
    198,
    18,
    0,
    1,
  ]);
  assert.equal(parseCidr("1:2:3:4:5:6:7:8/128").address[15], 8);
  assert.equal(parseCidr("100.64.0.0/10", { network: true }).prefix, 10);
});

Deno.test("cidr: malformed CIDRs are invalid-argument", () => {
  for (
    const bad of [
      "",
      "100.64.0.1",
      "100.64.0.1/",
      "100.64.0.1/33",
      "100.64.0.256/24",
      "100.64.0/24",
      "100.64.0.01/24",
      "100.64.0.1/024",
      "100.64.0.1/-1",
      " 100.64.0.1/24",
      "2001:2::1::2/64",
      "2001:2:0:0:0:0:0:0:1/64",
      "2001:2:0:0:0:0:1/64",
      "2001:g::1/64",
      "2001:2::1/129",
      "::1.2.3/128",
      "x".repeat(100),
    ]
  ) {
    assert.throws(() => parseCidr(bad), invalid, bad);
  }
  assert.throws(() => parseCidr(42 as unknown as string), invalid);
});

Deno.test("cidr: route destinations must have the host bits clear", () => {
  assert.throws(() => parseCidr("100.64.0.1/10", { network: true }), invalid);
  assert.throws(() => parseCidr("2001:2::1/64", { network: true }), invalid);
  assert.equal(parseCidr("2001:2:0:1::/64", { network: true }).prefix, 64);
});

Deno.test("cidr: interface names are checked like the kernel does", () => {
  for (const ok of ["veilnet0", "vn-1.a_b", "x".repeat(15)]) {
    assert.equal(validateInterfaceName(ok), ok);
  }
  for (const bad of ["", "x".repeat(16), "a/b", "a b", ".", "..", "tun\n", "é"]) {
    assert.throws(() => validateInterfaceName(bad), invalid, JSON.stringify(bad));
  }
});
