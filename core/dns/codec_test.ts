import assert from "node:assert/strict";
import {
  CLASS_IN,
  decodeMessage,
  DnsError,
  type DnsMessage,
  encodeMessage,
  queryMessage,
  RCode,
  RRType,
} from "./codec.ts";

function response(): DnsMessage {
  return {
    ...queryMessage(0xbeef, "web-1.veilnet.internal", RRType.A),
    response: true,
    authoritative: true,
    rcode: RCode.NOERROR,
    answers: [
      {
        name: "web-1.veilnet.internal",
        type: RRType.A,
        class: CLASS_IN,
        ttl: 10,
        data: "100.64.0.7",
      },
      {
        name: "7.0.64.100.in-addr.arpa",
        type: RRType.PTR,
        class: CLASS_IN,
        ttl: 10,
        data: "web-1.veilnet.internal",
      },
      {
        name: "x.veilnet.internal",
        type: RRType.AAAA,
        class: CLASS_IN,
        ttl: 1,
        data: new Uint8Array(16).fill(1),
      },
    ],
    authorities: [{
      name: "veilnet.internal",
      type: RRType.SOA,
      class: CLASS_IN,
      ttl: 5,
      data: {
        mname: "ns.veilnet.internal",
        rname: "hostmaster.invalid",
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 5,
      },
    }],
    additionals: [{
      name: "",
      type: RRType.OPT,
      class: 1232,
      ttl: 0,
      data: new Uint8Array(),
      raw: true,
    }],
  };
}

Deno.test("dns codec: a message survives encode and decode", () => {
  const m = response();
  assert.deepEqual(decodeMessage(encodeMessage(m)), m);
});

Deno.test("dns codec: the wire bytes of a query are RFC 1035's", () => {
  const bytes = encodeMessage(queryMessage(0x1234, "a.bc", RRType.A));
  assert.deepEqual(
    [...bytes],
    [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 2, 98, 99, 0, 0, 1, 0, 1],
  );
});

Deno.test("dns codec: compressed names are followed; loops and forward pointers are refused", () => {
  // Header, question "ab.cd" A IN, answer named by a pointer to offset 12, A 1.2.3.4.
  const q = [...encodeMessage(queryMessage(1, "ab.cd", RRType.A))];
  q[7] = 1; // one answer
  const bytes = new Uint8Array([...q, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4]);
  const m = decodeMessage(bytes);
  assert.equal(m.answers[0].name, "ab.cd");
  assert.equal(m.answers[0].data, "1.2.3.4");
  // A pointer to itself.
  const loop = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  assert.throws(() => decodeMessage(loop), (e) => e instanceof DnsError && e.code === "malformed");
});

Deno.test("dns codec: bad input is a DnsError with a code", () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(5), "truncated"],
    [new Uint8Array(70_000), "oversized"],
    [new Uint8Array([...encodeMessage(queryMessage(1, "a", 1)), 0]), "trailing"],
    [new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0, 1]), "malformed"],
    [new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 97]), "truncated"],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(
      () => decodeMessage(bytes),
      (e) => e instanceof DnsError && e.code === code,
      code,
    );
  }
  // An A record of the wrong length.
  const q = [...encodeMessage(queryMessage(1, "a", RRType.A))];
  q[7] = 1;
  const badA = new Uint8Array([...q, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 3, 1, 2, 3]);
  assert.throws(() => decodeMessage(badA), (e) => e instanceof DnsError && e.code === "malformed");
});

Deno.test("dns codec: names that cannot be written are refused", () => {
  for (const name of ["a".repeat(64) + ".x", "a..b", ("a".repeat(60) + ".").repeat(5)]) {
    assert.throws(
      () => encodeMessage(queryMessage(1, name, RRType.A)),
      (e) => e instanceof DnsError,
      name,
    );
  }
});
