// Property test: the DNS decoder and the resolver's answer, fed random and mutated bytes, never
// throw anything but DnsError (the decoder) and never throw at all (the authority: FORMERR, an
// answer, or nothing). The PRNG is seeded so failures reproduce.
import assert from "node:assert/strict";
import { Authority } from "./authority.ts";
import {
  CLASS_IN,
  decodeMessage,
  DnsError,
  encodeMessage,
  queryMessage,
  RCode,
  RRType,
} from "./codec.ts";

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(0x53d15);
const int = (n: number) => Math.floor(rand() * n);

function mutate(input: Uint8Array): Uint8Array {
  let b = input.slice();
  for (let r = 1 + int(4); r > 0; r--) {
    switch (int(5)) {
      case 0:
        if (b.length) b[int(b.length)] ^= 1 << int(8);
        break;
      case 1:
        if (b.length) b[int(b.length)] = [0, 1, 0x3f, 0x40, 0xc0, 0xff][int(6)];
        break;
      case 2:
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: {
        const extra = Uint8Array.from({ length: int(16) }, () => int(256));
        const out = new Uint8Array(b.length + extra.length);
        out.set(b);
        out.set(extra, b.length);
        b = out;
        break;
      }
      case 4: // a count field set high
        if (b.length >= 12) b[4 + 2 * int(4)] = int(256);
        break;
    }
  }
  return b;
}

const seeds = [
  encodeMessage(queryMessage(7, "n2.veilnet.internal", RRType.A)),
  encodeMessage(queryMessage(8, "2.0.64.100.in-addr.arpa", RRType.PTR)),
  encodeMessage({
    ...queryMessage(9, "n2.veilnet.internal", RRType.A),
    response: true,
    answers: [{ name: "n2.veilnet.internal", type: 1, class: CLASS_IN, ttl: 5, data: "1.2.3.4" }],
  }),
];

Deno.test("dns fuzz: the decoder returns a message or throws DnsError, on 20,000 inputs", () => {
  for (let i = 0; i < 20_000; i++) {
    const input = i % 4 === 0
      ? Uint8Array.from({ length: int(80) }, () => int(256))
      : mutate(seeds[int(seeds.length)]);
    try {
      const m = decodeMessage(input);
      // What decodes re-encodes (names of 8-bit labels) or is refused with DnsError.
      try {
        encodeMessage(m);
      } catch (e) {
        assert.ok(e instanceof DnsError, `encode threw ${e}`);
      }
    } catch (e) {
      assert.ok(e instanceof DnsError, `input ${[...input]} threw ${e}`);
    }
  }
});

Deno.test("dns fuzz: the authority answers or stays silent on 5,000 mutated queries, never throws", async () => {
  const authority = new Authority(
    { suffix: "veilnet.internal", realm: { network: 0x64400000, prefix: 24 } },
    (l) =>
      Promise.resolve(
        l.kind === "name" ? { kind: "name", addresses: ["100.64.0.2"] } : {
          kind: "addr",
          labels: ["n2"],
        },
      ),
  );
  let formerr = 0;
  for (let i = 0; i < 5_000; i++) {
    const out = await authority.answer(mutate(seeds[int(2)]), { udp: i % 2 === 0 });
    if (out === null) continue;
    const m = decodeMessage(out); // our answers always decode
    assert.ok(m.response);
    if (m.rcode === RCode.FORMERR) formerr++;
    if (i % 2 === 0) assert.ok(out.length <= 1232);
  }
  assert.ok(formerr > 0, "some inputs were malformed");
});
