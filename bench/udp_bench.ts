/**
 * Loopback throughput of the datagram-lane socket (ffi/udp.ts): 1,400-byte datagrams from a
 * sender worker to a receiver on the main isolate, 127.0.0.1 only, with and without GSO/GRO.
 * Prints, per mode, datagrams/s and Gbit/s sent and received (received is the throughput; an
 * unpaced sender overruns the receiver, and loopback drops the excess at the receive queue).
 *
 *   deno run -A bench/udp_bench.ts [--seconds 1.5] [--batch 256] [--size 1400]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DatagramBatch, parseIpv4, UdpSocket } from "../ffi/udp.ts";

const WORKER_NAME = "udp-bench-sender";

interface Mode {
  name: string;
  gso: boolean;
  gro: boolean;
}

const MODES: Mode[] = [
  { name: "plain (sendmmsg/recvmmsg)", gso: false, gro: false },
  { name: "GSO out, no GRO", gso: true, gro: false },
  { name: "GSO out + GRO in", gso: true, gro: true },
  { name: "GRO in only", gso: false, gro: true },
];

interface SenderJob {
  port: number;
  gso: boolean;
  seconds: number;
  batch: number;
  size: number;
}

interface SenderResult {
  sent: number;
  calls: number;
  gsoMessages: number;
  seconds: number;
}

async function runSender(job: SenderJob): Promise<SenderResult> {
  const tx = await UdpSocket.open({ address: "127.0.0.1", gso: job.gso });
  const batch = new DatagramBatch({ capacity: job.batch, slotSize: job.size });
  const lo = parseIpv4("127.0.0.1");
  for (let i = 0; i < job.batch; i++) {
    batch.slot(i).fill(i & 255);
    batch.commit(job.size, lo, job.port);
  }
  let sent = 0;
  let calls = 0;
  const t0 = performance.now();
  const end = t0 + job.seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 16; k++) {
      sent += tx.sendBatch(batch);
      calls++;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const gsoMessages = tx.stats().gsoMessages;
  await tx.close();
  return { sent, calls, gsoMessages, seconds };
}

async function runMode(
  mode: Mode,
  opts: { seconds: number; batch: number; size: number },
): Promise<void> {
  const rx = await UdpSocket.open({ address: "127.0.0.1", gro: mode.gro });
  const batch = new DatagramBatch({ capacity: 1024, slotSize: 2048 });
  const worker = new Worker(import.meta.url, { type: "module", name: WORKER_NAME });
  let done: SenderResult | null = null;
  const finished = new Promise<SenderResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<SenderResult>) => resolve(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
  });
  finished.then((r) => done = r, () => {});
  worker.postMessage(
    {
      port: rx.localPort,
      gso: mode.gso,
      seconds: opts.seconds,
      batch: opts.batch,
      size: opts.size,
    } satisfies SenderJob,
  );
  let received = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  let calls = 0;
  for (;;) {
    const n = await rx.recvBatch(batch, { timeoutMs: 100 });
    calls++;
    if (n > 0) {
      const now = performance.now();
      if (first === 0) first = now;
      last = now;
      received += n;
      for (let i = 0; i < n; i++) bytes += batch.lengths[i];
    } else if (done) {
      break;
    }
  }
  const sender = await finished;
  worker.terminate();
  const st = rx.stats();
  await rx.close();
  const rxSeconds = Math.max((last - first) / 1000, 1e-9);
  const fmt = (dps: number, b: number) =>
    `${(dps / 1e3).toFixed(0).padStart(6)}k dgram/s ${(b * 8 / 1e9).toFixed(2).padStart(6)} Gbit/s`;
  const txRate = sender.sent / sender.seconds;
  console.log(
    `${mode.name.padEnd(28)} sent ${fmt(txRate, txRate * opts.size)} | received ${
      fmt(received / rxSeconds, bytes / rxSeconds)
    } | loss ${(100 * (1 - received / Math.max(sender.sent, 1))).toFixed(1)}% | ` +
      `${(sender.sent / sender.calls).toFixed(0)} dgram/send call, ` +
      `${(received / Math.max(calls, 1)).toFixed(0)} dgram/recv call, ` +
      `GSO msgs ${sender.gsoMessages}, GRO reads ${st.groMessages}`,
  );
}

const selfName = (globalThis as { name?: string }).name;
if (selfName === WORKER_NAME) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<SenderJob>) => void) | null;
    postMessage(m: unknown): void;
  };
  scope.onmessage = async (e) => {
    scope.postMessage(await runSender(e.data));
  };
} else if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "1.5" },
      batch: { type: "string", default: "256" },
      size: { type: "string", default: "1400" },
    },
  });
  const opts = {
    seconds: Math.min(Math.max(Number(values.seconds), 0.2), 10),
    batch: Number(values.batch),
    size: Number(values.size),
  };
  console.log(
    `UDP loopback, ${opts.size}-byte datagrams, ${opts.batch} per send call, ${opts.seconds} s ` +
      `per mode, sender worker → receiver main isolate (kernel ${Deno.osRelease()}, ${navigator.hardwareConcurrency} CPUs)`,
  );
  for (const mode of MODES) await runMode(mode, opts);
}
