/**
 * IPv4 CIDR arithmetic and overlay address leasing for realms.
 *
 * Pure: the caller passes the set of addresses already leased (never released, so an address
 * is never handed out twice) and gets the next free one.
 *
 * @module
 */

/** A parsed IPv4 CIDR block. */
export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  /** Prefix length, 0–32. */
  prefix: number;
}

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit integer; null if malformed. */
export function parseIpv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    if (part.length > 1 && part.startsWith("0")) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** Formats an unsigned 32-bit integer as a dotted quad. */
export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * Parses `a.b.c.d/n`. With `strict` (the default) host bits must be zero, as for a realm subnet;
 * without it the address part is kept as given (use `network` of the result only with strict).
 */
export function parseCidr(text: string, options: { strict?: boolean } = {}): Cidr | null {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return null;
  const ip = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (ip === null || prefix > 32) return null;
  if ((options.strict ?? true) && ((ip & ~mask(prefix)) >>> 0) !== 0) return null;
  return { network: ip, prefix };
}

/** Formats a CIDR as `a.b.c.d/n`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

/** True when address `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ((ip & mask(cidr.prefix)) >>> 0) === ((cidr.network & mask(cidr.prefix)) >>> 0);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.network);
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
