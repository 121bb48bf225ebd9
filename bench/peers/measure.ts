/**
 * The common measurement every tunnel (peers and our own) runs once it is up: ping p50/p99,
 * iperf3 with 1 and 4 streams, daemon RSS idle and at the end of load; optionally an extra
 * many-stream run (e.g. 10 streams through a relay) and the RSS of further daemons (receiver,
 * relay), all sampled the same way (VmRSS from /proc/PID/status, 0.5 s before a run ends).
 *
 * @module
 */
import { type Host, iperf, type IperfResult, ping, rssMb, type Testbed } from "../netns.ts";
import type { BenchRow, MemorySample } from "./row.ts";

export type { MemorySample } from "./row.ts";

/** A daemon whose RSS is sampled, with its role in the path. */
export interface WatchedDaemon {
  /** Role, e.g. "sender", "receiver", "relay (h2)". */
  role: string;
  /** OS process id of the daemon. */
  pid: number;
}

/** Options for {@link measureTunnel}. */
export interface MeasureOptions {
  /** Row label. */
  system: string;
  /** Row mode ("direct", "relayed"). */
  mode: string;
  /** Host running the iperf3 server. */
  server: Host;
  /** Overlay address of the server. */
  ip: string;
  /** PID whose RSS is reported in the row (the client side daemon, or the relay). */
  daemonPid: number;
  /** iperf3 seconds per run. */
  seconds: number;
  /** Pings for RTT. */
  pings: number;
}

/** Options for {@link measureTunnelWithMemory}. */
export interface MemoryMeasureOptions extends MeasureOptions {
  /** Daemons whose RSS goes into the memory samples (idle, 4-stream and many-stream load). */
  watch?: WatchedDaemon[];
  /** Streams of an extra iperf3 run made for memory (and reported as `tcp_many_gbps`). */
  manyStreams?: number;
}

/** Runs iperf3 and samples the RSS of `pids` 0.5 s before the run should end. */
async function iperfSampled(
  tb: Testbed,
  client: Host,
  options: MeasureOptions,
  streams: number,
  pids: number[],
): Promise<{ result: IperfResult | null; rss: (number | null)[] }> {
  let rss: (number | null)[] = pids.map(() => null);
  const sampler = setTimeout(async () => {
    rss = await Promise.all(pids.map((pid) => rssMb(pid)));
  }, Math.max(500, options.seconds * 1000 - 500));
  const result = await iperf(tb, client, {
    server: options.server,
    ip: options.ip,
    seconds: options.seconds,
    streams,
  }).catch((e) => (console.error(`${options.system} -P ${streams}: ${e.message}`), null));
  clearTimeout(sampler);
  return { result, rss };
}

/**
 * Measures the tunnel from `client` to `options.server` and samples the RSS of the row's daemon
 * and every watched daemon.
 */
export async function measureTunnelWithMemory(
  tb: Testbed,
  client: Host,
  options: MemoryMeasureOptions,
): Promise<{ row: BenchRow; memory: MemorySample[] }> {
  const watch = options.watch ?? [];
  const pids = [options.daemonPid, ...watch.map((w) => w.pid)];
  const idle = await Promise.all(pids.map((pid) => rssMb(pid)));
  const p = await ping(tb, client, { ip: options.ip, count: options.pings });
  const t1 = await iperfSampled(tb, client, options, 1, []);
  const t4 = await iperfSampled(tb, client, options, 4, pids);
  const many = options.manyStreams
    ? await iperfSampled(tb, client, options, options.manyStreams, pids)
    : null;
  const row: BenchRow = {
    system: options.system,
    mode: options.mode,
    tcp1_gbps: t1.result?.gbps ?? null,
    tcp4_gbps: t4.result?.gbps ?? null,
    ping_p50_ms: p.p50,
    ping_p99_ms: p.p99,
    rss_mb: idle[0],
    rss_load_mb: t4.rss[0],
    tcp1_retransmits: t1.result?.retransmits ?? null,
    ping_loss: p.sent > 0 ? Math.max(0, 1 - p.samples.length / p.sent) : null,
  };
  if (many) {
    row.tcp_many_gbps = many.result?.gbps ?? null;
    row.many_streams = options.manyStreams;
  }
  const memory = watch.map((w, i): MemorySample => {
    const s: MemorySample = {
      system: options.system,
      mode: options.mode,
      role: w.role,
      idle_mb: idle[i + 1],
      load4_mb: t4.rss[i + 1],
    };
    if (many) {
      s.load_many_mb = many.rss[i + 1];
      s.many_streams = options.manyStreams;
    }
    return s;
  });
  return { row, memory };
}

/** Measures the tunnel from `client` to `options.server` (the row only). */
export async function measureTunnel(
  tb: Testbed,
  client: Host,
  options: MeasureOptions,
): Promise<BenchRow> {
  return (await measureTunnelWithMemory(tb, client, options)).row;
}
