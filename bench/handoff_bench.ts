/**
 * What moving the packet path into a Worker would cost (issue 8 item 3): handing packet batches
 * from the main isolate to a Worker and back, as transferred ArrayBuffers (postMessage) and
 * through a SharedArrayBuffer ring (Atomics), against doing the same work inline. Prints one
 * JSON document; a Markdown table on stderr.
 *
 * Per batch size it measures batches per second with `--window` batches in flight, the CPU all
 * threads of the process spend per batch (what decides throughput on a machine whose cores are
 * already busy), and the round trip of one batch to the worker and back, back to back and after an
 * idle gap (the wake-up a ping would pay at each worker hop).
 *
 * Usage: deno run -A bench/handoff_bench.ts [--seconds 2] [--sizes 1500,65536] [--window 32]
 *        [--pings 200] [--gap-ms 5]
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import {
  type HandoffCommand,
  type HandoffReply,
  HEAD,
  RING_HEADER,
  TAIL,
} from "./handoff_worker.ts";

/** Throughput and CPU cost of one way of handing batches over. */
export interface HandoffRate {
  batchesPerSec: number;
  /** CPU time of all threads per batch, µs. */
  cpuUsPerBatch: number;
}

/** Figures for one batch size. */
export interface HandoffResult {
  bytes: number;
  inline: HandoffRate;
  transfer: HandoffRate;
  ring: HandoffRate;
  /** Round trip main → worker → main of one batch, µs. */
  rttUs: { backToBackP50: number; afterGapP50: number; afterGapP99: number };
}

function touch(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 64) sum += bytes[i];
  return sum;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function rate(batches: number, startMs: number, startCpu: number): HandoffRate {
  const seconds = (performance.now() - startMs) / 1000;
  return {
    batchesPerSec: Math.round(batches / seconds),
    cpuUsPerBatch: round((cpuUs() - startCpu) / batches),
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function percentile(sorted: number[], p: number): number {
  return round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]);
}

function inline(bytes: number, seconds: number): HandoffRate {
  const buffer = new Uint8Array(bytes);
  const t0 = performance.now(), c0 = cpuUs();
  let n = 0;
  let sink = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < 256; i++) sink += touch(buffer);
    n += 256;
  }
  if (sink < 0) console.error(sink);
  return rate(n, t0, c0);
}

/** Replies from the worker, one awaited at a time. */
class Replies {
  #waiting: ((r: HandoffReply) => void)[] = [];
  #queued: HandoffReply[] = [];

  constructor(worker: Worker) {
    worker.onmessage = (e: MessageEvent<HandoffReply>) => {
      const w = this.#waiting.shift();
      if (w) w(e.data);
      else this.#queued.push(e.data);
    };
  }

  next(): Promise<HandoffReply> {
    const q = this.#queued.shift();
    return q ? Promise.resolve(q) : new Promise((r) => this.#waiting.push(r));
  }
}

async function transfer(
  worker: Worker,
  replies: Replies,
  bytes: number,
  windowSize: number,
  seconds: number,
): Promise<HandoffRate> {
  for (let i = 0; i < windowSize; i++) {
    const b = new ArrayBuffer(bytes);
    worker.postMessage(b, [b]);
  }
  const t0 = performance.now(), c0 = cpuUs();
  let n = 0;
  let inFlight = windowSize;
  while (inFlight > 0) {
    const r = await replies.next();
    if (r.kind !== "batch") throw new Error(`unexpected reply ${r.kind}`);
    n++;
    if (performance.now() - t0 < seconds * 1000) {
      new Uint8Array(r.buffer)[0] = n & 0xff; // the main isolate writes the next batch
      worker.postMessage(r.buffer, [r.buffer]);
    } else inFlight--;
  }
  return rate(n, t0, c0);
}

async function ring(
  worker: Worker,
  replies: Replies,
  bytes: number,
  slots: number,
  seconds: number,
): Promise<HandoffRate> {
  // A fixed count, sized to take about `seconds` at the rates seen on our 2-vCPU machines.
  const count = Math.max(1000, Math.round(seconds * 200_000 * (1500 / bytes)));
  const shared = new SharedArrayBuffer(RING_HEADER + slots * bytes);
  const counters = new Int32Array(shared, 0, 2);
  const command: HandoffCommand = { kind: "ring", shared, slots, slotBytes: bytes, count };
  const t0 = performance.now(), c0 = cpuUs();
  worker.postMessage(command);
  for (let put = 0; put < count; put++) {
    let tail = Atomics.load(counters, TAIL);
    while (put - tail >= slots) {
      const w = Atomics.waitAsync(counters, TAIL, tail);
      if (w.async) await w.value;
      tail = Atomics.load(counters, TAIL);
    }
    new Uint8Array(shared, RING_HEADER + (put % slots) * bytes, bytes)[0] = put & 0xff;
    Atomics.store(counters, HEAD, put + 1);
    Atomics.notify(counters, HEAD);
  }
  const done = await replies.next();
  if (done.kind !== "ring-done") throw new Error(`unexpected reply ${done.kind}`);
  return rate(count, t0, c0);
}

async function roundTrips(
  worker: Worker,
  replies: Replies,
  bytes: number,
  pings: number,
  gapMs: number,
): Promise<number[]> {
  let buffer = new ArrayBuffer(bytes);
  const out: number[] = [];
  for (let i = 0; i < pings; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t = performance.now();
    worker.postMessage(buffer, [buffer]);
    const r = await replies.next();
    out.push((performance.now() - t) * 1000);
    if (r.kind !== "batch") throw new Error(`unexpected reply ${r.kind}`);
    buffer = r.buffer;
  }
  return out.sort((a, b) => a - b);
}

/** Runs every measurement for one batch size with a fresh worker. */
export async function measureHandoff(
  bytes: number,
  options: { seconds: number; window: number; pings: number; gapMs: number },
): Promise<HandoffResult> {
  const worker = new Worker(new URL("./handoff_worker.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    const replies = new Replies(worker);
    await roundTrips(worker, replies, bytes, 50, 0); // warm-up: compile both sides
    const base = inline(bytes, options.seconds);
    const t = await transfer(worker, replies, bytes, options.window, options.seconds);
    const r = await ring(worker, replies, bytes, options.window, options.seconds);
    const hot = await roundTrips(worker, replies, bytes, options.pings, 0);
    const idle = await roundTrips(worker, replies, bytes, options.pings, options.gapMs);
    return {
      bytes,
      inline: base,
      transfer: t,
      ring: r,
      rttUs: {
        backToBackP50: percentile(hot, 0.5),
        afterGapP50: percentile(idle, 0.5),
        afterGapP99: percentile(idle, 0.99),
      },
    };
  } finally {
    worker.terminate();
  }
}

/** The results as a Markdown table. */
export function handoffTable(results: HandoffResult[]): string {
  const lines = [
    "| batch bytes | inline µs CPU | transfer batches/s | transfer µs CPU | ring batches/s | ring µs CPU | RTT µs back to back | RTT µs after gap p50 / p99 |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.bytes} | ${r.inline.cpuUsPerBatch} | ${r.transfer.batchesPerSec} | ${r.transfer.cpuUsPerBatch} | ${r.ring.batchesPerSec} | ${r.ring.cpuUsPerBatch} | ${r.rttUs.backToBackP50} | ${r.rttUs.afterGapP50} / ${r.rttUs.afterGapP99} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "2" },
      sizes: { type: "string", default: "1500,65536" },
      window: { type: "string", default: "32" },
      pings: { type: "string", default: "200" },
      "gap-ms": { type: "string", default: "5" },
    },
  });
  const options = {
    seconds: Number(values.seconds),
    window: Number(values.window),
    pings: Number(values.pings),
    gapMs: Number(values["gap-ms"]),
  };
  const sizes = values.sizes!.split(",").map(Number);
  const bad = !(options.seconds > 0) || !Number.isInteger(options.window) ||
    options.window < 1 || !Number.isInteger(options.pings) || options.pings < 1 ||
    !(options.gapMs >= 0) || sizes.some((s) => !Number.isInteger(s) || s < 64);
  if (bad) {
    console.error("handoff: --seconds > 0, --window ≥ 1, --pings ≥ 1, --gap-ms ≥ 0, sizes ≥ 64");
    Deno.exit(2);
  }
  const results: HandoffResult[] = [];
  for (const bytes of sizes) results.push(await measureHandoff(bytes, options));
  console.log(JSON.stringify({ cores: navigator.hardwareConcurrency, results }, null, 2));
  console.error(handoffTable(results));
}
