/**
 * Which networks a portal serves, and which of a portal's networks a peer may route into its TUN.
 * Pure: the host's routes come in as data (`ip -j -4 route` output, parsed by
 * {@link parseHostRoutes}).
 *
 * @module
 */

import {
  cidrContains,
  cidrOverlaps,
  formatCidr,
  formatIpv4,
  type Ipv4Cidr,
  parseCidr,
  parseIpv4,
} from "../net/ipv4.ts";
import { MAX_PORTAL_SUBNETS, RESERVED_NETWORKS } from "../wire/portal_subnets.ts";

/** One IPv4 route of the host, as `ip -j -4 route show table main` prints it. */
export interface HostRoute {
  /** "default", "a.b.c.d" (a host route) or "a.b.c.d/n". */
  dst: string;
  /** Output interface. */
  dev?: string;
  /** "link" for a directly connected network; absent means global. */
  scope?: string;
  /** Route type; absent means unicast. */
  type?: string;
}

/** Networks never served or routed: this host, link-local, multicast and reserved space. */
const NEVER: Ipv4Cidr[] = RESERVED_NETWORKS.map((c) => parseCidr(c)!);

/** Parses `ip -j -4 route` output; entries without a string `dst` are skipped. */
export function parseHostRoutes(json: string): HostRoute[] {
  const data: unknown = JSON.parse(json);
  if (!Array.isArray(data)) throw new TypeError("ip route output is not a JSON array");
  const out: HostRoute[] = [];
  for (const r of data) {
    if (typeof r !== "object" || r === null || typeof r.dst !== "string") continue;
    out.push({
      dst: r.dst,
      dev: typeof r.dev === "string" ? r.dev : undefined,
      scope: typeof r.scope === "string" ? r.scope : undefined,
      type: typeof r.type === "string" ? r.type : undefined,
    });
  }
  return out;
}

/** The network of a route's `dst`, or null for "default" and anything unparsable. */
export function routeNetwork(route: HostRoute): Ipv4Cidr | null {
  if (route.dst === "default") return null;
  const text = route.dst.includes("/") ? route.dst : `${route.dst}/32`;
  return parseCidr(text);
}

export { formatCidr };

/**
 * The networks a portal on this host serves: every directly connected IPv4 network (scope link,
 * unicast) except those of our own TUN and loopback, networks overlapping the overlay range,
 * link-local, multicast and reserved space. At most {@link MAX_PORTAL_SUBNETS}, sorted, unique.
 */
export function servedSubnets(
  routes: HostRoute[],
  options: { tunName: string; overlay: Ipv4Cidr },
): string[] {
  const out = new Map<string, Ipv4Cidr>();
  for (const r of routes) {
    if (r.scope !== "link" || (r.type !== undefined && r.type !== "unicast")) continue;
    if (r.dev === options.tunName || r.dev === "lo") continue;
    const net = routeNetwork(r);
    if (!net || net.prefix < 8) continue;
    if (cidrOverlaps(net, options.overlay) || NEVER.some((n) => cidrOverlaps(n, net))) continue;
    out.set(formatCidr(net), net);
  }
  return [...out.values()]
    .sort((a, b) => a.network - b.network || a.prefix - b.prefix)
    .slice(0, MAX_PORTAL_SUBNETS)
    .map(formatCidr);
}

/** Why a peer refuses to route a portal's subnet into its TUN, or null when it may. */
export function refuseSubnet(
  subnet: Ipv4Cidr,
  host: { routes: HostRoute[]; tunName: string; realm: Ipv4Cidr; protectedAddresses: number[] },
): string | null {
  if (cidrOverlaps(subnet, host.realm)) return "overlaps the realm";
  if (NEVER.some((n) => cidrOverlaps(n, subnet))) return "reserved address space";
  for (const ip of host.protectedAddresses) {
    // The Guardian, NATS and tether underlay addresses must keep their own routes.
    if (cidrContains(subnet, ip)) {
      return `contains ${formatIpv4(ip)}, which this host reaches itself`;
    }
  }
  for (const r of host.routes) {
    if (r.dev === host.tunName) continue;
    const net = routeNetwork(r);
    // A default route is overlapped by everything; only more specific routes are this host's own.
    if (net && cidrOverlaps(net, subnet)) {
      return `overlaps this host's route ${r.dst} (${r.dev ?? "?"})`;
    }
  }
  return null;
}

/** Parses dotted IPv4 literals of URLs' hosts (names are skipped: they are not addresses). */
export function urlAddresses(urls: string[]): number[] {
  const out: number[] = [];
  for (const u of urls) {
    let host: string;
    try {
      host = new URL(u.includes("://") ? u : `nats://${u}`).hostname;
    } catch {
      continue;
    }
    const ip = parseIpv4(host);
    if (ip >= 0) out.push(ip);
  }
  return out;
}
