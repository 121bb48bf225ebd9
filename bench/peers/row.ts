/**
 * The row every peer and our own tunnel report to bench/report.ts.
 *
 * @module
 */

/** One measured system/mode; null where a figure could not be measured. */
export interface BenchRow {
  /** System name, e.g. "wireguard-go", "nebula", "conflux/libdatachannel". */
  system: string;
  /** Path mode, e.g. "direct" or "relayed". */
  mode: string;
  /** iperf3 TCP, 1 stream, Gbit/s. */
  tcp1_gbps: number | null;
  /** iperf3 TCP, 4 streams, Gbit/s. */
  tcp4_gbps: number | null;
  /** Ping RTT median, ms. */
  ping_p50_ms: number | null;
  /** Ping RTT 99th percentile, ms. */
  ping_p99_ms: number | null;
  /** Daemon RSS idle (after setup), MB. */
  rss_mb: number | null;
  /** Daemon RSS at the end of the 4-stream load, MB. */
  rss_load_mb?: number | null;
  /** iperf3 retransmits of the 1-stream run. */
  tcp1_retransmits?: number | null;
  /** Anything else a system wants to report (numbers or short text). */
  [extra: string]: number | string | null | undefined;
}
