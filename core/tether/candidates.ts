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
  /**
   * Whether host candidates may be advertised (default true). False for a tether answered for a
   * conflux without a shared team: it learns our address only from our own connectivity checks
   * and server-reflexive candidates, not every local interface (PROTOCOL.md "Threat model").
   */
  allowHost?: boolean;
}

/** True when `candidate` may be advertised under `policy`. */
export function candidateAllowed(candidate: string, policy: CandidatePolicy): boolean {
  const info = parseCandidate(candidate);
  if (!info || info.transport !== "udp") return false;
  if (info.type === "host") {
    if (policy.allowHost === false) return false;
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

/** Which remote candidates a tether tries (see {@link remoteCandidateAllowed}). */
export interface RemotePolicy {
  /** Loopback addresses (127/8, ::1): only when we gather on loopback ourselves (one host). */
  allowLoopback: boolean;
  /** Link-local addresses (169.254/16, fe80::/10): only when we gather on one ourselves. */
  allowLinkLocal: boolean;
}

/** The remote policy that fits the local addresses we gather on (undefined: every interface). */
export function remotePolicyFor(hostAddresses: readonly string[] | undefined): RemotePolicy {
  const local = hostAddresses ?? [];
  return {
    allowLoopback: local.some((a) => addressKind(a) === "loopback"),
    allowLinkLocal: local.some((a) => addressKind(a) === "link-local"),
  };
}

/**
 * True when a remote peer's candidate is worth a connectivity check: UDP to a unicast address a
 * VPN underlay can use. Refused: anything unparsable or not UDP, hostnames (mDNS), the
 * unspecified address and 0/8, multicast, broadcast and the reserved 240/4, IPv6 multicast and
 * unspecified, and (unless {@link RemotePolicy} allows them) loopback and link-local. Private
 * (RFC 1918), CGNAT, benchmark (198.18.0.0/15) and public addresses are kept.
 */
export function remoteCandidateAllowed(candidate: string, policy: RemotePolicy): boolean {
  const info = parseCandidate(candidate);
  if (!info || info.transport !== "udp") return false;
  if (!["host", "srflx", "prflx", "relay"].includes(info.type)) return false;
  switch (addressKind(info.address)) {
    case "unicast":
      return true;
    case "loopback":
      return policy.allowLoopback;
    case "link-local":
      return policy.allowLinkLocal;
    default:
      return false;
  }
}

type AddressKind = "unicast" | "loopback" | "link-local" | "refused";

/** What kind of address `text` is (an IPv4 dotted quad or an IPv6 literal; else "refused"). */
export function addressKind(text: string): AddressKind {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return "refused";
    if (b[0] === 0 || b[0] >= 224) return "refused"; // this network, multicast, 240/4, broadcast
    if (b[0] === 127) return "loopback";
    if (b[0] === 169 && b[1] === 254) return "link-local";
    if (b[3] === 255 && b[0] === 255) return "refused";
    return "unicast";
  }
  if (!/^[0-9a-f:.]+$/i.test(text) || !text.includes(":")) return "refused";
  const t = text.toLowerCase();
  if (t === "::" || t === "::0") return "refused";
  if (t === "::1") return "loopback";
  if (t.startsWith("ff")) return "refused";
  if (/^fe[89ab]/.test(t)) return "link-local";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (mapped) return addressKind(mapped[1]);
  return "unicast";
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
