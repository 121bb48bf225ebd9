/**
 * Tether benchmark: throughput per engine, message size (1,400 B and 16 KB) and channel count
 * (1 and 4) between two processes on loopback, RTT p50/p99 of 100-byte ping-pongs, and setup
 * time (offer → all channels open). Prints one JSON document.
 *
 * Usage: deno run -A bench/tether_bench.ts [--seconds 2] [--engines libdatachannel,werift]
 *        [--sizes 1400,16384] [--channels 1,4] [--mtu 1400] [--high 65536 --low 16384] [--pings 1000]
 *        [--setup 5] [--sctp default|FIELD=N,…]
 *
 * `--sctp` sets VEILNET_SCTP for both ends (core/tether/engine_libdatachannel.ts): "default" for
 * libdatachannel's own SCTP settings, or e.g. `sendBufferSize=4194304,delayedSackTime=0`.
 * `--setup 0` skips the setup-time rows.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openTether } from "../core/tether/open.ts";
import type { RtcEngineName } from "../core/tether/tether.ts";
import { type PeerChild, spawnPeer } from "../tests/tether_child.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "2" },
    engines: { type: "string", default: "libdatachannel,werift" },
    sizes: { type: "string", default: "1400,16384" },
    channels: { type: "string", default: "1,4" },
    mtu: { type: "string", default: "1400" },
    pings: { type: "string", default: "1000" },
    high: { type: "string", default: "65536" },
    low: { type: "string", default: "16384" },
    setup: { type: "string", default: "5" },
    sctp: { type: "string" },
  },
});
// Before any tether loads node-datachannel; the spawned ends inherit it.
if (values.sctp !== undefined) Deno.env.set("VEILNET_SCTP", values.sctp);
const setupRuns = Number(values.setup);
const seconds = Number(values.seconds);
const engines = values.engines!.split(",") as RtcEngineName[];
const sizes = values.sizes!.split(",").map(Number);
const channelCounts = values.channels!.split(",").map(Number);
const mtu = Number(values.mtu);
const pings = Number(values.pings);
const highWater = Number(values.high);
const lowWater = Number(values.low);

function relay(a: PeerChild, b: PeerChild): void {
  const pump = async (from: PeerChild, to: PeerChild) => {
    for await (const s of from.signaler.incoming) await to.signaler.send(s);
  };
  pump(a, b).catch(() => {});
  pump(b, a).catch(() => {});
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ThroughputRow {
  engine: RtcEngineName;
  messageBytes: number;
  channels: number;
  mbitPerSec: number;
  sentMbitPerSec: number;
  deliveredRatio: number;
  /** CPU time used by sender and receiver per second of wall time (1.0 = one full core). */
  senderCpu: number;
  receiverCpu: number;
  /** Throughput per core-second of the busier end: comparable across loaded machines. */
  mbitPerCoreSecond: number;
}

async function throughput(
  engine: RtcEngineName,
  size: number,
  channels: number,
): Promise<ThroughputRow> {
  const common = { host: "127.0.0.1", channels, mode: "sink" as const, mtu, highWater, lowWater };
  const tx = spawnPeer({ role: "offerer", engine, ...common });
  const rx = spawnPeer({ role: "answerer", engine, ...common });
  try {
    relay(tx, rx);
    await Promise.all([tx.next("open"), rx.next("open")]);
    await delay(200);
    await rx.command("stats");
    const rxCpu0 = (await rx.next("stats")).cpuMs as number;
    await tx.command("blast", { ms: seconds * 1000, size });
    const sent = await tx.next("sent", seconds * 1000 + 15_000);
    await delay(300);
    await rx.command("stats");
    const got = await rx.next("stats");
    const bytes = got.bytes as number;
    const senderCpu = (sent.cpuMs as number) / 1000 / seconds;
    const receiverCpu = ((got.cpuMs as number) - rxCpu0) / 1000 / (seconds + 0.3);
    const mbit = (bytes * 8) / seconds / 1e6;
    return {
      engine,
      messageBytes: size,
      channels,
      mbitPerSec: round((bytes * 8) / seconds / 1e6),
      sentMbitPerSec: round(((sent.bytes as number) * 8) / seconds / 1e6),
      deliveredRatio: round(bytes / (sent.bytes as number), 4),
      senderCpu: round(senderCpu, 2),
      receiverCpu: round(receiverCpu, 2),
      mbitPerCoreSecond: round(mbit / Math.max(senderCpu, receiverCpu, 0.01)),
    };
  } finally {
    await tx.stop();
    await rx.stop();
  }
}

async function latency(engine: RtcEngineName) {
  const echo = spawnPeer({ role: "answerer", engine, host: "127.0.0.1", mode: "echo", mtu });
  try {
    const tether = await openTether({
      peerId: "echo",
      role: "offerer",
      engine,
      signaler: echo.signaler,
      hostAddresses: ["127.0.0.1"],
      probeIntervalMs: 0,
      mtu,
    });
    await echo.next("open");
    let wake: (() => void) | undefined;
    tether.onMessage(() => wake?.());
    const rtts: number[] = [];
    const m = new Uint8Array(100);
    let lost = 0;
    for (let i = 0; i < pings; i++) {
      const start = performance.now();
      const got = new Promise<boolean>((r) => {
        wake = () => r(true);
        setTimeout(() => r(false), 1000);
      });
      tether.send(m);
      if (await got) rtts.push(performance.now() - start);
      else lost++;
    }
    tether.close();
    rtts.sort((a, b) => a - b);
    return {
      engine,
      rttP50Ms: round(rtts[Math.floor(rtts.length * 0.5)], 3),
      rttP99Ms: round(rtts[Math.floor(rtts.length * 0.99)], 3),
      pingsLost: lost,
    };
  } finally {
    await echo.stop();
  }
}

/** Setup time of several fresh tethers, both ends in this process. */
async function setupTimes(engine: RtcEngineName, n: number) {
  const { memorySignalerPair } = await import("../core/tether/signaler.ts");
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const pair = memorySignalerPair();
    const t0 = performance.now();
    const common = { hostAddresses: ["127.0.0.1"], probeIntervalMs: 0, engine, mtu };
    const [a, b] = await Promise.all([
      openTether({ ...common, peerId: "b", role: "offerer", signaler: pair[0] }),
      openTether({ ...common, peerId: "a", role: "answerer", signaler: pair[1] }),
    ]);
    times.push(performance.now() - t0);
    a.close();
    b.close();
    pair.close();
    await delay(50);
  }
  times.sort((a, b) => a - b);
  return {
    engine,
    setupP50Ms: round(times[Math.floor(n / 2)], 1),
    setupMaxMs: round(times[n - 1], 1),
  };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const result = {
  machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
  settings: {
    seconds,
    mtu,
    highWater,
    lowWater,
    sctp: Deno.env.get("VEILNET_SCTP") ?? "(engine default)",
    path: "loopback, two processes",
  },
  throughput: [] as ThroughputRow[],
  latency: [] as unknown[],
  setup: [] as unknown[],
};
for (const engine of engines) {
  for (const size of sizes) {
    for (const channels of channelCounts) {
      result.throughput.push(await throughput(engine, size, channels));
    }
  }
  result.latency.push(await latency(engine));
  if (setupRuns > 0) result.setup.push(await setupTimes(engine, setupRuns));
}
console.log(JSON.stringify(result, null, 2));
Deno.exit(0);
