import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import {
  decodeMessage,
  type DnsMessage,
  encodeMessage,
  queryMessage,
  RCode,
  RRType,
} from "../dns/codec.ts";
import { lookupHash } from "../dns/names.ts";
import { peekEnvelope } from "../wire/envelope.ts";
import { MessageType, NameQuerySchema } from "../wire/gen/veilnet_pb.ts";
import { type TestNode, withRealm } from "./testing/realm.ts";

let nextId = 1;

async function ask(n: TestNode, name: string, type: number = RRType.A): Promise<DnsMessage> {
  const id = nextId++;
  const out = await n.node.dns.answer(encodeMessage(queryMessage(id, name, type)), { udp: true });
  assert.ok(out, "an answer");
  const m = decodeMessage(out);
  assert.equal(m.id, id);
  assert.ok(m.response);
  return m;
}

function addresses(m: DnsMessage): string[] {
  return m.answers.filter((r) => r.type === RRType.A).map((r) => r.data as string).sort();
}

Deno.test("names: a teammate's tag and id resolve, a realm member without a shared team does not", async () => {
  await withRealm(async (realm) => {
    const n1 = realm.add("n1", { teams: ["dev"] });
    const n2 = realm.add("n2", { teams: ["dev", "ops"] });
    const n3 = realm.add("n3", { teams: ["ops"] });
    const a = await ask(n1, "n2.veilnet.internal");
    assert.equal(a.rcode, RCode.NOERROR);
    assert.ok(a.authoritative);
    assert.deepEqual(addresses(a), [n2.ip]);
    assert.equal(a.answers[0].ttl, 10);
    // Case-insensitive, and the conflux id is a name too.
    assert.deepEqual(addresses(await ask(n1, "N2.VeilNet.Internal")), [n2.ip]);
    assert.deepEqual(addresses(await ask(n1, `${n2.id}.veilnet.internal`)), [n2.ip]);
    // Our own name (its query comes back to us and is skipped unverified).
    assert.deepEqual(addresses(await ask(n1, "n1.veilnet.internal")), [n1.ip]);
    assert.equal(n1.node.counters.controlDropped, 0);
    // n3 shares no team with n1: nothing, as for a name nobody has.
    const hidden = await ask(n1, "n3.veilnet.internal");
    assert.equal(hidden.rcode, RCode.NXDOMAIN);
    assert.equal(hidden.answers.length, 0);
    assert.equal(hidden.authorities[0]?.type, RRType.SOA, "SOA for negative caching");
    assert.equal((await ask(n1, "nobody.veilnet.internal")).rcode, RCode.NXDOMAIN);
    // n3 never even verified n1's queries: the hashes did not match its names under its keys.
    assert.equal(n3.node.counters.controlDropped, 0);
    // AAAA of a name that exists: NOERROR, no answers.
    const v6 = await ask(n1, "n2.veilnet.internal", RRType.AAAA);
    assert.equal(v6.rcode, RCode.NOERROR);
    assert.equal(v6.answers.length, 0);
    // Reverse lookup of a teammate; not of n3.
    const ptr = await ask(n1, n2.ip.split(".").reverse().join(".") + ".in-addr.arpa", RRType.PTR);
    assert.equal(ptr.rcode, RCode.NOERROR);
    assert.deepEqual(ptr.answers.map((r) => r.data), ["n2.veilnet.internal"]);
    const ptr3 = await ask(n1, n3.ip.split(".").reverse().join(".") + ".in-addr.arpa", RRType.PTR);
    assert.equal(ptr3.rcode, RCode.NXDOMAIN);
    // Outside our zones: refused, never forwarded.
    assert.equal((await ask(n1, "example.com")).rcode, RCode.REFUSED);
    assert.equal((await ask(n1, "1.0.0.10.in-addr.arpa", RRType.PTR)).rcode, RCode.REFUSED);
  });
});

Deno.test("names: the control channel carries neither the name looked up nor the answer to non-teammates", async () => {
  await withRealm(async (realm) => {
    const n1 = realm.add("n1", { teams: ["dev"] });
    const n2 = realm.add("n2", { teams: ["dev"] });
    realm.add("n3", { teams: ["ops"] });
    const before = realm.bus.log.length;
    assert.deepEqual(addresses(await ask(n1, "n2.veilnet.internal")), [n2.ip]);
    const traffic = realm.bus.log.slice(before);
    const query = traffic.find((m) => peekEnvelope(m.data).type === MessageType.NAME_QUERY);
    assert.ok(query, "a NAME_QUERY was sent");
    assert.equal(query.subject, "vn.realm-test.discover");
    const body = fromBinary(NameQuerySchema, peekEnvelope(query.data).body);
    const text = new TextDecoder("latin1").decode(peekEnvelope(query.data).body);
    assert.ok(!text.includes("n2"), "the name is not in the query");
    // The hash is the name's under the dev key, salted with the query id.
    const dev = realm.team("dev").key;
    assert.deepEqual(body.hashes, [lookupHash(dev, body.queryId, { kind: "name", label: "n2" })]);
    const replies = traffic.filter((m) => peekEnvelope(m.data).type === MessageType.NAME_REPLY);
    assert.deepEqual(replies.map((m) => [m.from, m.subject]), [[
      "n2",
      `vn.realm-test.c.${n1.id}.ctl`,
    ]]);
  });
});

Deno.test("names: team changes apply live, both ways", async () => {
  await withRealm(async (realm) => {
    const n1 = realm.add("n1", { teams: ["dev"] });
    const n3 = realm.add("n3", { teams: ["ops"] });
    assert.equal((await ask(n1, "n3.veilnet.internal")).rcode, RCode.NXDOMAIN);
    // n3 joins dev (only its own key set changes): n1's negative cache is short.
    n3.node.setTeams([realm.team("ops"), realm.team("dev")]);
    const start = Date.now();
    let found: string[] = [];
    while (Date.now() - start < 8000) {
      found = addresses(await ask(n1, "n3.veilnet.internal"));
      if (found.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(found, [n3.ip]);
    assert.ok(Date.now() - start < 7000, `resolved after ${Date.now() - start} ms`);
    // n1 leaves dev: at once nothing.
    n1.node.setTeams([]);
    assert.equal((await ask(n1, "n3.veilnet.internal")).rcode, RCode.NXDOMAIN);
  });
});

Deno.test("names: two teammates with one tag both answer, and info and the log say so", async () => {
  await withRealm(async (realm) => {
    const n1 = realm.add("n1", { teams: ["dev"] });
    // Tags are cut to 63 characters: these two normalise to one name.
    const long = "web".padEnd(63, "x");
    const a = realm.add(long + "1", { teams: ["dev"] });
    const b = realm.add(long.toUpperCase() + "2", { teams: ["dev"] });
    const m = await ask(n1, `${long}.veilnet.internal`);
    assert.deepEqual(addresses(m), [a.ip, b.ip].sort());
    const dup = n1.node.info().dns?.duplicates ?? [];
    assert.equal(dup.length, 1);
    assert.equal(dup[0].name, long);
    assert.deepEqual(dup[0].conflux_ids, [a.id, b.id].sort());
    assert.ok(n1.log.lines.some((l) => l.includes("share a name")), n1.log.lines.join("\n"));
    // An id name stays unique even when a tag looks like it.
    const c = realm.add("c", { teams: ["dev"] });
    realm.add(c.id, { teams: ["dev"] });
    assert.deepEqual(addresses(await ask(n1, `${c.id}.veilnet.internal`)), [c.ip]);
  });
});

Deno.test("names: tags are normalised, a node's suffix is its own, bad queries get FORMERR", async () => {
  await withRealm(async (realm) => {
    const n1 = realm.add("n1", { teams: ["dev"], extra: { dnsSuffix: "corp.test" } });
    const odd = realm.add("Web_1 Box", { teams: ["dev"] });
    assert.deepEqual(addresses(await ask(n1, "web-1-box.corp.test")), [odd.ip]);
    assert.equal((await ask(n1, "web-1-box.veilnet.internal")).rcode, RCode.REFUSED);
    const info = n1.node.info().dns!;
    assert.equal(info.suffix, "corp.test");
    assert.deepEqual(info.names, ["n1", n1.id.toLowerCase()]);
    // Garbage: FORMERR with the id, or nothing at all when not even a header.
    const bad = new Uint8Array([0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f]);
    const out = await n1.node.dns.answer(bad, { udp: true });
    const formerr = decodeMessage(out!);
    assert.equal(formerr.id, 0x1234);
    assert.equal(formerr.rcode, RCode.FORMERR);
    assert.equal(await n1.node.dns.answer(new Uint8Array([1, 2, 3]), { udp: true }), null);
  });
});
