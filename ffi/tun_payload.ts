/**
 * What crosses the overlay for one TUN packet: `virtio_net_hdr (10 bytes) ‖ IP packet`. The header
 * is all zeros for a plain packet and describes a TSO/USO super-packet (up to 64 KB) when the
 * TUN runs with offloads, so one frame, one AEAD operation and one TUN write carry up to 45
 * segments. This module turns read batches into such payloads (segmenting what is too large for
 * one frame) and payloads from peers back into TUN writes (checking what a peer may ask our
 * kernel to do, and segmenting for a TUN without offloads).
 *
 * @module
 */
import type { PacketBatch } from "./packet_batch.ts";
import { segmentGso } from "./segment.ts";
import {
  decodeVirtioNetHeader,
  emptyHeader,
  GsoType,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_LEN,
  type VirtioNetHeader,
} from "./virtio_net_hdr.ts";

/** Bytes of virtio header in front of every payload's packet. */
export const PAYLOAD_HEADER_LENGTH = VIRTIO_NET_HDR_LEN;

/** Reads payloads out of TUN read batches into one reused scratch buffer. */
export class PayloadReader {
  readonly #scratch: Uint8Array;
  #segments?: PacketBatch;
  readonly #header: VirtioNetHeader = emptyHeader();
  readonly #maxPayload: number;
  readonly #makeBatch: () => PacketBatch;

  /**
   * `maxPayload` is the largest payload one frame carries; `makeBatch` makes the scratch batch
   * for segmenting larger super-packets (made on first use).
   */
  constructor(maxPayload: number, makeBatch: () => PacketBatch) {
    this.#maxPayload = maxPayload;
    this.#scratch = new Uint8Array(maxPayload);
    this.#makeBatch = makeBatch;
  }

  /**
   * Calls `fn` with each packet of `batch` (`count` read, `vnet` when the device gives virtio
   * headers) as a payload view in the scratch buffer, valid only during the call. A super-packet
   * too large for one frame is segmented into plain packets first; one that cannot be is dropped.
   */
  forEach(
    batch: PacketBatch,
    count: number,
    vnet: boolean,
    fn: (payload: Uint8Array) => void,
  ): void {
    const out = this.#scratch;
    for (let i = 0; i < count; i++) {
      const packet = batch.packet(i);
      if (PAYLOAD_HEADER_LENGTH + packet.length > this.#maxPayload) {
        this.#segmented(packet, batch.header(i, this.#header), fn);
        continue;
      }
      if (vnet) {
        const at = i * PAYLOAD_HEADER_LENGTH;
        out.set(batch.headers.subarray(at, at + PAYLOAD_HEADER_LENGTH), 0);
      } else out.fill(0, 0, PAYLOAD_HEADER_LENGTH);
      out.set(packet, PAYLOAD_HEADER_LENGTH);
      fn(out.subarray(0, PAYLOAD_HEADER_LENGTH + packet.length));
    }
  }

  #segmented(
    packet: Uint8Array,
    header: VirtioNetHeader,
    fn: (payload: Uint8Array) => void,
  ): void {
    const seg = this.#segments ??= this.#makeBatch();
    seg.clear();
    try {
      segmentGso(packet, header, seg);
    } catch {
      return;
    }
    const out = this.#scratch;
    for (let j = 0; j < seg.count; j++) {
      const p = seg.packet(j);
      out.fill(0, 0, PAYLOAD_HEADER_LENGTH);
      out.set(p, PAYLOAD_HEADER_LENGTH);
      fn(out.subarray(0, PAYLOAD_HEADER_LENGTH + p.length));
    }
  }
}

/** What a peer may ask our kernel to do with a packet: TCP/UDP segmentation, checksums. */
export function validOffload(h: VirtioNetHeader, length: number): boolean {
  const gso = h.gsoType & ~GsoType.ECN;
  if (
    gso !== GsoType.NONE && gso !== GsoType.TCPV4 && gso !== GsoType.TCPV6 &&
    gso !== GsoType.UDP_L4
  ) return false;
  if ((h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0) return false;
  if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csumStart + h.csumOffset + 2 > length) {
    return false;
  }
  if (gso !== GsoType.NONE && (h.gsoSize === 0 || h.hdrLen > length || h.gsoSize > 65535)) {
    return false;
  }
  return true;
}

/** Writes opened payloads into a TUN write batch. */
export class PayloadWriter {
  readonly #header: VirtioNetHeader = emptyHeader();
  readonly #vnet: boolean;

  /** `vnet`: the TUN takes virtio headers (super-packets go to the kernel whole). */
  constructor(vnet: boolean) {
    this.#vnet = vnet;
  }

  /**
   * Queues the packet of `payload` on `batch` (calling `flush` when the batch is full): whole
   * when it is plain or our TUN takes offloads, else segmented here. False when refused (short,
   * a header the kernel must not be asked to act on, too large, not segmentable).
   */
  push(payload: Uint8Array, batch: PacketBatch, flush: () => void): boolean {
    if (payload.length < PAYLOAD_HEADER_LENGTH + 20) return false;
    const packet = payload.subarray(PAYLOAD_HEADER_LENGTH);
    const h = decodeVirtioNetHeader(payload, 0, this.#header);
    const gso = h.gsoType & ~GsoType.ECN;
    const plain = gso === GsoType.NONE && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0;
    if (!plain && !validOffload(h, packet.length)) return false;
    if (plain || this.#vnet) {
      if (packet.length > batch.slotSize) return false;
      if (batch.count === batch.capacity) flush();
      batch.push(packet, plain ? undefined : h);
      return true;
    }
    if (batch.capacity - batch.count < 64) flush();
    try {
      segmentGso(packet, h, batch);
    } catch {
      return false;
    }
    return true;
  }
}
