/**
 * ICE candidate policy: which local candidates a tether advertises. Host candidates always
 * (optionally only on given addresses), server-reflexive ones only when STUN servers are
 * configured, never relay or TCP candidates.
 *
 * @module
 */

/** The parts of an ICE candidate attribute that the policy looks at. */
export interface CandidateInfo {
  transport: string;
  address: string;
  port: number;
  type: string;
  /** The base address of a reflexive candidate (`raddr`), when stated. */
  relatedAddress?: string;
}

/** Parses `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>`. */
export function parseCandidate(candidate: string): CandidateInfo | null {
  const text = candidate.startsWith("a=") ? candidate.slice(2) : candidate;
  if (!text.startsWith("candidate:")) return null;
  const parts = text.slice("candidate:".length).trim().split(/\s+/);
  if (parts.length < 8 || parts[6] !== "typ") return null;
  const port = Number(parts[5]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  const raddr = parts.indexOf("raddr", 8);
  const info: CandidateInfo = {
    transport: parts[2].toLowerCase(),
    address: parts[4],
    port,
    type: parts[7],
  };
  if (raddr > 0 && parts[raddr + 1]) info.relatedAddress = parts[raddr + 1];
  return info;
}

/** What local candidates may be advertised. */
export interface CandidatePolicy {
  /** When set, host candidates only on these addresses. */
  hostAddresses?: readonly string[];
  /** Whether server-reflexive candidates (from STUN servers) may be advertised. */
  allowSrflx: boolean;
}

/** True when `candidate` may be advertised under `policy`. */
export function candidateAllowed(candidate: string, policy: CandidatePolicy): boolean {
  const info = parseCandidate(candidate);
  if (!info || info.transport !== "udp") return false;
  if (info.type === "host") {
    return !policy.hostAddresses || policy.hostAddresses.includes(info.address);
  }
  if (info.type !== "srflx" || !policy.allowSrflx) return false;
  // werift gathers a reflexive candidate from every socket, the TUN's included: keep those whose
  // base is an underlay address (libjuice's one unbound socket states 0.0.0.0 or nothing).
  const base = info.relatedAddress;
  if (!policy.hostAddresses || base === undefined || base === "0.0.0.0" || base === "::") {
    return true;
  }
  return policy.hostAddresses.includes(base);
}

/**
 * Removes candidate lines from an SDP: candidates travel only as separate signals, so the
 * offerer controls when the answerer learns them (see PROTOCOL.md "Tethers").
 */
export function stripCandidates(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((line) => !line.startsWith("a=candidate:") && !line.startsWith("a=end-of-candidates"))
    .join("\r\n");
}

/** Normalizes a candidate to the `candidate:…` form (without `a=`). */
export function normalizeCandidate(candidate: string): string {
  return candidate.startsWith("a=") ? candidate.slice(2) : candidate;
}

/** Converts session STUN server strings ("stun:host:port" or "host:port") to host/port pairs. */
export function parseStunServers(servers: readonly string[]): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const s of servers) {
    const m = /^(?:stuns?:)?(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?.*)?$/.exec(s.trim());
    if (!m) continue;
    const port = m[2] ? Number(m[2]) : 3478;
    if (port <= 0 || port > 65535) continue;
    out.push({ host: m[1].replace(/^\[|\]$/g, ""), port });
  }
  return out;
}
