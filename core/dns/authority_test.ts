import assert from "node:assert/strict";
import { ANSWER_TTL, Authority, NEGATIVE_TTL } from "./authority.ts";
import {
  decodeMessage,
  type DnsMessage,
  encodeMessage,
  queryMessage,
  RCode,
  RRType,
} from "./codec.ts";
import type { Lookup } from "./names.ts";

const asked: Lookup[] = [];
const authority = new Authority(
  { suffix: "veilnet.internal", realm: { network: 0x64400000, prefix: 10 } }, // 100.64.0.0/10
  (l) => {
    asked.push(l);
    if (l.kind === "name") {
      const addresses = l.label === "web-1"
        ? ["100.64.0.7"]
        : l.label === "many"
        ? Array.from({ length: 40 }, (_, i) => `100.64.1.${i + 1}`)
        : [];
      return Promise.resolve({ kind: "name", addresses });
    }
    return Promise.resolve({ kind: "addr", labels: l.ip === "100.64.0.7" ? ["web-1"] : [] });
  },
);

async function ask(m: DnsMessage, udp = true): Promise<DnsMessage> {
  const out = await authority.answer(encodeMessage(m), { udp });
  assert.ok(out);
  return decodeMessage(out);
}

const q = (name: string, type: number = RRType.A) => queryMessage(42, name, type);

Deno.test("dns authority: names under the suffix, with TTLs and SOA for negative caching", async () => {
  const a = await ask(q("web-1.veilnet.internal"));
  assert.equal(a.rcode, RCode.NOERROR);
  assert.ok(a.authoritative && a.response && !a.recursionAvailable);
  assert.deepEqual(a.questions, q("web-1.veilnet.internal").questions);
  assert.deepEqual(a.answers.map((r) => [r.data, r.ttl]), [["100.64.0.7", ANSWER_TTL]]);
  const nx = await ask(q("db.veilnet.internal"));
  assert.equal(nx.rcode, RCode.NXDOMAIN);
  assert.equal(nx.authorities[0].type, RRType.SOA);
  assert.equal(nx.authorities[0].ttl, NEGATIVE_TTL);
  // Deeper names and labels outside [a-z0-9-] never reach the lookup.
  asked.length = 0;
  assert.equal((await ask(q("a.web-1.veilnet.internal"))).rcode, RCode.NXDOMAIN);
  assert.equal((await ask(q("we_b.veilnet.internal"))).rcode, RCode.NXDOMAIN);
  assert.equal(asked.length, 0);
  // AAAA and MX of a name that exists: NOERROR, no answers, SOA.
  for (const type of [RRType.AAAA, 15]) {
    const r = await ask(q("web-1.veilnet.internal", type));
    assert.equal(r.rcode, RCode.NOERROR);
    assert.equal(r.answers.length, 0);
    assert.equal(r.authorities[0].type, RRType.SOA);
  }
  // The apex: SOA and NS answer, A is NODATA.
  const soa = await ask(q("veilnet.internal", RRType.SOA));
  assert.equal(soa.answers[0].type, RRType.SOA);
  assert.equal((await ask(q("veilnet.internal", RRType.NS))).answers[0].type, RRType.NS);
  assert.equal((await ask(q("veilnet.internal"))).answers.length, 0);
});

Deno.test("dns authority: reverse zones of the realm, REFUSED outside them", async () => {
  assert.equal(authority.reverseZones.length, 64);
  assert.equal(authority.reverseZones[0], "64.100.in-addr.arpa");
  const ptr = await ask(q("7.0.64.100.in-addr.arpa", RRType.PTR));
  assert.deepEqual(ptr.answers.map((r) => r.data), ["web-1.veilnet.internal"]);
  assert.equal((await ask(q("8.0.64.100.in-addr.arpa", RRType.PTR))).rcode, RCode.NXDOMAIN);
  // Inside a zone but not an address: exists, no data.
  const mid = await ask(q("0.64.100.in-addr.arpa", RRType.PTR));
  assert.equal(mid.rcode, RCode.NOERROR);
  assert.equal(mid.answers.length, 0);
  for (
    const name of ["7.0.128.100.in-addr.arpa", "1.0.0.10.in-addr.arpa", "example.com", "internal"]
  ) {
    const r = await ask(q(name, RRType.PTR));
    assert.equal(r.rcode, RCode.REFUSED, name);
    assert.ok(!r.authoritative);
    assert.equal(r.answers.length, 0);
  }
});

Deno.test("dns authority: FORMERR, NOTIMP, other classes, EDNS and truncation", async () => {
  const two = q("web-1.veilnet.internal");
  two.questions.push(two.questions[0]);
  assert.equal((await ask(two)).rcode, RCode.FORMERR);
  assert.equal((await ask({ ...q("web-1.veilnet.internal"), opcode: 2 })).rcode, RCode.NOTIMP);
  const chaos = q("web-1.veilnet.internal");
  chaos.questions[0].class = 3;
  assert.equal((await ask(chaos)).rcode, RCode.REFUSED);
  // A response is never answered.
  assert.equal(
    await authority.answer(encodeMessage({ ...q("x.veilnet.internal"), response: true }), {
      udp: true,
    }),
    null,
  );
  // 40 addresses do not fit 512 bytes: TC over UDP, everything over TCP.
  const cut = await ask(q("many.veilnet.internal"));
  assert.ok(cut.truncated);
  assert.equal(cut.answers.length, 0);
  assert.equal((await ask(q("many.veilnet.internal"), false)).answers.length, 40);
  // With EDNS (OPT, 1232 bytes) they fit, and the answer carries an OPT too.
  const edns = q("many.veilnet.internal");
  edns.additionals.push({
    name: "",
    type: RRType.OPT,
    class: 4096,
    ttl: 0,
    data: new Uint8Array(),
    raw: true,
  });
  const big = await ask(edns);
  assert.ok(!big.truncated);
  assert.equal(big.answers.length, 40);
  assert.equal(big.additionals[0].type, RRType.OPT);
});
