/**
 * The few IPv4 header reads the data path needs, on raw packet bytes without allocation, and
 * conversions between dotted quads, 32-bit numbers and CIDRs.
 *
 * @module
 */

/** IPv4 version nibble. */
export const IPV4 = 4;
/** Smallest IPv4 header. */
export const IPV4_HEADER_MIN = 20;

/** IP version of `packet` (4, 6, or 0 for an empty packet). */
export function ipVersion(packet: Uint8Array): number {
  return packet.length === 0 ? 0 : packet[0] >> 4;
}

/** Destination address of an IPv4 packet as an unsigned 32-bit number; -1 if not IPv4. */
export function ipv4Destination(packet: Uint8Array): number {
  if (packet.length < IPV4_HEADER_MIN || packet[0] >> 4 !== IPV4) return -1;
  return ((packet[16] << 24) | (packet[17] << 16) | (packet[18] << 8) | packet[19]) >>> 0;
}

/** Source address of an IPv4 packet as an unsigned 32-bit number; -1 if not IPv4. */
export function ipv4Source(packet: Uint8Array): number {
  if (packet.length < IPV4_HEADER_MIN || packet[0] >> 4 !== IPV4) return -1;
  return ((packet[12] << 24) | (packet[13] << 16) | (packet[14] << 8) | packet[15]) >>> 0;
}

/** Parses a dotted quad into an unsigned 32-bit number; -1 if it is not one. */
export function parseIpv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4) return -1;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return -1;
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

/** An IPv4 network. */
export interface Ipv4Cidr {
  /** Network address (host bits cleared). */
  network: number;
  /** Prefix length 0..32. */
  prefix: number;
}

/** Parses "a.b.c.d/n"; returns null if malformed. Host bits are cleared. */
export function parseCidr(text: string): Ipv4Cidr | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const addr = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (addr < 0 || !/^\d{1,2}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > 32) return null;
  return { network: (addr & maskOf(prefix)) >>> 0, prefix };
}

/** True when `ip` lies in `cidr`. */
export function cidrContains(cidr: Ipv4Cidr, ip: number): boolean {
  return ((ip & maskOf(cidr.prefix)) >>> 0) === cidr.network;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}

/**
 * A 32-bit key of the packet's flow (FNV-1a over source, destination, protocol and, for TCP and
 * UDP, the ports), so that all packets of one TCP connection take the same path. Reads the bytes
 * in place; a packet too short for its ports hashes without them.
 */
export function flowKey(packet: Uint8Array): number {
  let h = 0x811c9dc5;
  if (packet.length < IPV4_HEADER_MIN) return h >>> 0;
  for (let i = 12; i < 20; i++) h = Math.imul(h ^ packet[i], 0x01000193);
  const protocol = packet[9];
  h = Math.imul(h ^ protocol, 0x01000193);
  const ports = (packet[0] & 0x0f) * 4;
  if ((protocol === 6 || protocol === 17) && packet.length >= ports + 4) {
    for (let i = ports; i < ports + 4; i++) h = Math.imul(h ^ packet[i], 0x01000193);
  }
  return h >>> 0;
}
