/**
 * IPv4 addresses and networks as 32-bit unsigned numbers: the one parser and formatter every
 * part uses (the node's data path, the Guardian's address pool, portal subnets, the TUN shim's
 * arguments), so an address means the same everywhere. Canonical text only: four decimal octets
 * without leading zeros, a prefix of 0–32 without leading zeros.
 *
 * @module
 */

/** An IPv4 network. */
export interface Ipv4Cidr {
  /** Network address (host bits cleared unless parsed with `hostBits: "keep"`). */
  network: number;
  /** Prefix length 0..32. */
  prefix: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const PREFIX = /^(0|[1-9][0-9]?)$/;

/** Parses a dotted quad into an unsigned 32-bit number; -1 if it is not one. */
export function parseIpv4(text: string): number {
  if (typeof text !== "string") return -1;
  const parts = text.split(".");
  if (parts.length !== 4) return -1;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return -1;
    const v = Number(p);
    if (v > 255) return -1;
    n = n * 256 + v;
  }
  return n;
}

/** Formats an unsigned 32-bit number as a dotted quad. */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The netmask of a prefix length, as an unsigned 32-bit number. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}

/** What parseCidr does with bits set past the prefix ("10.1.2.3/8"). */
export type HostBits = "clear" | "refuse" | "keep";

/**
 * Parses "a.b.c.d/n"; null if malformed. Host bits are cleared by default, refused with
 * `hostBits: "refuse"` (a network someone configures), kept with "keep".
 */
export function parseCidr(text: string, options: { hostBits?: HostBits } = {}): Ipv4Cidr | null {
  if (typeof text !== "string") return null;
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const addr = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (addr < 0 || !PREFIX.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > 32) return null;
  const network = (addr & maskOf(prefix)) >>> 0;
  const mode = options.hostBits ?? "clear";
  if (mode === "refuse" && network !== addr) return null;
  return { network: mode === "keep" ? addr : network, prefix };
}

/** "a.b.c.d/n". */
export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** True when `ip` lies in `cidr`. */
export function cidrContains(cidr: Ipv4Cidr, ip: number): boolean {
  const m = maskOf(cidr.prefix);
  return ((ip & m) >>> 0) === ((cidr.network & m) >>> 0);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrWithin(inner: Ipv4Cidr, outer: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.network);
}

/** True when the two networks share any address (one contains the other). */
export function cidrOverlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.prefix <= b.prefix ? cidrContains(a, b.network) : cidrContains(b, a.network);
}

/** True when `c` has no bits set past its prefix. */
export function hostBitsZero(c: Ipv4Cidr): boolean {
  return ((c.network & maskOf(c.prefix)) >>> 0) === c.network;
}
