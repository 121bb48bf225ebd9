/**
 * TUN binding benchmark (root), printed as JSON:
 * - kernelLoop: packets/s and Gbit/s written and read back through one TUN (the namespace's
 *   kernel forwards them straight back), single vs batched (each with and without the
 *   synchronous drain before the waiting call) vs offload (64 KB TCP GSO super-packets);
 * - iperf: one iperf3 TCP stream between two namespaces whose only link is two TUNs joined by
 *   the binding (tests/tun_helper.ts forward): single, batched, offload (super-packets passed
 *   through) and offload on one side with software segmentation;
 * - closeWithPendingReadMs: close() latency while a read waits.
 *
 *   deno run -A bench/tun_bench.ts [--seconds 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Helper, isRoot, mustRun, run, uniqueName, withNetns } from "../tests/tun_support.ts";

interface Counters {
  packets: number;
  bytes: number;
  segments: number;
  drops: number;
}

interface Snapshot {
  elapsedMs: number;
  ab: Counters;
  ba: Counters;
}

interface ModeResult {
  mode: string;
  /** What iperf3 sent: one TCP stream, or a UDP flood of 1,400-byte IP packets. */
  traffic: "tcp" | "udp";
  batch: number;
  offloadA: boolean;
  offloadB: boolean;
  /** Payload received by iperf3 in namespace B. */
  receivedGbitPerSec: number;
  /** Packets the forwarder read (and wrote on) per second, both directions. */
  readPacketsPerSec: number;
  /** Packets the forwarder wrote per second (after segmentation), both directions. */
  writePacketsPerSec: number;
  /** Bytes per read A→B: above the MTU means GSO super-packets. */
  avgReadBytesAtoB: number;
  /** Gbit/s of IP bytes read from TUN A. */
  readGbitPerSec: number;
}

async function measure(
  mode: string,
  opts: { batch: number; offloadA: boolean; offloadB: boolean; seconds: number; udp?: boolean },
): Promise<ModeResult> {
  return await withNetns(2, async ([nsA, nsB]) => {
    const nameA = uniqueName("vba");
    const nameB = uniqueName("vbb");
    const fwd = Helper.spawn(nsA, "forward", {
      a: { name: nameA, cidr: "100.64.99.1/24", offload: opts.offloadA },
      b: { name: nameB, offload: opts.offloadB, netns: nsB },
      batch: opts.batch,
    });
    let server: Deno.ChildProcess | null = null;
    try {
      const ready = await fwd.next();
      if (ready.ready !== true) throw new Error(JSON.stringify(ready));
      const inB = ["ip", "netns", "exec", nsB];
      await mustRun([...inB, "ip", "addr", "add", "100.64.99.2/24", "dev", nameB]);
      await mustRun([...inB, "ip", "link", "set", nameB, "up"]);
      server = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          nsB,
          "timeout",
          String(opts.seconds + 30),
          "iperf3",
          "-s",
          "-1",
          "-B",
          "100.64.99.2",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      let report: { error?: string; end?: { sum_received?: { bits_per_second: number } } } = {};
      let before: Snapshot | null = null;
      for (let attempt = 0; attempt < 30; attempt++) {
        before = await fwd.request({ op: "stats" }) as unknown as Snapshot;
        const c = await run([
          "ip",
          "netns",
          "exec",
          nsA,
          "timeout",
          String(opts.seconds + 20),
          "iperf3",
          "-c",
          "100.64.99.2",
          "-t",
          String(opts.seconds),
          "-J",
          "--connect-timeout",
          "1000",
          ...(opts.udp ? ["-u", "-b", "0", "-l", "1372"] : []),
        ]);
        report = JSON.parse(c.stdout || "{}");
        if (!/refused/.test(report.error ?? "")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const after = await fwd.request({ op: "stats" }) as unknown as Snapshot;
      await fwd.finish();
      await server.status;
      server = null;
      if (!report.end?.sum_received || !before) throw new Error(JSON.stringify(report));
      const s = (after.elapsedMs - before.elapsedMs) / 1000;
      const d = (k: "ab" | "ba", f: keyof Counters) => after[k][f] - before![k][f];
      const reads = d("ab", "packets") + d("ba", "packets");
      const written = (opts.offloadA && !opts.offloadB ? d("ab", "segments") : d("ab", "packets")) +
        d("ba", "packets") - d("ab", "drops") - d("ba", "drops");
      return {
        mode,
        traffic: opts.udp ? "udp" : "tcp",
        batch: opts.batch,
        offloadA: opts.offloadA,
        offloadB: opts.offloadB,
        receivedGbitPerSec: round(report.end.sum_received.bits_per_second / 1e9),
        readPacketsPerSec: Math.round(reads / s),
        writePacketsPerSec: Math.round(written / s),
        avgReadBytesAtoB: Math.round(d("ab", "bytes") / Math.max(1, d("ab", "packets"))),
        readGbitPerSec: round((d("ab", "bytes") + d("ba", "bytes")) * 8 / s / 1e9),
      };
    } catch (e) {
      await fwd.kill();
      throw e;
    } finally {
      if (server) {
        try {
          server.kill("SIGKILL");
        } catch { /* gone */ }
        await server.status;
      }
    }
  });
}

interface LoopResult {
  mode: string;
  batch: number;
  packetBytes: number;
  /** Packets written and read back per second (each one is one write and one read). */
  packetsPerSec: number;
  /** IP bytes per second, counted once (write and read each move this much). */
  gbitPerSec: number;
  lost: number;
}

async function measureLoop(
  mode: string,
  opts: { batch: number; size: number; offload: boolean; eager: boolean; seconds: number },
): Promise<LoopResult> {
  return await withNetns(1, async ([ns]) => {
    await mustRun([
      "ip",
      "netns",
      "exec",
      ns,
      "sysctl",
      "-qw",
      "net.ipv4.ip_forward=1",
      "net.ipv4.conf.all.send_redirects=0",
      "net.ipv4.conf.default.send_redirects=0",
    ]);
    const h = Helper.spawn(ns, "loop", { name: uniqueName("vbl"), ...opts });
    try {
      const r = await h.next();
      await h.finish();
      const s = (r.elapsedMs as number) / 1000;
      return {
        mode,
        batch: opts.batch,
        packetBytes: opts.size,
        packetsPerSec: Math.round((r.received as number) / s),
        gbitPerSec: round((r.bytes as number) * 8 / s / 1e9),
        lost: r.lost as number,
      };
    } catch (e) {
      await h.kill();
      throw e;
    }
  });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function closeLatency(): Promise<number[]> {
  return await withNetns(1, async ([ns]) => {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) {
      const h = Helper.spawn(ns, "serve", { name: uniqueName("vbc"), cidrs: ["100.64.98.1/24"] });
      try {
        await h.next();
        const r = await h.request({ op: "close" });
        out.push(round(r.closeMs as number));
        await h.finish();
      } catch (e) {
        await h.kill();
        throw e;
      }
    }
    return out;
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "3" } } });
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30) {
    console.error("--seconds must be an integer 1..30");
    Deno.exit(2);
  }
  if (!isRoot()) {
    console.error("tun_bench needs root (network namespaces, TUN devices)");
    Deno.exit(1);
  }
  const loops = [
    { mode: "single, waiting call per read", batch: 1, size: 1400, offload: false, eager: false },
    { mode: "single", batch: 1, size: 1400, offload: false, eager: true },
    { mode: "batched, waiting call per read", batch: 64, size: 1400, offload: false, eager: false },
    { mode: "batched", batch: 64, size: 1400, offload: false, eager: true },
    { mode: "offload (64 KB TCP GSO)", batch: 16, size: 65_000, offload: true, eager: true },
  ];
  const kernelLoop: LoopResult[] = [];
  for (const l of loops) kernelLoop.push(await measureLoop(l.mode, { ...l, seconds }));
  const modes = [
    { mode: "single", batch: 1, offloadA: false, offloadB: false },
    { mode: "batched", batch: 64, offloadA: false, offloadB: false },
    { mode: "offload", batch: 64, offloadA: true, offloadB: true },
    { mode: "offload+segmentation", batch: 64, offloadA: true, offloadB: false },
  ];
  const results: ModeResult[] = [];
  for (const m of modes) results.push(await measure(m.mode, { ...m, seconds }));
  const kernel = (await run(["uname", "-r"])).stdout.trim();
  console.log(JSON.stringify(
    {
      bench: "tun",
      note: "kernelLoop: one process writes batches into a TUN whose namespace forwards them " +
        "straight back out of it and reads them again (binding + kernel cost, no other " +
        "process). iperf: one iperf3 TCP stream A->B through two TUNs joined by the binding " +
        "in one Deno process. MTU 1500; shared cores, so figures vary with load.",
      seconds,
      cpus: navigator.hardwareConcurrency,
      kernel,
      deno: Deno.version.deno,
      kernelLoop,
      iperf: results,
      closeWithPendingReadMs: await closeLatency(),
    },
    null,
    2,
  ));
}
