/**
 * A tether across a veth pair between two network namespaces this test creates: each end runs
 * in its own process inside its namespace, with signals relayed by the test; libdatachannel on
 * both ends, then libdatachannel ↔ werift both ways.
 */

import assert from "node:assert/strict";
import { type PeerChild, spawnPeer } from "./tether_child.ts";

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stderr: "piped", stdout: "null" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

function relay(a: PeerChild, b: PeerChild): void {
  const pump = async (from: PeerChild, to: PeerChild) => {
    for await (const s of from.signaler.incoming) await to.signaler.send(s);
  };
  pump(a, b).catch(() => {});
  pump(b, a).catch(() => {});
}

const isRoot = Deno.uid?.() === 0;

Deno.test({
  name: "tether: across a veth between two namespaces, each engine pairing",
  ignore: !isRoot,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const tag = `${Deno.pid}${Math.random().toString(36).slice(2, 6)}`;
  const nsA = `vnt-a-${tag}`;
  const nsB = `vnt-b-${tag}`;
  const vethA = `vta${tag}`.slice(0, 15);
  const vethB = `vtb${tag}`.slice(0, 15);
  // A /30 in 198.18.0.0/15 chosen from the PID so concurrent runs rarely share it (they live
  // in separate namespaces anyway).
  const base = 4 * (Deno.pid % 16000);
  const addr = (n: number) => `198.18.${Math.floor((base + n) / 256)}.${(base + n) % 256}`;
  const hostA = addr(1);
  const hostB = addr(2);
  let a: PeerChild | undefined;
  let b: PeerChild | undefined;
  try {
    await ip("netns", "add", nsA);
    await ip("netns", "add", nsB);
    await ip("link", "add", vethA, "type", "veth", "peer", "name", vethB);
    await ip("link", "set", vethA, "netns", nsA);
    await ip("link", "set", vethB, "netns", nsB);
    await ip("-n", nsA, "addr", "add", `${hostA}/30`, "dev", vethA);
    await ip("-n", nsB, "addr", "add", `${hostB}/30`, "dev", vethB);
    for (const [ns, dev] of [[nsA, vethA], [nsB, vethB]]) {
      await ip("-n", ns, "link", "set", dev, "up");
      await ip("-n", ns, "link", "set", "lo", "up");
    }

    // Each engine pairing in turn, 300 numbered 1,200-byte messages paced at about 2 per ms
    // (werift's capacity here is ~20 Mbit/s; faster would be overload, where unreliable
    // channels drop by design).
    const pairs = [
      ["libdatachannel", "libdatachannel", 300],
      ["libdatachannel", "werift", 300],
      ["werift", "libdatachannel", 300],
    ] as const;
    for (const [engineA, engineB, count] of pairs) {
      a = spawnPeer({ role: "offerer", engine: engineA, host: hostA, netns: nsA, mode: "sink" });
      b = spawnPeer({ role: "answerer", engine: engineB, host: hostB, netns: nsB, mode: "echo" });
      relay(a, b);
      const [openA, openB] = await Promise.all([a.next("open"), b.next("open")]);
      assert.equal(openA.engine, engineA);
      assert.equal(openB.engine, engineB);

      // A originates numbered messages at a moderate rate, B echoes them back, A counts.
      await a.command("send", { count, size: 1200 });
      assert.equal((await a.next("sent")).messages, count);
      let statsA: Record<string, unknown> = {};
      for (let i = 0; i < 100; i++) {
        await a.command("stats");
        statsA = await a.next("stats");
        if (statsA.received === count) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await b.command("stats");
      const statsB = await b.next("stats");
      const what = `${engineA} → ${engineB}`;
      assert.equal(statsB.received, count, `${what}: B missed ${JSON.stringify(statsB.missing)}`);
      assert.equal(statsB.bytes, count * 1200);
      assert.equal(statsA.received, count, `${what}: A missed ${JSON.stringify(statsA.missing)}`);
      await b.command("close");
      assert.ok((await a.next("closed")).reason, "A saw the close");
      assert.ok((await b.next("closed")).reason);
      await a.stop();
      await b.stop();
    }
  } finally {
    await a?.stop();
    await b?.stop();
    await ip("netns", "del", nsA).catch(() => {});
    await ip("netns", "del", nsB).catch(() => {});
  }
});
