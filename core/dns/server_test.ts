import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Authority } from "./authority.ts";
import { decodeMessage, encodeMessage, queryMessage, RCode, RRType } from "./codec.ts";
import { startDnsServer } from "./server.ts";

const authority = new Authority(
  { suffix: "veilnet.internal", realm: { network: 0x64400000, prefix: 24 } },
  (l) =>
    Promise.resolve(
      l.kind === "name"
        ? { kind: "name", addresses: l.label === "web-1" ? ["100.64.0.7"] : [] }
        : { kind: "addr", labels: l.ip === "100.64.0.7" ? ["web-1"] : [] },
    ),
);

async function udpAsk(port: number, bytes: Uint8Array, ms = 1000): Promise<Uint8Array | null> {
  const s = dgram.createSocket("udp4");
  try {
    const got = new Promise<Uint8Array | null>((resolve) => {
      const t = setTimeout(() => resolve(null), ms);
      s.on("message", (m: Uint8Array) => {
        clearTimeout(t);
        resolve(new Uint8Array(m));
      });
    });
    s.send(bytes, port, "127.0.0.1");
    return await got;
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
}

Deno.test({
  name: "dns server: UDP and TCP answers, checked with Deno's own resolver (hickory-dns)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = await startDnsServer({
      hostname: "127.0.0.1",
      port: 0,
      authority,
      allow: (a) => a === "127.0.0.1",
    });
    try {
      const nameServer = { ipAddr: "127.0.0.1", port: server.port };
      assert.deepEqual(await Deno.resolveDns("web-1.veilnet.internal", "A", { nameServer }), [
        "100.64.0.7",
      ]);
      assert.deepEqual(await Deno.resolveDns("7.0.64.100.in-addr.arpa", "PTR", { nameServer }), [
        "web-1.veilnet.internal.",
      ]);
      await assert.rejects(
        Deno.resolveDns("db.veilnet.internal", "A", { nameServer }),
        Deno.errors.NotFound,
      );
      // Garbage over UDP: FORMERR, and the server goes on answering.
      const formerr = await udpAsk(
        server.port,
        new Uint8Array([9, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f]),
      );
      assert.equal(decodeMessage(formerr!).rcode, RCode.FORMERR);
      assert.equal(await udpAsk(server.port, new Uint8Array([1]), 300), null);
      // TCP: two length-prefixed queries on one connection.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        const frame = (m: Uint8Array) => new Uint8Array([m.length >> 8, m.length & 255, ...m]);
        const a = encodeMessage(queryMessage(1, "web-1.veilnet.internal", RRType.A));
        const b = encodeMessage(queryMessage(2, "example.com", RRType.A));
        await conn.write(new Uint8Array([...frame(a), ...frame(b)]));
        const got: number[] = [];
        const buf = new Uint8Array(2048);
        const replies: ReturnType<typeof decodeMessage>[] = [];
        while (replies.length < 2) {
          const n = await conn.read(buf);
          assert.ok(n !== null, "connection closed early");
          got.push(...buf.subarray(0, n));
          while (got.length >= 2 && got.length >= 2 + ((got[0] << 8) | got[1])) {
            const len = (got[0] << 8) | got[1];
            replies.push(decodeMessage(new Uint8Array(got.splice(0, 2 + len).slice(2))));
          }
        }
        assert.deepEqual(replies.map((r) => [r.id, r.rcode]), [[1, RCode.NOERROR], [
          2,
          RCode.REFUSED,
        ]]);
        assert.equal(replies[0].answers[0].data, "100.64.0.7");
      } finally {
        conn.close();
      }
      assert.ok(server.stats.answered >= 5);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "dns server: queries from a source that is not allowed get no answer at all",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = await startDnsServer({
      hostname: "127.0.0.1",
      port: 0,
      authority,
      allow: () => false,
    });
    try {
      const q = encodeMessage(queryMessage(5, "web-1.veilnet.internal", RRType.A));
      assert.equal(await udpAsk(server.port, q, 400), null);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const n = await conn.read(new Uint8Array(16)).catch(() => null);
      assert.equal(n, null, "the TCP connection is closed unanswered");
      conn.close();
      assert.equal(server.stats.foreign, 2);
      assert.equal(server.stats.answered, 0);
    } finally {
      await server.close();
    }
  },
});
