/**
 * The local status API: HTTP/1.1 on the Unix socket `<configDir>/conflux.sock`, read by the
 * CLI's `info` and `ping` commands. GET /info and GET /ping/<overlay IP> exist; the socket file is created mode 0600 so that only
 * the node's user (root) can read the node's state.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { PortalsInfo } from "./portals.ts";
import type { ProcessMemory } from "./process_memory.ts";

/** Name of the status socket inside the config directory. */
export const STATUS_SOCKET_NAME = "conflux.sock";

/** What GET /info returns. */
export interface NodeInfo {
  conflux_id: string;
  realm_id: string;
  overlay_ip: string;
  tag: string;
  portal: boolean;
  teams: string[];
  /** Data-path counters since start. */
  stats?: NodeStats;
  tethers: TetherInfo[];
  /** Addresses new tethers gather host candidates on (see `--underlay-interfaces`). */
  underlay?: string[];
  routes: RouteInfo[];
  streams: StreamInfo[];
  /** Portal mode: the networks this node serves, and the portals it routes to. */
  portals?: PortalsInfo;
  /** Names: the resolver and how the host's DNS is configured. */
  dns?: DnsInfo;
  /** The control channel (NATS) and the Guardian session; see ControlClient.status. */
  control?: {
    state: string;
    since: number;
    session_expires_at: number;
    last_guardian_contact_at: number;
    last_renewal_error?: string;
    revoked?: boolean;
  };
  /** The process's memory (core/node/process_memory.ts). */
  memory?: ProcessMemory;
}

/** The node's names and resolver in /info. */
export interface DnsInfo {
  /** The suffix names live under, e.g. "veilnet.internal". */
  suffix: string;
  /** Where the resolver answers ("100.64.0.2:53"); absent when it does not run. */
  server?: string;
  /**
   * How the host sends names under the suffix to it: "systemd-resolved", "resolv.conf",
   * "macos-resolver", "windows-nrpt", "none" (nothing configured: query the server directly) or
   * "off" (`--no-dns`).
   */
  host: string;
  /** One line on what was configured, or why nothing was. */
  detail?: string;
  /** Our own names (labels under the suffix). */
  names: string[];
  /** Lookups cached now. */
  cached: number;
  /** Names more than one teammate answers to (all their addresses are returned). */
  duplicates: { name: string; conflux_ids: string[]; addresses: string[] }[];
}

/** Data-path counters in /info. */
export interface NodeStats {
  /** Frames received on tethers. */
  frames_in: number;
  /** Frames refused (malformed, unknown stream, failed authentication, replay, spoofed source). */
  frames_dropped: number;
  /** Frames forwarded for other confluxes (relaying). */
  frames_relayed?: number;
  /** Packets written to the TUN. */
  packets_in: number;
  /** Packets sealed and sent. */
  packets_out: number;
  /** Control messages refused after decoding. */
  control_dropped: number;
  /** Times a flow moved to another next hop (flowlet switches, failovers). */
  flow_moves?: number;
  /**
   * Packets and frames lost since start, by cause: queue_full (held while connecting), backoff,
   * no_tether, tether_full (send queue full), bad_frame, unknown_stream, auth (failed
   * authentication or replay), source (spoofed source or destination), relay_refused, tun_write.
   */
  drops?: Record<string, number>;
}

/** One tether in /info. */
export interface TetherInfo {
  peer: string;
  engine: string;
  channels: number;
  /** Smoothed RTT of the router's probes (ms); null before the first reply. */
  rtt_ms: number | null;
  /** Fraction of recent probes unanswered. */
  loss?: number;
  /** The datagram lane beside the tether: off, probing, up (data frames use it), down. */
  lane?: string;
  bytes_sent: number;
  bytes_received: number;
  idle_ms: number;
  /**
   * The candidate pair ICE selected: type (host, srflx, prflx) and address:port of each end, so a
   * user can see which interface and which NAT mapping a tether runs over. Absent when unknown.
   */
  local?: CandidateEnd;
  remote?: CandidateEnd;
}

/** One end of a tether's selected candidate pair in /info. */
export interface CandidateEnd {
  type: string;
  address: string;
  port: number;
}

/** One route (destination → next hop) in /info. */
export interface RouteInfo {
  destination: string;
  conflux_id: string;
  /** Tether peer the next packet of a new flow goes to; "" when none is open. */
  next_hop: string;
  /** "direct" (next hop is the destination), "relayed", or "" without a next hop. */
  path?: string;
  state: string;
  /** The routing agent's estimated delivery time through `next_hop` (ms), when it has one. */
  estimate_ms?: number | null;
  /** Every route the agent knows to the destination, best first. */
  candidates?: RouteCandidateInfo[];
}

/** One candidate next hop of a route in /info. */
export interface RouteCandidateInfo {
  /** Conflux id of the tether peer (its overlay address if the tether is gone). */
  next_hop: string;
  /** Estimated delivery time through it (ms). */
  estimate_ms: number;
  /** Hops to the destination on that route. */
  hops: number;
}

/** One stream in /info. */
export interface StreamInfo {
  direction: "egress" | "ingress";
  stream_id: number;
  peer: string;
  peer_ip: string;
  epoch: number;
  packets: number;
  idle_ms: number;
}

/** A running status server. */
export interface StatusServer {
  /** Stops serving and removes the socket file. */
  close(): Promise<void>;
}

/** Serves `info()` on `path` until closed. Removes a stale socket file first. */
export function serveStatus(
  path: string,
  info: () => NodeInfo,
  options: { log: Logger; signal?: AbortSignal; ping?: (target: string) => Promise<unknown> },
): StatusServer {
  try {
    Deno.removeSync(path);
  } catch {
    // no stale socket
  }
  const server = Deno.serve({
    transport: "unix",
    path,
    signal: options.signal,
    onListen: () => {
      try {
        Deno.chmodSync(path, 0o600);
      } catch (e) {
        options.log.warn("status socket: cannot restrict mode", { error: String(e) });
      }
    },
    onError: (e) => {
      options.log.warn("status request failed", { error: String(e) });
      return new Response(JSON.stringify({ error: "internal error" }), { status: 500 });
    },
  }, async (req) => {
    const url = new URL(req.url);
    const ping = options.ping;
    if (url.pathname.startsWith("/ping/") && ping) {
      if (req.method !== "GET") return json({ error: "method not allowed" }, 405);
      const target = url.pathname.slice("/ping/".length);
      if (!/^[0-9.]{1,15}$/.test(target)) return json({ error: "target: an IPv4 address" }, 400);
      return json(await ping(target), 200);
    }
    if (url.pathname !== "/info") return json({ error: "not found" }, 404);
    if (req.method !== "GET") return json({ error: "method not allowed" }, 405);
    return json(info(), 200);
  });
  let closed = false;
  return {
    async close() {
      if (closed) return;
      closed = true;
      try {
        await server.shutdown();
      } catch {
        // already stopped by the signal
      }
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    },
  };
}

function json(value: unknown, status: number): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Fetches /info from the status socket at `path` (used by tests and tools). */
export async function fetchStatus(path: string): Promise<NodeInfo> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  try {
    const res = await fetch("http://localhost/info", { client });
    if (!res.ok) throw new Error(`status API answered ${res.status}`);
    return await res.json() as NodeInfo;
  } finally {
    client.close();
  }
}
