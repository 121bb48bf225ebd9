/**
 * The node's lane socket: ffi/udp.ts's UdpSocket behind the DatagramPort the lanes use. Datagrams
 * are written in place into send batches (small ones and large ones apart, so a batch of 1,400-byte
 * frames does not reserve 64 KB per slot) and sent with one sendmmsg per batch at the end of the
 * turn; a receive loop hands every datagram of each recvmmsg batch to the lanes.
 *
 * @module
 */
import { DatagramBatch, UdpSocket } from "../../ffi/udp.ts";
import type { Logger } from "../log/logger.ts";
import type { DatagramPort } from "./ports.ts";

/** Slot size of the batch for small datagrams (a 1,500-byte MTU's worth and some). */
const SMALL_SLOT = 2048;
/** Largest datagram (UDP over IPv4). */
const LARGE_SLOT = 65_507;

/** A UdpSocket as the lanes' DatagramPort. */
export class SocketDatagramPort implements DatagramPort {
  readonly #socket: UdpSocket;
  readonly #log: Logger;
  readonly #small = new DatagramBatch({ capacity: 256, slotSize: SMALL_SLOT });
  readonly #large = new DatagramBatch({ capacity: 32, slotSize: LARGE_SLOT });
  readonly #in = new DatagramBatch({ capacity: 64, slotSize: LARGE_SLOT });
  #receivers: ((data: Uint8Array, address: number, port: number) => void)[] = [];
  #scheduled = false;
  #closed = false;

  private constructor(socket: UdpSocket, log: Logger) {
    this.#socket = socket;
    this.#log = log;
  }

  /** Opens a socket on every address, on a port the kernel picks, and starts receiving. */
  static async open(log: Logger): Promise<SocketDatagramPort> {
    const socket = await UdpSocket.open({ address: "0.0.0.0", port: 0 });
    const port = new SocketDatagramPort(socket, log);
    port.#receive();
    return port;
  }

  get localPort(): number {
    return this.#socket.localPort;
  }

  slot(address: number, port: number, length: number): Uint8Array | null {
    if (this.#closed || length > LARGE_SLOT) return null;
    const batch = length <= SMALL_SLOT ? this.#small : this.#large;
    if (batch.count === batch.capacity) this.#flush();
    if (batch.count === batch.capacity) return null;
    const i = batch.count;
    batch.commit(length, address, port);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
    return batch.slot(i).subarray(0, length);
  }

  onReceive(cb: (data: Uint8Array, address: number, port: number) => void): void {
    this.#receivers.push(cb);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close().catch(() => {});
  }

  /** Sends both batches; what a full socket buffer does not take is dropped, like UDP. */
  #flush(): void {
    if (this.#closed) return;
    for (const batch of [this.#small, this.#large]) {
      if (batch.count === 0) continue;
      try {
        this.#socket.sendBatch(batch);
      } catch (e) {
        this.#log.debug("lane send failed", { error: String(e) });
      }
      batch.clear();
    }
  }

  async #receive(): Promise<void> {
    const batch = this.#in;
    while (!this.#closed) {
      let n: number;
      try {
        n = await this.#socket.recvBatch(batch, { timeoutMs: 1000 });
      } catch (e) {
        if (!this.#closed) this.#log.warn("lane socket receive failed", { error: String(e) });
        return;
      }
      for (let i = 0; i < n; i++) {
        const data = batch.datagram(i);
        for (const cb of this.#receivers) cb(data, batch.addresses[i], batch.ports[i]);
      }
    }
  }
}
