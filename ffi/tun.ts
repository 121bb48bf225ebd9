/**
 * The TUN device binding: open a layer-3 interface, read and write packets in batches,
 * configure addresses, routes, MTU and link state. Linux uses /dev/net/tun (with optional
 * IFF_VNET_HDR offloads), macOS utun, Windows wintun — all through the one C API of
 * ffi/libtun.h, loaded by ffi/shim.ts.
 *
 * ```ts
 * const tun = await Tun.open({ name: "veilnet0", mtu: 1400 });
 * await tun.setAddress("100.64.0.1/10");
 * await tun.setUp(true);
 * const batch = tun.newBatch();
 * while (true) {
 *   const n = await tun.readBatch(batch); // 0 on timeout
 *   for (let i = 0; i < n; i++) handle(batch.packet(i));
 * }
 * ```
 *
 * @module
 */

import { parseCidr, validateInterfaceName } from "./cidr.ts";
import { errnoError, TunError } from "./errors.ts";
import { OFFLOAD_SLOT_SIZE, PacketBatch } from "./packet_batch.ts";
import { acquireShim, releaseShim, type ShimLocation, type ShimSymbols } from "./shim.ts";
import type { VirtioNetHeader } from "./virtio_net_hdr.ts";
import { encodeVirtioNetHeader, VIRTIO_NET_HDR_LEN } from "./virtio_net_hdr.ts";

export { TunError, type TunErrorCode } from "./errors.ts";
export { type Cidr, parseCidr, validateInterfaceName } from "./cidr.ts";
export { OFFLOAD_SLOT_SIZE, PacketBatch, type PacketBatchOptions } from "./packet_batch.ts";
export {
  decodeVirtioNetHeader,
  emptyHeader,
  encodeVirtioNetHeader,
  GsoType,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_LEN,
  type VirtioNetHeader,
} from "./virtio_net_hdr.ts";
export { completeChecksum, segmentGso } from "./segment.ts";
export type { ShimLocation } from "./shim.ts";

/** Offload bits (Linux TUN_F_*), as reported by {@link Tun.offloadFlags}. */
export const Offload = {
  CSUM: 0x01,
  TSO4: 0x02,
  TSO6: 0x04,
  USO4: 0x20,
  USO6: 0x40,
} as const;

const ALL_OFFLOADS = Offload.CSUM | Offload.TSO4 | Offload.TSO6 | Offload.USO4 | Offload.USO6;
const OPEN_VNET_HDR = 1;
const OPEN_MULTI_QUEUE = 2;
const ECANCELED = 125;
const DEFAULT_MTU = 1500;
const EAGER_STREAK = 8;

/** Options for {@link Tun.open}. */
export interface TunOptions {
  /** Interface name, 1–15 of `[A-Za-z0-9_.-]` (on macOS `utunN` or `utun` for the next free). */
  name: string;
  /** MTU set at open (default 1500; 68–65535). */
  mtu?: number;
  /**
   * Linux: open with IFF_VNET_HDR and enable TSO4/TSO6 (and USO when the kernel has it), so
   * reads return GSO super-packets up to 64 KiB and writes may hand such packets to the
   * kernel. Every packet then carries a virtio_net_hdr in the batch. Ignored elsewhere
   * (check {@link Tun.offloadFlags}). Default false.
   */
  offload?: boolean;
  /** Linux: IFF_MULTI_QUEUE, so opening the same name again adds a queue. Default false. */
  multiQueue?: boolean;
  /** Path of the shim library to load instead of searching (see ffi/shim.ts). */
  library?: string;
  /** Cache folder for the shim instead of the default. */
  cacheDir?: string;
}

/** Options for {@link Tun.readBatch}. */
export interface ReadOptions {
  /** How long to wait when no packet is queued: ms, -1 forever, 0 never (default 1000). */
  timeoutMs?: number;
  /**
   * First take queued packets with a synchronous call, and only wait (nonblocking call on a
   * worker thread) when there are none. Default true; false always goes through the waiting
   * call, which costs a thread hop per read (only useful to measure that cost).
   */
  eager?: boolean;
}

/** Options for {@link Tun.writeBatch}. */
export interface WriteOptions {
  /** First slot to write (default 0). */
  start?: number;
  /** Number of slots to write (default `batch.count - start`). */
  count?: number;
}

const encoder = new TextEncoder();

function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** An open TUN interface. One read may be pending at a time; writes are synchronous. */
export class Tun {
  /** The interface name the kernel assigned. */
  readonly name: string;
  /** Offload bits in effect (0 = plain packets, no virtio_net_hdr). */
  readonly offloadFlags: number;
  /** Where the shim was loaded from. */
  readonly shim: ShimLocation;

  #sym: ShimSymbols;
  #handle: number;
  #cname: Uint8Array<ArrayBuffer>;
  #vnet: boolean;
  #pending: Promise<number> | null = null;
  #eagerStreak = 0;
  #closing = false;
  #closed: Promise<void> | null = null;
  #oneOffset = new Int32Array(1);
  #oneLength = new Int32Array(1);
  #oneHeader = new Uint8Array(VIRTIO_NET_HDR_LEN);

  private constructor(
    sym: ShimSymbols,
    handle: number,
    name: string,
    vnet: boolean,
    offloadFlags: number,
    shim: ShimLocation,
  ) {
    this.#sym = sym;
    this.#handle = handle;
    this.name = name;
    this.#cname = cString(name);
    this.#vnet = vnet;
    this.offloadFlags = offloadFlags;
    this.shim = shim;
  }

  /**
   * Opens (creating if needed) the interface and sets its MTU. The link stays down until
   * {@link setUp}. Throws TunError: `invalid-argument` (bad name/MTU, checked before any
   * system call), `no-device`, `permission`, `busy` (name taken), `shim`, `io`.
   */
  static async open(options: TunOptions): Promise<Tun> {
    validateInterfaceName(options.name);
    const mtu = options.mtu ?? DEFAULT_MTU;
    validateMtu(mtu);
    const { symbols, location } = await acquireShim({
      library: options.library,
      cacheDir: options.cacheDir,
    });
    let handle = -1;
    try {
      // Windows loads wintun.dll from next to the executable unless told otherwise.
      const init = symbols.vn_tun_init(cString(envOr("VEILNET_WINTUN_DLL", "")));
      if (init < 0) {
        throw errnoError("loading the TUN driver", init, { override: { 2: "no-device" } });
      }
      const wantVnet = options.offload === true && Deno.build.os === "linux";
      const flags = (wantVnet ? OPEN_VNET_HDR : 0) | (options.multiQueue ? OPEN_MULTI_QUEUE : 0);
      const nameOut = new Uint8Array(64);
      handle = symbols.vn_tun_open(cString(options.name), flags, nameOut);
      if (handle < 0) {
        throw errnoError(`opening TUN ${options.name}`, handle, {
          override: { 2: "no-device", 6: "no-device", 19: "no-device" },
        });
      }
      const name = new TextDecoder().decode(nameOut.subarray(0, nameOut.indexOf(0)));
      let applied = 0;
      if (wantVnet) {
        applied = symbols.vn_tun_offload(handle, ALL_OFFLOADS);
        if (applied < 0) throw errnoError(`enabling offloads on ${name}`, applied);
      }
      const tun = new Tun(symbols, handle, name, wantVnet, applied, location);
      const rc = symbols.vn_tun_set_mtu(tun.#cname, mtu);
      if (rc < 0) throw errnoError(`setting MTU ${mtu} on ${name}`, rc);
      return tun;
    } catch (e) {
      if (handle >= 0) symbols.vn_tun_close(handle);
      releaseShim();
      throw e;
    }
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** True when packets carry a virtio_net_hdr (offload mode). */
  get vnetHeader(): boolean {
    return this.#vnet;
  }

  /** A batch whose slots fit any packet this device can return. */
  newBatch(capacity = 64): PacketBatch {
    return new PacketBatch({ capacity, slotSize: this.#vnet ? OFFLOAD_SLOT_SIZE : 2048 });
  }

  /**
   * Reads up to `batch.capacity` packets into `batch` (from slot 0; sets `batch.count`).
   * Takes whatever is queued without waiting; only if nothing is, waits in one nonblocking
   * FFI call for up to `timeoutMs`. At least every 8th call goes through that nonblocking call
   * so that a packet flood cannot starve the event loop. Resolves to the count, 0 on timeout. Throws TunError
   * `closed` when the device is (or gets) closed, `busy` if another read is pending.
   */
  async readBatch(batch: PacketBatch, options: ReadOptions = {}): Promise<number> {
    this.#assertOpen();
    if (this.#pending) throw new TunError("busy", `a read is already pending on ${this.name}`);
    const timeout = options.timeoutMs ?? 1000;
    if (!Number.isInteger(timeout) || timeout < -1) {
      throw new TunError("invalid-argument", `timeoutMs ${timeout} is not -1 or a count of ms`);
    }
    const minSlot = this.#vnet ? OFFLOAD_SLOT_SIZE : 68;
    if (batch.slotSize < minSlot) {
      throw new TunError("invalid-argument", `batch slots below ${minSlot} bytes; use newBatch()`);
    }
    batch.count = 0;
    const hdrs = this.#vnet ? batch.headers : null;
    const s = this.#sym;
    // A synchronous read resolves without giving the event loop a turn; under a steady flood
    // that would starve timers and sockets, so every EAGER_STREAK-th read goes through the
    // waiting call (which returns at once when packets are queued) instead.
    const eager = options.eager !== false && this.#eagerStreak < EAGER_STREAK;
    let n = !eager ? 0 : s.vn_tun_read_now(
      this.#handle,
      0,
      batch.buffer,
      batch.offsets,
      batch.slotSize,
      batch.capacity,
      batch.lengths,
      hdrs,
    );
    this.#eagerStreak = n > 0 ? this.#eagerStreak + 1 : 0;
    if (n === 0 && (timeout !== 0 || !eager)) {
      const p = s.vn_tun_read_wait(
        this.#handle,
        timeout,
        batch.buffer,
        batch.offsets,
        batch.slotSize,
        batch.capacity,
        batch.lengths,
        hdrs,
      );
      this.#pending = p;
      try {
        n = await p;
      } finally {
        this.#pending = null;
      }
    }
    if (n === -ECANCELED || (n < 0 && this.#closing)) {
      throw new TunError("closed", `${this.name} was closed`);
    }
    if (n < 0) throw errnoError(`reading from ${this.name}`, n);
    // Plain devices carry no header: zero them so a batch can go to an offload device as is.
    if (!this.#vnet) batch.headers.fill(0, 0, n * VIRTIO_NET_HDR_LEN);
    batch.count = n;
    return n;
  }

  /**
   * Writes slots `start .. start+count` of `batch` to the interface (with their
   * virtio_net_hdr in offload mode). Synchronous; never blocks. Returns how many packets the
   * kernel accepted (malformed ones are dropped, like a NIC would).
   */
  writeBatch(batch: PacketBatch, options: WriteOptions = {}): number {
    this.#assertOpen();
    const start = options.start ?? 0;
    const count = options.count ?? batch.count - start;
    if (
      !Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 ||
      start + count > batch.capacity
    ) {
      throw new TunError("invalid-argument", `slots ${start}+${count} outside the batch`);
    }
    if (count === 0) return 0;
    const whole = start === 0;
    const rc = this.#sym.vn_tun_write_batch(
      this.#handle,
      batch.buffer,
      whole ? batch.offsets : batch.offsets.subarray(start),
      whole ? batch.lengths : batch.lengths.subarray(start),
      this.#vnet
        ? (whole ? batch.headers : batch.headers.subarray(start * VIRTIO_NET_HDR_LEN))
        : null,
      count,
    );
    if (rc < 0) throw errnoError(`writing to ${this.name}`, rc);
    return rc;
  }

  /**
   * Writes one packet (a view is fine; nothing is copied). In offload mode `header`
   * describes it (default: a plain packet). Returns false if the kernel dropped it.
   */
  write(packet: Uint8Array<ArrayBuffer>, header?: VirtioNetHeader): boolean {
    this.#assertOpen();
    this.#oneLength[0] = packet.length;
    this.#oneHeader.fill(0);
    if (header) encodeVirtioNetHeader(header, this.#oneHeader, 0);
    const rc = this.#sym.vn_tun_write_batch(
      this.#handle,
      packet,
      this.#oneOffset,
      this.#oneLength,
      this.#vnet ? this.#oneHeader : null,
      1,
    );
    if (rc < 0) throw errnoError(`writing to ${this.name}`, rc);
    return rc === 1;
  }

  /** Sets the MTU (68–65535). */
  setMtu(mtu: number): Promise<void> {
    validateMtu(mtu);
    this.#assertOpen();
    this.#check(`setting MTU ${mtu} on ${this.name}`, this.#sym.vn_tun_set_mtu(this.#cname, mtu));
    return Promise.resolve();
  }

  /** The current MTU as the OS reports it. */
  getMtu(): Promise<number> {
    this.#assertOpen();
    const rc = this.#sym.vn_tun_get_mtu(this.#cname);
    this.#check(`reading the MTU of ${this.name}`, rc);
    return Promise.resolve(rc);
  }

  /** Brings the link up or down. */
  setUp(up: boolean): Promise<void> {
    this.#assertOpen();
    const rc = this.#sym.vn_tun_set_up(this.#cname, up ? 1 : 0);
    this.#check(`setting ${this.name} ${up ? "up" : "down"}`, rc);
    return Promise.resolve();
  }

  /**
   * Assigns `cidr` (e.g. `100.64.0.7/10`, `fd7a::7/64`). IPv4 replaces the primary address
   * (ioctl); IPv6 is added (netlink). The OS adds the prefix route itself.
   */
  setAddress(cidr: string): Promise<void> {
    const c = parseCidr(cidr);
    this.#assertOpen();
    const rc = c.family === 4
      ? this.#sym.vn_tun_set_ipv4(this.#cname, c.address, c.prefix)
      : this.#sym.vn_tun_addr(this.#cname, 6, c.address, c.prefix, 1);
    this.#check(`setting address ${cidr} on ${this.name}`, rc);
    return Promise.resolve();
  }

  /** Removes an address given as `address/prefix`. */
  removeAddress(cidr: string): Promise<void> {
    const c = parseCidr(cidr);
    this.#assertOpen();
    const rc = this.#sym.vn_tun_addr(this.#cname, c.family, c.address, c.prefix, 0);
    this.#check(`removing address ${cidr} from ${this.name}`, rc);
    return Promise.resolve();
  }

  /**
   * Routes `cidr` (network address, host bits zero) through this interface: the realm CIDR,
   * or a subnet a portal advertises. Adding an existing route replaces it.
   */
  addRoute(cidr: string): Promise<void> {
    const c = parseCidr(cidr, { network: true });
    this.#assertOpen();
    const rc = this.#sym.vn_tun_route(this.#cname, c.family, c.address, c.prefix, 1);
    this.#check(`adding route ${cidr} via ${this.name}`, rc);
    return Promise.resolve();
  }

  /** Removes a route added with {@link addRoute}; TunError `not-found` if there is none. */
  removeRoute(cidr: string): Promise<void> {
    const c = parseCidr(cidr, { network: true });
    this.#assertOpen();
    const rc = this.#sym.vn_tun_route(this.#cname, c.family, c.address, c.prefix, 0);
    this.#check(`removing route ${cidr} via ${this.name}`, rc);
    return Promise.resolve();
  }

  /**
   * Closes the device. A pending read is woken through the wake object (eventfd) and
   * rejects with TunError `closed`; this resolves once it has returned and the descriptor is
   * closed, so no call into the library can follow. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#sym.vn_tun_wake(this.#handle);
    const pending = this.#pending;
    if (pending) await pending.catch(() => 0);
    this.#sym.vn_tun_close(this.#handle);
    releaseShim();
  }

  #assertOpen(): void {
    if (this.#closing) throw new TunError("closed", `${this.name} is closed`);
  }

  #check(action: string, rc: number): void {
    if (rc < 0) throw errnoError(action, rc);
  }
}

function envOr(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) || fallback;
  } catch {
    return fallback; // no --allow-env: use the default
  }
}

function validateMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new TunError("invalid-argument", `MTU ${mtu} not an integer in 68..65535`);
  }
}
