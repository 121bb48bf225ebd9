/**
 * A caller-owned, reusable set of packet slots that the shim reads into and writes from:
 * one byte buffer cut into fixed-size slots, an Int32Array of offsets, an Int32Array of
 * lengths and (for offload devices) 10 bytes of virtio_net_hdr per slot. Nothing is
 * allocated per packet.
 *
 * @module
 */

import { TunError } from "./errors.ts";
import {
  decodeVirtioNetHeader,
  encodeVirtioNetHeader,
  VIRTIO_NET_HDR_LEN,
  type VirtioNetHeader,
} from "./virtio_net_hdr.ts";

/** Slot size that holds any GSO super-packet (64 KiB IP packet) a TUN can return. */
export const OFFLOAD_SLOT_SIZE = 65_536 + 256;

/** Options for a PacketBatch. */
export interface PacketBatchOptions {
  /** Number of slots (default 64). */
  capacity?: number;
  /** Bytes per slot (default 2048; use {@link OFFLOAD_SLOT_SIZE} for offload devices). */
  slotSize?: number;
}

/** Fixed slots for up to `capacity` packets; `count` of them are in use. */
export class PacketBatch {
  /** All packet bytes; slot i starts at `offsets[i]`. */
  readonly buffer: Uint8Array<ArrayBuffer>;
  /** Start of each slot in `buffer`. */
  readonly offsets: Int32Array<ArrayBuffer>;
  /** Length of the packet in each used slot. */
  readonly lengths: Int32Array<ArrayBuffer>;
  /** virtio_net_hdr of each slot (meaningful on offload devices only). */
  readonly headers: Uint8Array<ArrayBuffer>;
  /** Number of slots. */
  readonly capacity: number;
  /** Bytes per slot. */
  readonly slotSize: number;
  /** Number of slots holding a packet. */
  count = 0;

  constructor(options: PacketBatchOptions = {}) {
    const capacity = options.capacity ?? 64;
    const slotSize = options.slotSize ?? 2048;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new TunError("invalid-argument", `batch capacity ${capacity} not in 1..4096`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 68 || slotSize > OFFLOAD_SLOT_SIZE) {
      throw new TunError("invalid-argument", `slot size ${slotSize} not in 68..65792`);
    }
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.buffer = new Uint8Array(capacity * slotSize);
    this.offsets = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.offsets[i] = i * slotSize;
    this.lengths = new Int32Array(capacity);
    this.headers = new Uint8Array(capacity * VIRTIO_NET_HDR_LEN);
  }

  /** The packet in slot `i` as a view (valid until the slot is reused). */
  packet(i: number): Uint8Array<ArrayBuffer> {
    const start = this.offsets[i];
    return this.buffer.subarray(start, start + this.lengths[i]);
  }

  /** The whole slot `i`, to build a packet in place; then call {@link commit}. */
  slot(i: number): Uint8Array<ArrayBuffer> {
    const start = this.offsets[i];
    return this.buffer.subarray(start, start + this.slotSize);
  }

  /** Marks the next free slot as holding `length` bytes written via {@link slot}. */
  commit(length: number, header?: VirtioNetHeader): void {
    if (this.count >= this.capacity) throw new TunError("invalid-argument", "batch is full");
    if (length < 0 || length > this.slotSize) {
      throw new TunError("invalid-argument", `packet of ${length} bytes exceeds the slot`);
    }
    this.lengths[this.count] = length;
    this.headers.fill(0, this.count * VIRTIO_NET_HDR_LEN, (this.count + 1) * VIRTIO_NET_HDR_LEN);
    if (header) encodeVirtioNetHeader(header, this.headers, this.count * VIRTIO_NET_HDR_LEN);
    this.count++;
  }

  /** Copies `packet` into the next free slot. Returns false when the batch is full. */
  push(packet: Uint8Array, header?: VirtioNetHeader): boolean {
    if (this.count >= this.capacity) return false;
    if (packet.length > this.slotSize) {
      throw new TunError("invalid-argument", `packet of ${packet.length} bytes exceeds the slot`);
    }
    this.buffer.set(packet, this.offsets[this.count]);
    this.commit(packet.length, header);
    return true;
  }

  /** The virtio_net_hdr of slot `i`, decoded into `out` (reused when given). */
  header(i: number, out?: VirtioNetHeader): VirtioNetHeader {
    return decodeVirtioNetHeader(this.headers, i * VIRTIO_NET_HDR_LEN, out);
  }

  /** Empties the batch (the memory is kept). */
  clear(): void {
    this.count = 0;
  }
}
