/**
 * An in-memory TUN device: tests inject packets the host "sends" and read what the node wrote
 * to the host, with the same batch interface as ffi/tun.ts (like wireguard-go's tun/tuntest).
 *
 * @module
 */
import { PacketBatch } from "../../../ffi/packet_batch.ts";
import type { TunPort } from "../ports.ts";

/** A TUN without a kernel. */
export class MemoryTun implements TunPort {
  readonly name: string;
  readonly vnetHeader = false;
  #outbound: Uint8Array[] = [];
  #wake?: () => void;
  #closed = false;
  #written: Uint8Array[] = [];
  #waiters: { match: (p: Uint8Array) => boolean; resolve: (p: Uint8Array) => void }[] = [];

  /** Answers ICMP echo requests like a host's kernel unless `answerPings` is false. */
  answerPings = true;

  constructor(name = "mem0") {
    this.name = name;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Packets the node wrote to the host so far. */
  get written(): readonly Uint8Array[] {
    return this.#written;
  }

  /** The host sends `packet` into the overlay (the node reads it from the TUN). */
  inject(packet: Uint8Array): void {
    this.#outbound.push(packet.slice());
    this.#wake?.();
  }

  /** Resolves with the first packet written to the host (from now or before) that matches. */
  next(match: (p: Uint8Array) => boolean, timeoutMs = 5000): Promise<Uint8Array> {
    const seen = this.#written.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no matching packet within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (p: Uint8Array) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Forgets what was written so far. */
  clearWritten(): void {
    this.#written = [];
  }

  newBatch(capacity = 64): PacketBatch {
    return new PacketBatch({ capacity, slotSize: 2048 });
  }

  readBatch(batch: PacketBatch, options: { timeoutMs?: number } = {}): Promise<number> {
    batch.clear();
    if (this.#closed) return Promise.reject(new Error("TUN closed"));
    if (this.#outbound.length > 0) return Promise.resolve(this.#take(batch));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(0);
      }, options.timeoutMs ?? 500);
      this.#wake = () => {
        this.#wake = undefined;
        clearTimeout(timer);
        if (this.#closed) reject(new Error("TUN closed"));
        else resolve(this.#take(batch));
      };
    });
  }

  writeBatch(batch: PacketBatch): number {
    if (this.#closed) throw new Error("TUN closed");
    for (let i = 0; i < batch.count; i++) {
      const p = batch.packet(i).slice();
      this.#written.push(p);
      if (this.answerPings) this.#answerPing(p);
      if (this.#written.length > 4096) this.#written.splice(0, 2048);
      for (const w of this.#waiters.filter((w) => w.match(p))) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(p);
      }
    }
    return batch.count;
  }

  /** Closes the device: a pending read rejects. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** What the kernel does with an echo request to one of its addresses: the reply. */
  #answerPing(p: Uint8Array): void {
    const ihl = (p[0] & 0x0f) * 4;
    if (p.length < ihl + 8 || p[9] !== 1 || p[ihl] !== 8) return;
    const reply = p.slice();
    reply.set(p.subarray(16, 20), 12);
    reply.set(p.subarray(12, 16), 16);
    reply[ihl] = 0;
    reply[ihl + 2] = reply[ihl + 3] = 0;
    let sum = 0;
    for (let i = ihl; i + 1 < reply.length; i += 2) sum += (reply[i] << 8) | reply[i + 1];
    if ((reply.length - ihl) & 1) sum += reply[reply.length - 1] << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    reply[ihl + 2] = c >> 8;
    reply[ihl + 3] = c & 0xff;
    queueMicrotask(() => this.inject(reply));
  }

  #take(batch: PacketBatch): number {
    while (this.#outbound.length > 0 && batch.count < batch.capacity) {
      batch.push(this.#outbound.shift()!);
    }
    return batch.count;
  }
}
