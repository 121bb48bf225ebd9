/**
 * Test helper process: asks a DNS server one question and prints what came back as JSON, twice:
 * with our codec (`rcode`, `answers`) and with Deno's own resolver (`deno`: hickory-dns, an
 * independent client). Run inside a namespace by tests/dns_netns_test.ts.
 *
 *   deno run -A tests/dns_ask.ts SERVER NAME [A|AAAA|PTR] [TIMEOUT_MS]
 *
 * @module
 */
import dgram from "node:dgram";
import { decodeMessage, encodeMessage, queryMessage, RRType } from "../core/dns/codec.ts";

const [server, name, typeName = "A", timeoutText = "2000"] = Deno.args;
const type = RRType[typeName as keyof typeof RRType];
const timeoutMs = Number(timeoutText);

async function ours(): Promise<Record<string, unknown>> {
  const socket = dgram.createSocket("udp4");
  try {
    const id = Math.floor(Math.random() * 65_536);
    const reply = new Promise<Uint8Array | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      socket.on("message", (m: Uint8Array) => {
        clearTimeout(timer);
        resolve(new Uint8Array(m));
      });
    });
    socket.send(encodeMessage(queryMessage(id, name, type)), 53, server);
    const bytes = await reply;
    if (!bytes) return { timeout: true };
    const m = decodeMessage(bytes);
    return {
      id_ok: m.id === id,
      rcode: m.rcode,
      aa: m.authoritative,
      answers: m.answers.map((r) => ({ type: r.type, ttl: r.ttl, data: r.data })),
      authorities: m.authorities.map((r) => r.type),
    };
  } finally {
    socket.close();
  }
}

async function deno(): Promise<unknown> {
  if (typeName !== "A" && typeName !== "PTR") return null;
  try {
    return await Deno.resolveDns(name, typeName as "A" | "PTR", {
      nameServer: { ipAddr: server, port: 53 },
    });
  } catch (e) {
    return { error: (e as Error).name };
  }
}

const mine = await ours();
console.log(JSON.stringify({ ...mine, deno: mine.timeout ? null : await deno() }));
