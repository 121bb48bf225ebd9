/**
 * The 10-byte `struct virtio_net_hdr` that precedes every packet on a TUN opened with
 * IFF_VNET_HDR: it says whether the packet is a GSO super-packet and where its checksum
 * still has to be completed. Little-endian on every host we support.
 *
 * @module
 */

/** Length in bytes of the header as the shim exchanges it. */
export const VIRTIO_NET_HDR_LEN = 10;

/** `flags` bit: the checksum at csumStart + csumOffset is partial (pseudo-header only). */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** `flags` bit: the checksum was already verified. */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

/** `gsoType` values. */
export const GsoType = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  UDP_L4: 5,
  ECN: 0x80,
} as const;

/** A parsed virtio_net_hdr. */
export interface VirtioNetHeader {
  flags: number;
  /** One of {@link GsoType} (possibly or-ed with ECN). */
  gsoType: number;
  /** Length of the IP + transport headers of a GSO packet. */
  hdrLen: number;
  /** Payload bytes per segment (the MSS for TCP). */
  gsoSize: number;
  /** Offset from the start of the IP header where checksumming starts. */
  csumStart: number;
  /** Offset of the checksum field from csumStart. */
  csumOffset: number;
}

/** A header meaning "a plain packet, nothing to do". */
export function emptyHeader(): VirtioNetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Decodes the header at `bytes[offset]` into `out` (reused to avoid allocation). */
export function decodeVirtioNetHeader(
  bytes: Uint8Array,
  offset: number,
  out: VirtioNetHeader = emptyHeader(),
): VirtioNetHeader {
  const u16 = (i: number) => bytes[offset + i] | (bytes[offset + i + 1] << 8);
  out.flags = bytes[offset];
  out.gsoType = bytes[offset + 1];
  out.hdrLen = u16(2);
  out.gsoSize = u16(4);
  out.csumStart = u16(6);
  out.csumOffset = u16(8);
  return out;
}

/** Encodes `h` at `bytes[offset]`. */
export function encodeVirtioNetHeader(h: VirtioNetHeader, bytes: Uint8Array, offset: number): void {
  const put16 = (i: number, v: number) => {
    bytes[offset + i] = v & 0xff;
    bytes[offset + i + 1] = (v >> 8) & 0xff;
  };
  bytes[offset] = h.flags;
  bytes[offset + 1] = h.gsoType;
  put16(2, h.hdrLen);
  put16(4, h.gsoSize);
  put16(6, h.csumStart);
  put16(8, h.csumOffset);
}
