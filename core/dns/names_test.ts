import assert from "node:assert/strict";
import {
  isNameLabel,
  lookupHash,
  matchesLookup,
  normaliseTag,
  ownLookups,
  parseDnsSuffix,
  reverseName,
  reverseOctets,
  reverseZones,
} from "./names.ts";

Deno.test("dns names: tags are normalised to one DNS label", () => {
  assert.equal(normaliseTag("Web-1"), "web-1");
  assert.equal(normaliseTag("James's Laptop (home)"), "james-s-laptop--home-");
  assert.equal(normaliseTag("ü.x"), "--x");
  assert.equal(normaliseTag("a".repeat(80)).length, 63);
  assert.equal(normaliseTag(""), "");
  assert.ok(isNameLabel("web-1") && !isNameLabel("") && !isNameLabel("Web") && !isNameLabel("a.b"));
});

Deno.test("dns names: suffixes are checked", () => {
  assert.equal(parseDnsSuffix("Corp.Example."), "corp.example");
  assert.equal(parseDnsSuffix("veilnet.internal"), "veilnet.internal");
  for (const bad of ["", "a..b", "-a.b", "a_b.c", "x.in-addr.arpa", "a".repeat(64)]) {
    assert.throws(() => parseDnsSuffix(bad), RangeError, bad);
  }
});

Deno.test("dns names: a conflux's own lookups and what matches them", () => {
  const c = { tag: "Web 1", confluxId: "c0ffee", overlayIp: "100.64.0.7" };
  assert.deepEqual(ownLookups(c), [
    { kind: "name", label: "web-1" },
    { kind: "name", label: "c0ffee" },
    { kind: "addr", ip: "100.64.0.7" },
  ]);
  assert.equal(matchesLookup(c, { kind: "name", label: "web-1" }), "tag");
  assert.equal(matchesLookup(c, { kind: "name", label: "c0ffee" }), "id");
  assert.equal(matchesLookup(c, { kind: "addr", ip: "100.64.0.7" }), "id");
  assert.equal(matchesLookup(c, { kind: "name", label: "web" }), null);
  assert.equal(matchesLookup({ ...c, tag: "" }, { kind: "name", label: "" }), null);
});

Deno.test("dns names: lookup hashes depend on key, query id and lookup", () => {
  const k1 = new Uint8Array(32).fill(1), k2 = new Uint8Array(32).fill(2);
  const id1 = new Uint8Array(16).fill(7), id2 = new Uint8Array(16).fill(8);
  const web = { kind: "name", label: "web" } as const;
  const h = lookupHash(k1, id1, web);
  assert.equal(h.length, 16);
  assert.deepEqual(lookupHash(k1, id1, web), h);
  assert.notDeepEqual(lookupHash(k2, id1, web), h);
  assert.notDeepEqual(lookupHash(k1, id2, web), h);
  assert.notDeepEqual(lookupHash(k1, id1, { kind: "name", label: "db" }), h);
  assert.notDeepEqual(lookupHash(k1, id1, { kind: "addr", ip: "web" }), h);
});

Deno.test("dns names: reverse names and the realm's reverse zones", () => {
  assert.equal(reverseName("100.64.0.7"), "7.0.64.100.in-addr.arpa");
  assert.deepEqual(reverseOctets("7.0.64.100.IN-ADDR.ARPA"), [100, 64, 0, 7]);
  assert.deepEqual(reverseOctets("in-addr.arpa"), []);
  assert.equal(reverseOctets("07.0.64.100.in-addr.arpa"), null);
  assert.equal(reverseOctets("256.0.64.100.in-addr.arpa"), null);
  assert.equal(reverseOctets("1.7.0.64.100.in-addr.arpa"), null);
  assert.equal(reverseOctets("example.com"), null);
  assert.deepEqual(reverseZones({ network: 0x64400000, prefix: 24 }), ["0.64.100.in-addr.arpa"]);
  const z10 = reverseZones({ network: 0x64400000, prefix: 10 })!;
  assert.equal(z10.length, 64);
  assert.equal(z10[63], "127.100.in-addr.arpa");
  assert.deepEqual(reverseZones({ network: 0x64400000, prefix: 16 }), ["64.100.in-addr.arpa"]);
  assert.deepEqual(reverseZones({ network: 0x64400010, prefix: 28 }), ["0.64.100.in-addr.arpa"]);
  assert.deepEqual(reverseZones({ network: 0x64000000, prefix: 7 }), [
    "100.in-addr.arpa",
    "101.in-addr.arpa",
  ]);
});
