/**
 * In-memory UDP for datagram lanes: ports bound to an (IPv4, port) on a MemoryUdpNet; datagrams
 * written in one turn arrive on a later one, each with its source, unless the net drops them
 * (a cut between two addresses, or a filter). Large datagrams can be dropped to model a path that
 * loses IP fragments.
 *
 * @module
 */
import type { DatagramPort } from "../ports.ts";

/** One datagram as the net carried it. */
export interface WireDatagram {
  from: { address: number; port: number };
  to: { address: number; port: number };
  data: Uint8Array;
}

/** The UDP network of a test. */
export class MemoryUdpNet {
  #ports = new Map<string, MemoryDatagramPort>();
  #nextPort = 40_000;
  #cut = new Set<string>();
  /** Largest datagram delivered (a path dropping fragments: 1,472). */
  maxDatagram = 65_507;
  /** When set, a datagram for which it returns false is lost. */
  filter?: (d: WireDatagram) => boolean;
  /** Datagrams carried. */
  carried = 0;

  /** Binds a port on `address`. */
  bind(address: number): MemoryDatagramPort {
    const port = new MemoryDatagramPort(this, address, this.#nextPort++);
    this.#ports.set(`${address}:${port.localPort}`, port);
    return port;
  }

  /** Datagrams between these addresses are lost (both ways). */
  cut(a: number, b: number): void {
    this.#cut.add(`${Math.min(a, b)}|${Math.max(a, b)}`);
  }

  /** They flow again. */
  heal(a: number, b: number): void {
    this.#cut.delete(`${Math.min(a, b)}|${Math.max(a, b)}`);
  }

  /** @internal */
  unbind(port: MemoryDatagramPort): void {
    this.#ports.delete(`${port.address}:${port.localPort}`);
  }

  /** @internal */
  carry(d: WireDatagram): void {
    if (d.data.length > this.maxDatagram) return;
    const a = d.from.address, b = d.to.address;
    if (this.#cut.has(`${Math.min(a, b)}|${Math.max(a, b)}`)) return;
    if (this.filter && !this.filter(d)) return;
    const to = this.#ports.get(`${d.to.address}:${d.to.port}`);
    if (!to) return;
    this.carried++;
    to.deliver(d.data, d.from.address, d.from.port);
  }
}

/** One bound in-memory UDP port. */
export class MemoryDatagramPort implements DatagramPort {
  readonly address: number;
  readonly localPort: number;
  readonly #net: MemoryUdpNet;
  #out: WireDatagram[] = [];
  #scheduled = false;
  #receivers: ((data: Uint8Array, address: number, port: number) => void)[] = [];
  #closed = false;

  constructor(net: MemoryUdpNet, address: number, port: number) {
    this.#net = net;
    this.address = address;
    this.localPort = port;
  }

  slot(address: number, port: number, length: number): Uint8Array | null {
    if (this.#closed || this.#out.length >= 4096) return null;
    const data = new Uint8Array(length);
    this.#out.push({
      from: { address: this.address, port: this.localPort },
      to: { address, port },
      data,
    });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.#flush(), 0);
    }
    return data;
  }

  onReceive(cb: (data: Uint8Array, address: number, port: number) => void): void {
    this.#receivers.push(cb);
  }

  close(): void {
    this.#closed = true;
    this.#net.unbind(this);
  }

  /** @internal */
  deliver(data: Uint8Array, address: number, port: number): void {
    if (this.#closed) return;
    for (const cb of this.#receivers) cb(data, address, port);
  }

  #flush(): void {
    this.#scheduled = false;
    const out = this.#out.splice(0);
    for (const d of out) this.#net.carry(d);
  }
}
