/**
 * The row every peer and our own tunnel report to bench/report.ts, and the per-daemon memory
 * sample beside it.
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

/** RSS of one daemon of one row: idle and at the end of each load run. */
export interface MemorySample {
  /** System of the row. */
  system: string;
  /** Mode of the row. */
  mode: string;
  /** Role of the daemon in the path. */
  role: string;
  /** VmRSS in MB once the tunnel is up, before any load. */
  idle_mb: number | null;
  /** VmRSS in MB near the end of the 4-stream run. */
  load4_mb: number | null;
  /** VmRSS in MB near the end of the many-stream run (when one was made). */
  load_many_mb?: number | null;
  /** Streams of the many-stream run (when one was made). */
  many_streams?: number;
  /** VmRSS in MB right after start, before the tunnel was up (our nodes only). */
  start_mb?: number | null;
  /** Anything else. */
  [extra: string]: number | string | null | undefined;
}
