/**
 * A caller-owned, reusable set of UDP datagram slots for ffi/udp.ts: one byte buffer cut into
 * fixed-size slots, an Int32Array of lengths, and per datagram an IPv4 address (a u32 number in
 * host order, 127.0.0.1 = 0x7f000001) and a port (u16). On receive these are the source, on send
 * the destination. Nothing is allocated per datagram.
 *
 * @module
 */
import { formatIpv4, parseIpv4 as parseIpv4Number } from "../core/net/ipv4.ts";

/** What went wrong in the UDP binding, as a caller acts on it:
 * - `invalid-argument`: a bad address, port, batch or option, rejected before any system call;
 * - `closed`: the socket was (or got) closed;
 * - `busy`: a second receive while one is pending;
 * - `address-in-use`: bind found the port taken (EADDRINUSE);
 * - `address-not-available`: the address is not on this host (EADDRNOTAVAIL);
 * - `permission`: EPERM/EACCES (e.g. a port below 1024 without CAP_NET_BIND_SERVICE);
 * - `unavailable`: the C library could not be found, built or loaded (or not Linux);
 * - `io`: anything else the kernel reported. */
export type UdpErrorCode =
  | "invalid-argument"
  | "closed"
  | "busy"
  | "address-in-use"
  | "address-not-available"
  | "permission"
  | "unavailable"
  | "io";

/** An error of the UDP binding with a code to branch on and the errno when there is one. */
export class UdpError extends Error {
  /** The category; see {@link UdpErrorCode}. */
  readonly code: UdpErrorCode;
  /** The positive errno, when the error came from the kernel. */
  readonly errno?: number;

  /** Creates an error with `code`, a message and optionally the errno. */
  constructor(code: UdpErrorCode, message: string, errno?: number) {
    super(message);
    this.name = "UdpError";
    this.code = code;
    if (errno !== undefined) this.errno = errno;
  }
}

/** Largest IPv4 UDP payload (65535 − 20 − 8). */
export const UDP_MAX_PAYLOAD = 65_507;
/** Most datagrams in one batch (the kernel's sendmmsg/recvmmsg limit, UIO_MAXIOV). */
export const MAX_BATCH_CAPACITY = 1024;

/** Options for a {@link DatagramBatch}. */
export interface DatagramBatchOptions {
  /** Number of slots, 1..1024 (default 64). */
  capacity?: number;
  /** Bytes per slot, 1..65507 (default 2048). Received datagrams longer than this are dropped
   * (counted in `UdpSocket.stats().recvDropped`). */
  slotSize?: number;
}

/** Parses dotted-quad IPv4 text into the u32 a batch holds; UdpError `invalid-argument`. */
export function parseIpv4(text: string): number {
  const v = parseIpv4Number(text);
  if (v < 0) {
    throw new UdpError(
      "invalid-argument",
      `"${String(text)}" is not an IPv4 address (IPv6 unsupported)`,
    );
  }
  return v;
}

export { formatIpv4 };

function checkAddr(addr: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0xffff_ffff) {
    throw new UdpError("invalid-argument", `IPv4 address ${addr} is not a u32`);
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UdpError("invalid-argument", `destination port ${port} not in 1..65535`);
  }
}

/** Fixed slots for up to `capacity` datagrams; slots `0 .. count-1` are in use. */
export class DatagramBatch {
  /** All datagram bytes; slot i starts at `i * slotSize`. */
  readonly buffer: Uint8Array<ArrayBuffer>;
  /** Length of the datagram in each used slot. */
  readonly lengths: Int32Array<ArrayBuffer>;
  /** IPv4 address per slot as a u32 (host order): source on receive, destination on send. */
  readonly addresses: Uint32Array<ArrayBuffer>;
  /** Port per slot: source on receive, destination on send. */
  readonly ports: Uint16Array<ArrayBuffer>;
  /** Number of slots. */
  readonly capacity: number;
  /** Bytes per slot. */
  readonly slotSize: number;
  /** Number of slots holding a datagram (set by `recvBatch`, `push` and `commit`). */
  count = 0;

  /** Allocates the slots once; UdpError `invalid-argument` for a bad capacity or slot size. */
  constructor(options: DatagramBatchOptions = {}) {
    const capacity = options.capacity ?? 64;
    const slotSize = options.slotSize ?? 2048;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BATCH_CAPACITY) {
      throw new UdpError("invalid-argument", `batch capacity ${capacity} not in 1..1024`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 1 || slotSize > UDP_MAX_PAYLOAD) {
      throw new UdpError("invalid-argument", `slot size ${slotSize} not in 1..65507`);
    }
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.buffer = new Uint8Array(capacity * slotSize);
    this.lengths = new Int32Array(capacity);
    this.addresses = new Uint32Array(capacity);
    this.ports = new Uint16Array(capacity);
  }

  /** The datagram in slot `i` as a view (valid until the slot is reused). */
  datagram(i: number): Uint8Array<ArrayBuffer> {
    const start = i * this.slotSize;
    return this.buffer.subarray(start, start + this.lengths[i]);
  }

  /** The whole slot `i`, to build a datagram in place (usually `slot(batch.count)`); then
   * {@link commit}. */
  slot(i: number): Uint8Array<ArrayBuffer> {
    const start = i * this.slotSize;
    return this.buffer.subarray(start, start + this.slotSize);
  }

  /** Marks the next free slot as holding `length` bytes (written via {@link slot}) for
   * `addr:port`. UdpError `invalid-argument` when full or the length, address or port is bad. */
  commit(length: number, addr: number, port: number): void {
    if (this.count >= this.capacity) throw new UdpError("invalid-argument", "batch is full");
    if (!Number.isInteger(length) || length < 0 || length > this.slotSize) {
      throw new UdpError("invalid-argument", `datagram of ${length} bytes exceeds the slot`);
    }
    checkAddr(addr);
    checkPort(port);
    const i = this.count;
    this.lengths[i] = length;
    this.addresses[i] = addr;
    this.ports[i] = port;
    this.count = i + 1;
  }

  /** Copies `bytes` into the next free slot for `addr:port`. Returns false when the batch is
   * full; UdpError `invalid-argument` when it exceeds the slot or the address/port is bad. */
  push(bytes: Uint8Array, addr: number, port: number): boolean {
    if (this.count >= this.capacity) return false;
    if (bytes.length > this.slotSize) {
      throw new UdpError("invalid-argument", `datagram of ${bytes.length} bytes exceeds the slot`);
    }
    checkAddr(addr);
    checkPort(port);
    const i = this.count;
    this.buffer.set(bytes, i * this.slotSize);
    this.lengths[i] = bytes.length;
    this.addresses[i] = addr;
    this.ports[i] = port;
    this.count = i + 1;
    return true;
  }

  /** Empties the batch (the memory is kept). */
  clear(): void {
    this.count = 0;
  }
}
