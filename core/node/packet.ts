/**
 * The few IPv4 header reads the data path needs, on raw packet bytes without allocation; address
 * and CIDR text is core/net/ipv4.ts (re-exported here for the node's parts).
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

export { cidrContains, formatIpv4, type Ipv4Cidr, parseCidr, parseIpv4 } from "../net/ipv4.ts";

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
