/**
 * A nonblocking IPv4 UDP socket through ffi/udp_linux.c for the datagram lane (issue 16):
 * `sendmmsg` with UDP_SEGMENT (GSO) out, `recvmmsg` with UDP_GRO in, whole
 * {@link DatagramBatch}es per FFI call and no allocation per datagram.
 *
 * - Linux only, IPv4 only (no IPv6 sockets yet).
 * - The library is found or built like the TUN shim (ffi/shim.ts: env `VEILNET_UDP_LIBRARY`,
 *   else next to the executable, embedded, cache keyed by the source hash, else built with
 *   `cc`) and stays loaded for the life of the isolate (a symbol called after dlclose would
 *   crash).
 * - Sends are synchronous and never block: a full socket buffer makes {@link UdpSocket.sendBatch}
 *   return fewer than asked. Runs of datagrams to one destination with one length (the last may
 *   be shorter) go as one GSO message when the kernel supports it; GSO is turned off for the
 *   socket if the kernel answers EIO, and a run the kernel refuses with EINVAL/EMSGSIZE is sent
 *   again one datagram per message.
 * - Receives take whatever is queued synchronously and only then wait in one `nonblocking: true`
 *   FFI call (poll on the socket and a wake eventfd). With UDP_GRO a coalesced read is split by
 *   its gso_size, so the caller always sees single datagrams with their source.
 *
 * @module
 */

import {
  type DatagramBatch,
  formatIpv4,
  MAX_BATCH_CAPACITY,
  parseIpv4,
  UdpError,
  type UdpErrorCode,
} from "./datagram_batch.ts";
import {
  currentOs,
  locateLibrary,
  type LocateOptions,
  type NativeLibrarySpec,
  openLibrary,
  type ShimLocation,
  type ShimOs,
} from "./shim.ts";

export { DatagramBatch, formatIpv4, parseIpv4, UdpError } from "./datagram_batch.ts";
export type { DatagramBatchOptions, UdpErrorCode } from "./datagram_batch.ts";

/** The ABI version expected from `vn_udp_abi_version()` (VN_UDP_ABI in udp_linux.c). */
export const UDP_ABI = 1;

/** Default SO_RCVBUF/SO_SNDBUF request: 8 MiB (forced as root, else capped by rmem_max). */
export const DEFAULT_UDP_BUFFER_BYTES = 8 << 20;

function udpSources(os: ShimOs): string[] {
  return os === "linux" ? ["udp_linux.c"] : [];
}

function udpFlags(_os: ShimOs): string[] {
  return ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-pthread"];
}

/** ffi/udp_linux.c as a library for ffi/shim.ts's loader (`libudp.so`). */
export const UDP_LIBRARY: NativeLibrarySpec = {
  name: "udp",
  title: "UDP datagram library",
  envVar: "VEILNET_UDP_LIBRARY",
  sources: udpSources,
  flags: udpFlags,
  hashPrefix: `abi=${UDP_ABI}`,
  buildHint: "Debian: apt-get install gcc libc6-dev",
  error: (message) => new UdpError("unavailable", message),
};

const SYMBOLS = {
  vn_udp_abi_version: { parameters: [], result: "i32" },
  vn_udp_open: { parameters: ["u32", "i32", "i32", "i32", "buffer"], result: "i32" },
  vn_udp_send_batch: {
    parameters: ["i32", "buffer", "i32", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  vn_udp_recv_now: {
    name: "vn_udp_recv_batch",
    parameters: ["i32", "i32", "buffer", "i32", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  vn_udp_recv_wait: {
    name: "vn_udp_recv_batch",
    parameters: ["i32", "i32", "buffer", "i32", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  vn_udp_wake: { parameters: ["i32"], result: "i32" },
  vn_udp_stats: { parameters: ["i32", "buffer"], result: "i32" },
  vn_udp_debug_fail_send: { parameters: ["i32", "i32", "i32"], result: "i32" },
  vn_udp_close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const FLAG_GSO = 1;
const FLAG_GRO = 2;
const EAGER_STREAK = 8;

let loaded: { symbols: Symbols; location: ShimLocation } | null = null;
let loading: Promise<{ symbols: Symbols; location: ShimLocation }> | null = null;

/**
 * Finds, builds if needed, and loads the library (once per isolate). UdpError `unavailable`
 * when not on Linux, without a C compiler, or with a library of another ABI.
 */
export function loadUdpLibrary(
  options: LocateOptions = {},
): Promise<{ symbols: Symbols; location: ShimLocation }> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= (async () => {
    let os: ShimOs;
    try {
      os = currentOs();
    } catch (e) {
      throw new UdpError("unavailable", (e as Error).message);
    }
    if (os !== "linux") {
      throw new UdpError("unavailable", `the UDP datagram library is Linux-only (not ${os})`);
    }
    const location = await locateLibrary(UDP_LIBRARY, options);
    const lib = openLibrary(UDP_LIBRARY, location.path, SYMBOLS);
    const abi = lib.symbols.vn_udp_abi_version();
    if (abi !== UDP_ABI) {
      lib.close();
      throw new UdpError("unavailable", `${location.path} has ABI ${abi}, expected ${UDP_ABI}`);
    }
    loaded = { symbols: lib.symbols, location };
    return loaded;
  })();
  return loading.finally(() => {
    loading = null;
  });
}

const ERRNO: Record<number, [string, UdpErrorCode]> = {
  1: ["EPERM", "permission"],
  4: ["EINTR", "io"],
  9: ["EBADF", "closed"],
  11: ["EAGAIN", "io"],
  12: ["ENOMEM", "io"],
  13: ["EACCES (a port below 1024 needs CAP_NET_BIND_SERVICE)", "permission"],
  14: ["EFAULT", "io"],
  22: ["EINVAL", "invalid-argument"],
  24: ["EMFILE (too many open sockets)", "io"],
  90: ["EMSGSIZE (datagram too large)", "io"],
  97: ["EAFNOSUPPORT", "io"],
  98: ["EADDRINUSE (the port is taken)", "address-in-use"],
  99: ["EADDRNOTAVAIL (the address is not on this host)", "address-not-available"],
  100: ["ENETDOWN", "io"],
  101: ["ENETUNREACH", "io"],
  105: ["ENOBUFS", "io"],
  111: ["ECONNREFUSED", "io"],
  113: ["EHOSTUNREACH", "io"],
  125: ["ECANCELED", "closed"],
};

/** Turns a negative errno from the library into a UdpError saying what was attempted. */
export function udpErrnoError(action: string, negErrno: number): UdpError {
  const errno = -negErrno;
  const [sym, code] = ERRNO[errno] ?? [`errno ${errno}`, "io" as UdpErrorCode];
  return new UdpError(code, `${action} failed: ${sym}`, errno);
}

/** Options for {@link UdpSocket.open}. */
export interface UdpSocketOptions {
  /** Local IPv4 address to bind, e.g. "198.18.0.5" or "0.0.0.0" (default). IPv4 only. */
  address?: string;
  /** Local port, 0 (default) for one the kernel picks. */
  port?: number;
  /** SO_RCVBUF and SO_SNDBUF request in bytes (default 8 MiB; 0 keeps the kernel default).
   * SO_*BUFFORCE is tried first (root/CAP_NET_ADMIN), else capped by net.core.[rw]mem_max. */
  bufferBytes?: number;
  /** Use UDP_SEGMENT for equal-size runs when the kernel supports it (default true). */
  gso?: boolean;
  /** Enable UDP_GRO on receive (default true); reads are split back into datagrams. */
  gro?: boolean;
  /** Library path (else env VEILNET_UDP_LIBRARY, the cache, or a build). */
  library?: string;
  /** Cache folder for the built library. */
  cacheDir?: string;
}

/** Options for {@link UdpSocket.recvBatch}. */
export interface RecvOptions {
  /** How long to wait when nothing is queued: 0 = do not wait, -1 = until data, wake() or
   * close() (default 1000). */
  timeoutMs?: number;
  /** Try a synchronous read first (default true). Every 8th consecutive non-empty eager read
   * goes through the waiting call anyway so a flood cannot starve the event loop. */
  eager?: boolean;
}

/** Options for {@link UdpSocket.sendBatch}. */
export interface SendOptions {
  /** First slot to send (default 0). */
  start?: number;
  /** Number of slots (default `batch.count - start`). */
  count?: number;
}

/** Counters of one socket (since open). */
export interface UdpStats {
  /** Datagrams handed to the kernel. */
  sent: number;
  /** sendmmsg messages (one GSO message carries several datagrams). */
  sendMessages: number;
  /** Messages sent with UDP_SEGMENT. */
  gsoMessages: number;
  /** Datagrams dropped for a per-destination error (unreachable, EPERM, EMSGSIZE, ...). */
  sendDropped: number;
  /** sendBatch calls cut short by a full buffer (EAGAIN/ENOBUFS). */
  sendFull: number;
  /** errno of the last dropped datagram (0: none). */
  lastSendErrno: number;
  /** Datagrams returned by recvBatch. */
  received: number;
  /** recvmmsg messages (one GRO message carries several datagrams). */
  recvMessages: number;
  /** Messages that arrived coalesced (with a UDP_GRO gso_size). */
  groMessages: number;
  /** Datagrams dropped on receive because they did not fit the batch's slot. */
  recvDropped: number;
  /** Whether GSO is in use now. */
  gso: boolean;
  /** errno that made the socket turn GSO off (0: never). */
  gsoOffErrno: number;
}

/** An open UDP socket. One receive may be pending at a time; sends are synchronous. */
export class UdpSocket {
  /** Bound local address (getsockname), e.g. "0.0.0.0" or "127.0.0.1". */
  readonly localAddress: string;
  /** Bound local address as a u32 (host order). */
  readonly localAddressU32: number;
  /** Bound local port (getsockname). */
  readonly localPort: number;
  /** SO_RCVBUF as the kernel reports it (twice the usable size). */
  readonly receiveBufferBytes: number;
  /** SO_SNDBUF as the kernel reports it. */
  readonly sendBufferBytes: number;
  /** Whether SO_RCVBUFFORCE/SO_SNDBUFFORCE took (root); else the sizes are capped. */
  readonly buffersForced: boolean;
  /** Whether UDP_GRO is on for this socket. */
  readonly gro: boolean;
  /** Where the library came from. */
  readonly library: ShimLocation;

  #s: Symbols;
  #h: number;
  #pending: Promise<number> | null = null;
  #eagerStreak = 0;
  #closing = false;
  #closed: Promise<void> | null = null;
  #stats = new Float64Array(12);

  private constructor(s: Symbols, h: number, info: Int32Array, library: ShimLocation) {
    this.#s = s;
    this.#h = h;
    this.localAddressU32 = info[0] >>> 0;
    this.localAddress = formatIpv4(this.localAddressU32);
    this.localPort = info[1];
    this.receiveBufferBytes = info[2];
    this.sendBufferBytes = info[3];
    this.gro = info[5] === 1;
    this.buffersForced = info[6] === 1 && info[7] === 1;
    this.library = library;
  }

  /**
   * Binds a nonblocking IPv4 UDP socket. Throws UdpError: `invalid-argument` (address, port or
   * buffer size; before any system call), `address-in-use`, `address-not-available`,
   * `permission`, `unavailable` (no library), `io`.
   */
  static async open(options: UdpSocketOptions = {}): Promise<UdpSocket> {
    const addr = parseIpv4(options.address ?? "0.0.0.0");
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UdpError("invalid-argument", `local port ${port} not in 0..65535`);
    }
    const buf = options.bufferBytes ?? DEFAULT_UDP_BUFFER_BYTES;
    if (!Number.isInteger(buf) || buf < 0 || buf > 0x3fff_ffff) {
      throw new UdpError("invalid-argument", `bufferBytes ${buf} not in 0..2^30`);
    }
    const { symbols, location } = await loadUdpLibrary({
      library: options.library,
      cacheDir: options.cacheDir,
    });
    const flags = (options.gso !== false ? FLAG_GSO : 0) | (options.gro !== false ? FLAG_GRO : 0);
    const info = new Int32Array(8);
    const h = symbols.vn_udp_open(addr, port, buf, flags, info);
    if (h < 0) {
      throw udpErrnoError(`binding UDP ${formatIpv4(addr)}:${port}`, h);
    }
    return new UdpSocket(symbols, h, info, location);
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** Whether sends use UDP_SEGMENT now (false if unsupported, disabled, or turned off after
   * an EIO). */
  get gso(): boolean {
    return this.stats().gso;
  }

  /** `localAddress:localPort`. */
  get localEndpoint(): string {
    return `${this.localAddress}:${this.localPort}`;
  }

  /**
   * Sends slots `start .. start+count` of `batch` in one sendmmsg (GSO runs merged).
   * Synchronous, never blocks. Returns how many datagrams were taken from `start` on: sent, or
   * dropped for a per-destination error (see `stats().sendDropped`); fewer than `count` only
   * when the socket buffer is full (EAGAIN/ENOBUFS); then resend the rest later. Throws
   * UdpError `invalid-argument` (bad range) or `closed`, and `io` only for a broken socket.
   */
  sendBatch(batch: DatagramBatch, options: SendOptions = {}): number {
    this.#assertOpen();
    const start = options.start ?? 0;
    const count = options.count ?? batch.count - start;
    if (
      !Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 ||
      start + count > batch.capacity
    ) {
      throw new UdpError("invalid-argument", `slots ${start}+${count} outside the batch`);
    }
    if (count === 0) return 0;
    const whole = start === 0;
    const rc = this.#s.vn_udp_send_batch(
      this.#h,
      whole ? batch.buffer : batch.buffer.subarray(start * batch.slotSize),
      batch.slotSize,
      whole ? batch.lengths : batch.lengths.subarray(start),
      whole ? batch.addresses : batch.addresses.subarray(start),
      whole ? batch.ports : batch.ports.subarray(start),
      count,
    );
    if (rc < 0) throw udpErrnoError(`sending on UDP ${this.localEndpoint}`, rc);
    return rc;
  }

  /**
   * Receives up to `batch.capacity` datagrams into `batch` from slot 0 (sets `batch.count`,
   * lengths, source addresses and ports). Takes whatever is queued without waiting; only if
   * nothing is, waits in one nonblocking FFI call up to `timeoutMs`. Resolves to the count:
   * 0 on timeout or after {@link wake}. Rejects with UdpError `closed` if the socket is (or
   * gets, while waiting) closed, `busy` if another receive is pending, `invalid-argument` for
   * a bad timeout. The batch is lent to the library until the promise settles: do not touch it
   * meanwhile. With GRO on, slots need only fit the largest single datagram expected (e.g. 2048
   * for 1,400-byte frames): coalesced reads land in the socket's own 8 × 64 KiB scratch and
   * are split from there; a datagram longer than the slot is dropped (`stats().recvDropped`).
   */
  async recvBatch(batch: DatagramBatch, options: RecvOptions = {}): Promise<number> {
    this.#assertOpen();
    if (this.#pending) {
      throw new UdpError("busy", `a receive is already pending on UDP ${this.localEndpoint}`);
    }
    const timeout = options.timeoutMs ?? 1000;
    if (!Number.isInteger(timeout) || timeout < -1 || timeout > 0x7fff_ffff) {
      throw new UdpError("invalid-argument", `timeoutMs ${timeout} is not -1 or a count of ms`);
    }
    if (batch.capacity > MAX_BATCH_CAPACITY) {
      throw new UdpError("invalid-argument", `batch capacity above ${MAX_BATCH_CAPACITY}`);
    }
    batch.count = 0;
    const s = this.#s;
    const eager = options.eager !== false && this.#eagerStreak < EAGER_STREAK;
    let n = !eager ? 0 : s.vn_udp_recv_now(
      this.#h,
      0,
      batch.buffer,
      batch.slotSize,
      batch.capacity,
      batch.lengths,
      batch.addresses,
      batch.ports,
    );
    this.#eagerStreak = n > 0 ? this.#eagerStreak + 1 : 0;
    if (n === 0 && (timeout !== 0 || !eager)) {
      const p = s.vn_udp_recv_wait(
        this.#h,
        timeout,
        batch.buffer,
        batch.slotSize,
        batch.capacity,
        batch.lengths,
        batch.addresses,
        batch.ports,
      );
      this.#pending = p;
      try {
        n = await p;
      } finally {
        this.#pending = null;
      }
    }
    if (this.#closing) throw new UdpError("closed", `UDP ${this.localEndpoint} was closed`);
    if (n < 0) throw udpErrnoError(`receiving on UDP ${this.localEndpoint}`, n);
    batch.count = n;
    return n;
  }

  /** Ends a pending {@link recvBatch} wait (it resolves with what is queued, usually 0). With
   * no wait pending, the next wait returns at once (a wake is never lost). */
  wake(): void {
    if (this.#closing) return;
    this.#s.vn_udp_wake(this.#h);
  }

  /** The socket's counters. */
  stats(): UdpStats {
    this.#assertOpen();
    const st = this.#stats;
    this.#s.vn_udp_stats(this.#h, st);
    return {
      sent: st[0],
      sendMessages: st[1],
      gsoMessages: st[2],
      sendDropped: st[3],
      sendFull: st[4],
      received: st[5],
      recvMessages: st[6],
      groMessages: st[7],
      recvDropped: st[8],
      lastSendErrno: st[9],
      gso: st[10] === 1,
      gsoOffErrno: st[11],
    };
  }

  /**
   * Test hook: after `afterMessages` more sendmmsg messages, one sendmmsg fails with `errno`
   * (one shot). 11 = EAGAIN acts as a full socket buffer, which loopback never produces (it
   * frees the sender's buffer at once); 5 = EIO as a device without GSO support answers. A
   * negative `afterMessages` turns it off. Not for production use.
   */
  debugFailSends(afterMessages: number, errno = 11): void {
    this.#assertOpen();
    this.#s.vn_udp_debug_fail_send(this.#h, afterMessages, errno);
  }

  /**
   * Closes the socket. A pending {@link recvBatch} is woken and rejects with UdpError `closed`;
   * this resolves once it has returned and the descriptors are closed. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#s.vn_udp_wake(this.#h);
    const pending = this.#pending;
    if (pending) await pending.catch(() => 0);
    this.#s.vn_udp_close(this.#h);
  }

  #assertOpen(): void {
    if (this.#closing) throw new UdpError("closed", `UDP ${this.localEndpoint} is closed`);
  }
}
