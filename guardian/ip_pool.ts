/**
 * IPv4 CIDR arithmetic and overlay address leasing for realms.
 *
 * Pure: the caller passes the set of addresses already leased (never released, so an address
 * is never handed out twice) and gets the next free one.
 *
 * @module
 */
import {
  cidrContains,
  cidrWithin,
  formatCidr,
  formatIpv4,
  type Ipv4Cidr,
  parseCidr as parseCidrText,
  parseIpv4 as parseIpv4Number,
} from "../core/net/ipv4.ts";

/** A parsed IPv4 CIDR block (core/net/ipv4.ts). */
export type Cidr = Ipv4Cidr;

export { cidrContains, cidrWithin, formatCidr, formatIpv4 };

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit integer; null if malformed. */
export function parseIpv4(text: string): number | null {
  const n = parseIpv4Number(text);
  return n < 0 ? null : n;
}

/**
 * Parses `a.b.c.d/n`. With `strict` (the default) host bits must be zero, as for a realm subnet;
 * without it the address part is kept as given (use `network` of the result only with strict).
 */
export function parseCidr(text: string, options: { strict?: boolean } = {}): Cidr | null {
  return parseCidrText(text, { hostBits: (options.strict ?? true) ? "refuse" : "keep" });
}

/** Number of addresses a conflux may hold in `cidr` (network and broadcast excluded). */
export function usableHosts(cidr: Cidr): number {
  return Math.max(0, 2 ** (32 - cidr.prefix) - 2);
}

/** True when `ip` is a host address of `cidr` (inside it, not its network or broadcast address). */
export function isHostAddress(cidr: Cidr, ip: number): boolean {
  if (!cidrContains(cidr, ip)) return false;
  const size = 2 ** (32 - cidr.prefix);
  const offset = ip - cidr.network;
  return offset > 0 && offset < size - 1;
}

/**
 * The lowest host address of `cidr` not in `leased`, or null when the subnet is exhausted.
 * Leases are never released, so exhaustion is final for that realm.
 */
export function nextFreeAddress(cidr: Cidr, leased: ReadonlySet<number>): number | null {
  const size = 2 ** (32 - cidr.prefix);
  for (let offset = 1; offset < size - 1; offset++) {
    const ip = cidr.network + offset;
    if (!leased.has(ip)) return ip;
  }
  return null;
}
