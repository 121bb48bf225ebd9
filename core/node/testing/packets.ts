/**
 * IPv4 packets for data-path tests: UDP datagrams with a valid header checksum, and readers for
 * their addresses and payload.
 *
 * @module
 */
import { formatIpv4, parseIpv4 } from "../packet.ts";

/** An IPv4/UDP packet from `src:sport` to `dst:dport` carrying `payload`. */
export function udpPacket(
  src: string,
  dst: string,
  payload: Uint8Array | string,
  ports: { sport?: number; dport?: number } = {},
): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const p = new Uint8Array(28 + body.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  v.setUint32(12, parseIpv4(src) >>> 0);
  v.setUint32(16, parseIpv4(dst) >>> 0);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  v.setUint16(20, ports.sport ?? 40000);
  v.setUint16(22, ports.dport ?? 9);
  v.setUint16(24, 8 + body.length);
  p.set(body, 28);
  return p;
}

/** Source address of an IPv4 packet, dotted. */
export function sourceOf(p: Uint8Array): string {
  return formatIpv4(new DataView(p.buffer, p.byteOffset).getUint32(12));
}

/** The UDP payload of a packet from udpPacket, as text. */
export function textOf(p: Uint8Array): string {
  return new TextDecoder().decode(p.subarray(28));
}

/** A matcher for MemoryTun.next: a UDP packet whose payload text is `text`. */
export function carrying(text: string): (p: Uint8Array) => boolean {
  return (p) => p.length >= 28 && p[9] === 17 && textOf(p) === text;
}
