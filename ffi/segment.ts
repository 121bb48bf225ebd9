/**
 * Software GSO: splits a TCP or UDP super-packet read from an offload TUN into MTU-sized
 * packets with correct IPv4/TCP/UDP checksums, for peers (or TUNs) that do not take
 * offloads; and completes the partial checksum of a single packet.
 *
 * @module
 */

import { TunError } from "./errors.ts";
import type { PacketBatch } from "./packet_batch.ts";
import { GsoType, VIRTIO_NET_HDR_F_NEEDS_CSUM, type VirtioNetHeader } from "./virtio_net_hdr.ts";

const TCP = 6;
const UDP = 17;

/** Adds the 16-bit big-endian words of bytes[start, end) to `sum` (no folding). */
function addWords(bytes: Uint8Array, start: number, end: number, sum: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function get16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** Sum of the TCP/UDP pseudo-header for a packet whose transport part is `l4Len` bytes. */
function pseudoSum(p: Uint8Array, version: number, proto: number, l4Len: number): number {
  if (version === 4) return addWords(p, 12, 20, 0) + proto + l4Len;
  return addWords(p, 8, 40, 0) + Math.floor(l4Len / 65536) + (l4Len & 0xffff) + proto;
}

/** Writes the full TCP or UDP checksum of packet `p` (transport header at `l4`). */
function writeTransportChecksum(p: Uint8Array, version: number, proto: number, l4: number): void {
  const field = l4 + (proto === TCP ? 16 : 6);
  put16(p, field, 0);
  const l4Len = p.length - l4;
  let c = 0xffff - fold(addWords(p, l4, p.length, pseudoSum(p, version, proto, l4Len)));
  if (proto === UDP && c === 0) c = 0xffff;
  put16(p, field, c);
}

/** Writes the IPv4 header checksum of `p`. */
function writeIpv4Checksum(p: Uint8Array, ihl: number): void {
  put16(p, 10, 0);
  put16(p, 10, 0xffff - fold(addWords(p, 0, ihl, 0)));
}

/**
 * Completes a partial checksum (virtio_net_hdr flag NEEDS_CSUM) in place: sums from
 * `csumStart` to the end and stores the result at `csumStart + csumOffset`. Packets without
 * the flag are left alone. Throws TunError `invalid-argument` if the offsets are outside.
 */
export function completeChecksum(packet: Uint8Array, header: VirtioNetHeader): void {
  if (!(header.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return;
  const field = header.csumStart + header.csumOffset;
  if (header.csumStart >= packet.length || field + 2 > packet.length) {
    throw new TunError("invalid-argument", "checksum offsets outside the packet");
  }
  let c = 0xffff - fold(addWords(packet, header.csumStart, packet.length, 0));
  if (header.csumOffset === 6 && c === 0) c = 0xffff; // UDP: 0 means "no checksum"
  put16(packet, field, c);
}

/**
 * Splits `packet` (an IPv4/IPv6 TCP or UDP packet read with virtio_net_hdr `header`) into
 * packets of at most `header.gsoSize` payload bytes, appended to `out` with complete
 * checksums and no virtio_net_hdr flags. A non-GSO packet is copied with its checksum
 * completed. Returns the number of packets appended. Throws TunError `invalid-argument` for
 * a malformed packet, an unsupported GSO type or IPv6 extension headers, or if `out` lacks
 * room (nothing is appended then).
 */
export function segmentGso(packet: Uint8Array, header: VirtioNetHeader, out: PacketBatch): number {
  const bad = (why: string) => new TunError("invalid-argument", `cannot segment: ${why}`);
  const gso = header.gsoType & ~GsoType.ECN;
  if (gso === GsoType.NONE) {
    if (out.count >= out.capacity) throw bad("output batch full");
    const slot = out.slot(out.count);
    if (packet.length > slot.length) throw bad("packet larger than an output slot");
    slot.set(packet);
    completeChecksum(slot.subarray(0, packet.length), header);
    out.commit(packet.length);
    return 1;
  }
  if (packet.length < 20) throw bad("truncated IP header");
  const version = packet[0] >> 4;
  let l4: number;
  let proto: number;
  if (version === 4) {
    l4 = (packet[0] & 0x0f) * 4;
    proto = packet[9];
    if (l4 < 20) throw bad("bad IPv4 header length");
  } else if (version === 6) {
    l4 = 40;
    proto = packet[6];
  } else {
    throw bad(`IP version ${version}`);
  }
  const wantProto = gso === GsoType.TCPV4 || gso === GsoType.TCPV6
    ? TCP
    : gso === GsoType.UDP_L4
    ? UDP
    : -1;
  if (wantProto < 0) throw bad(`GSO type ${header.gsoType}`);
  if (proto !== wantProto) throw bad(`GSO type ${gso} on IP protocol ${proto}`);
  if ((gso === GsoType.TCPV4 && version !== 4) || (gso === GsoType.TCPV6 && version !== 6)) {
    throw bad("GSO type does not match the IP version");
  }
  if (packet.length < l4 + (proto === TCP ? 20 : 8)) throw bad("truncated transport header");
  const hdrEnd = l4 + (proto === TCP ? (packet[l4 + 12] >> 4) * 4 : 8);
  if (hdrEnd > packet.length || (proto === TCP && hdrEnd < l4 + 20)) {
    throw bad("bad transport header length");
  }
  const mss = header.gsoSize;
  if (mss < 1) throw bad("gsoSize 0");
  const payload = packet.length - hdrEnd;
  const segments = Math.max(1, Math.ceil(payload / mss));
  if (out.capacity - out.count < segments) throw bad(`${segments} segments exceed the batch`);
  if (hdrEnd + mss > out.slotSize && segments > 1) throw bad("segments exceed the output slots");

  const ipId = version === 4 ? get16(packet, 4) : 0;
  const seq = proto === TCP ? new DataView(packet.buffer, packet.byteOffset).getUint32(l4 + 4) : 0;
  const tcpFlags = proto === TCP ? packet[l4 + 13] : 0;
  for (let k = 0; k < segments; k++) {
    const from = hdrEnd + k * mss;
    const chunk = Math.min(mss, packet.length - from);
    const len = hdrEnd + chunk;
    const seg = out.slot(out.count).subarray(0, len);
    seg.set(packet.subarray(0, hdrEnd));
    seg.set(packet.subarray(from, from + chunk), hdrEnd);
    if (version === 4) {
      put16(seg, 2, len);
      put16(seg, 4, (ipId + k) & 0xffff);
    } else {
      put16(seg, 4, len - 40);
    }
    if (proto === TCP) {
      new DataView(seg.buffer, seg.byteOffset).setUint32(l4 + 4, (seq + k * mss) >>> 0);
      let f = tcpFlags;
      if (k < segments - 1) f &= ~(0x01 | 0x08); // FIN and PSH only on the last segment
      if (k > 0) f &= ~0x80; // CWR only on the first
      seg[l4 + 13] = f;
    } else {
      put16(seg, l4 + 4, len - l4);
    }
    writeTransportChecksum(seg, version, proto, l4);
    if (version === 4) writeIpv4Checksum(seg, l4);
    out.commit(len);
  }
  return segments;
}
