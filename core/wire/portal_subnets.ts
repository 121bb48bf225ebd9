/**
 * The IPv4 networks a portal serves (Certificate.subnets): which entries a certificate may carry.
 *
 * Shared by the certificate codec and the Guardian's login check so that the Guardian never signs a
 * list that receivers would refuse. Pure; addresses are parsed by core/net/ipv4.ts.
 *
 * @module
 */
import { cidrOverlaps, hostBitsZero as cidrHostBitsZero, parseCidr } from "../net/ipv4.ts";

/** Most subnets one portal may serve (keeps the certificate well under its size limit). */
export const MAX_PORTAL_SUBNETS = 32;
/** Shortest accepted prefix: a portal serves networks, not whole swathes of the address space. */
export const MIN_PORTAL_PREFIX = 8;

/** An IPv4 network: its address as an unsigned 32-bit integer and its prefix length. */
export interface Ipv4Network {
  /** Address as written, host bits included (see {@link hostBitsZero}). */
  address: number;
  /** Prefix length, 0–32. */
  prefix: number;
}

/**
 * Ranges no portal may serve: "this network", loopback, link-local, multicast and reserved.
 * Routing them over the overlay would break the host they are delivered to.
 */
export const RESERVED_NETWORKS: readonly string[] = [
  "0.0.0.0/8",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
];

/**
 * Parses canonical IPv4 CIDR "a.b.c.d/n" (decimal octets and prefix without leading zeros);
 * null for anything else. Host bits are kept (the caller refuses them with {@link hostBitsZero}).
 */
export function parseIpv4Network(text: string): Ipv4Network | null {
  const c = parseCidr(text, { hostBits: "keep" });
  return c ? { address: c.network, prefix: c.prefix } : null;
}

/** True when the address of `net` has no bits set past its prefix (e.g. "10.0.0.0/8"). */
export function hostBitsZero(net: Ipv4Network): boolean {
  return cidrHostBitsZero({ network: net.address, prefix: net.prefix });
}

/** True when the two networks share at least one address (one contains the other). */
export function networksOverlap(a: Ipv4Network, b: Ipv4Network): boolean {
  return cidrOverlaps({ network: a.address, prefix: a.prefix }, {
    network: b.address,
    prefix: b.prefix,
  });
}

const RESERVED = RESERVED_NETWORKS.map((text) => ({ text, net: parseIpv4Network(text)! }));

/** The realm subnet comes from the Guardian's configuration: host bits and "/08" are tolerated. */
function parseRealmSubnet(text: string): Ipv4Network | null {
  const parts = String(text).split("/");
  if (parts.length !== 2 || !/^\d{1,2}$/.test(parts[1])) return null;
  return parseIpv4Network(`${parts[0]}/${Number(parts[1])}`);
}

function quote(entry: unknown): string {
  return typeof entry === "string" ? JSON.stringify(entry.slice(0, 40)) : typeof entry;
}

/**
 * Checks the subnets a portal states against the realm subnet it belongs to. Returns the first
 * problem as a human-readable sentence, or null when the list is acceptable: at most 32 entries,
 * each canonical IPv4 CIDR with host bits zero and prefix ≥ 8, no duplicates, none overlapping
 * `realmSubnet` (the overlay itself) or a reserved range ({@link RESERVED_NETWORKS}).
 */
export function checkPortalSubnets(subnets: readonly string[], realmSubnet: string): string | null {
  if (!Array.isArray(subnets)) return "subnets must be a list";
  if (subnets.length > MAX_PORTAL_SUBNETS) {
    return `${subnets.length} subnets, at most ${MAX_PORTAL_SUBNETS} allowed`;
  }
  const realm = parseRealmSubnet(realmSubnet);
  if (!realm) return `realm subnet ${quote(realmSubnet)} is not IPv4 CIDR`;
  const seen = new Set<string>();
  for (const entry of subnets) {
    const net = parseIpv4Network(entry);
    if (!net) return `${quote(entry)} is not IPv4 CIDR a.b.c.d/n`;
    if (!hostBitsZero(net)) return `${quote(entry)} has host bits set`;
    if (net.prefix < MIN_PORTAL_PREFIX) {
      return `${quote(entry)} is shorter than /${MIN_PORTAL_PREFIX}`;
    }
    if (seen.has(entry)) return `${quote(entry)} is listed twice`;
    seen.add(entry);
    if (networksOverlap(net, realm)) {
      return `${quote(entry)} overlaps the realm subnet ${realmSubnet}`;
    }
    const reserved = RESERVED.find((r) => networksOverlap(net, r.net));
    if (reserved) return `${quote(entry)} overlaps reserved range ${reserved.text}`;
  }
  return null;
}
