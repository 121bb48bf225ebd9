/**
 * The common measurement every peer runs once its tunnel is up: ping p50/p99, iperf3 with 1 and
 * 4 streams, daemon RSS idle and at the end of load.
 *
 * @module
 */
import { type Host, iperf, ping, rssMb, type Testbed } from "../netns.ts";
import type { BenchRow } from "./row.ts";

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
  /** PID whose RSS is reported (the client side daemon). */
  daemonPid: number;
  /** iperf3 seconds per run. */
  seconds: number;
  /** Pings for RTT. */
  pings: number;
}

/** Measures the tunnel from `client` to `options.server`. */
export async function measureTunnel(
  tb: Testbed,
  client: Host,
  options: MeasureOptions,
): Promise<BenchRow> {
  const rssIdle = await rssMb(options.daemonPid);
  const p = await ping(tb, client, { ip: options.ip, count: options.pings });
  const t1 = await iperf(tb, client, {
    server: options.server,
    ip: options.ip,
    seconds: options.seconds,
  })
    .catch((e) => (console.error(`${options.system}: ${e.message}`), null));
  let rssLoad: number | null = null;
  const sampler = setTimeout(async () => {
    rssLoad = await rssMb(options.daemonPid);
  }, Math.max(500, options.seconds * 1000 - 500));
  const t4 = await iperf(tb, client, {
    server: options.server,
    ip: options.ip,
    seconds: options.seconds,
    streams: 4,
  }).catch((e) => (console.error(`${options.system}: ${e.message}`), null));
  clearTimeout(sampler);
  return {
    system: options.system,
    mode: options.mode,
    tcp1_gbps: t1?.gbps ?? null,
    tcp4_gbps: t4?.gbps ?? null,
    ping_p50_ms: p.p50,
    ping_p99_ms: p.p99,
    rss_mb: rssIdle,
    rss_load_mb: rssLoad,
    tcp1_retransmits: t1?.retransmits ?? null,
  };
}
