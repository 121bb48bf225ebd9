/**
 * Options of a running node, as `veilnet-conflux run` passes them.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";

/** Which WebRTC implementation carries tethers. */
export type RtcEngineChoice = "auto" | "werift" | "libdatachannel";

/** What `runNode` needs to join the overlay. */
export interface NodeOptions {
  /** Base URL of the Guardian, e.g. `http://198.18.0.1:8080`. */
  guardianUrl: string;
  /** PEM certificates of a private CA that signed the Guardian's and the Master's TLS. */
  guardianCaCerts?: string[];
  /** SHA-256 (hex) of the Guardian key pinned at register/up: sessions with another are refused. */
  guardianKeySha256?: string;
  /** Long-lived conflux token returned by `register`. */
  confluxToken: string;
  /** Directory of this conflux's configuration; the status socket lives here. */
  configDir: string;
  /** Portal mode: give teammates access to this host's networks. */
  portal: boolean;
  /** IPv4 networks this portal serves; computed from the host when absent (and followed). */
  subnets?: string[];
  /** How often a portal re-reads the host's networks (default 60 s). */
  portalRescanMs?: number;
  /** Tether engine; "auto" prefers libdatachannel and falls back to werift. */
  rtcEngine: RtcEngineChoice;
  /** Whether this node forwards frames for other confluxes. */
  relay: boolean;
  /**
   * Datagram lanes beside the tethers (default on; `--lane off` / VEILNET_LANE=off): data frames
   * go over plain UDP once a lane is proven, the tether carries the rest and the fallback.
   */
  lane?: boolean;
  /**
   * Interfaces tethers gather host candidates on (`--underlay-interfaces`); absent: every
   * interface but the TUN, loopback and link-local (core/tether/underlay.ts).
   */
  underlayInterfaces?: string[];
  /** TUN interface name; default "veilnet0". */
  tunName?: string;
  /** Streams and tethers without traffic for this long dissolve; default 30,000 ms. */
  idleTimeoutMs?: number;
  /** Where the node logs. */
  log: Logger;
  /** `--no-dns` sets false: no resolver and no host DNS configuration (default true). */
  dns?: boolean;
  /** The suffix of our names (`--dns-suffix`); default veilnet.internal. */
  dnsSuffix?: string;
  /** How the host is told about them (`--dns-config`); default "auto". */
  dnsConfig?: "auto" | "resolv.conf";
  /**
   * Fault injection for tests (never set by the CLI): called on every frame this node relays,
   * after the hop limit is updated, so a test can play a relay that alters what it forwards.
   */
  relayFault?: (frame: Uint8Array) => void;
  /** Fault injection for tests: extra delay (ms) on every frame sent on a tether, like netem. */
  sendDelayMs?: number;
}

/** Default TUN interface name. */
export const DEFAULT_TUN_NAME = "veilnet0";
/** Default idle time after which streams and tethers dissolve. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * V8 flags every node process runs with (the release binary has them compiled in; the lab, the
 * demo and the container pass them). `--optimize-for-size` keeps V8's young generation small:
 * measured on two nodes between namespaces (bench/README.md, "Memory"), idle RSS 120 → 101 MB and
 * RSS under four iperf3 streams 150–172 → 108–121 MB, with throughput within the run-to-run noise.
 */
export const NODE_V8_FLAGS = "--optimize-for-size";
