/**
 * Typed errors of the TUN binding.
 *
 * @module
 */

/**
 * What went wrong, as a caller acts on it:
 * - `no-device`: `/dev/net/tun` (or utun / wintun) is missing: load the `tun` module.
 * - `permission`: not root and no CAP_NET_ADMIN.
 * - `busy`: the interface name is taken (another kind of device, or another process has it),
 *   or a second read was started on a device that already has one pending.
 * - `invalid-argument`: a bad name, CIDR, MTU or option, rejected before any system call.
 * - `not-found`: removing an address or route that does not exist, or an unknown interface.
 * - `exists`: adding an address or route that already exists in a conflicting form.
 * - `closed`: the device was closed.
 * - `shim`: the C shim could not be found, built or loaded.
 * - `unsupported`: the operation does not exist on this OS.
 * - `io`: anything else the kernel reported.
 */
export type TunErrorCode =
  | "no-device"
  | "permission"
  | "busy"
  | "invalid-argument"
  | "not-found"
  | "exists"
  | "closed"
  | "shim"
  | "unsupported"
  | "io";

/** An error from the TUN binding with a code to branch on and the errno when there is one. */
export class TunError extends Error {
  /** The category; see {@link TunErrorCode}. */
  readonly code: TunErrorCode;
  /** The positive errno the C shim returned, when the error came from the kernel. */
  readonly errno?: number;

  constructor(code: TunErrorCode, message: string, errno?: number) {
    super(message);
    this.name = "TunError";
    this.code = code;
    if (errno !== undefined) this.errno = errno;
  }
}

// Linux errno values; tun_darwin.c and tun_windows.c translate to these same numbers.
const ERRNO: Record<number, [string, TunErrorCode]> = {
  1: ["EPERM", "permission"],
  2: ["ENOENT", "not-found"],
  3: ["ESRCH", "not-found"],
  5: ["EIO", "io"],
  6: ["ENXIO", "no-device"],
  9: ["EBADF", "closed"],
  11: ["EAGAIN", "io"],
  12: ["ENOMEM", "io"],
  13: ["EACCES", "permission"],
  16: ["EBUSY", "busy"],
  17: ["EEXIST", "exists"],
  19: ["ENODEV", "not-found"],
  22: ["EINVAL", "invalid-argument"],
  24: ["EMFILE", "io"],
  95: ["EOPNOTSUPP", "unsupported"],
  98: ["EADDRINUSE", "busy"],
  99: ["EADDRNOTAVAIL", "not-found"],
  100: ["ENETDOWN (the link is down: call setUp(true) first)", "io"],
  101: ["ENETUNREACH", "io"],
  105: ["ENOBUFS", "io"],
  125: ["ECANCELED", "closed"],
};

/**
 * Turns a negative errno returned by the shim into a TunError whose message says what
 * was attempted (`action`) and what to do about it.
 */
export function errnoError(
  action: string,
  negErrno: number,
  options: { override?: Partial<Record<number, TunErrorCode>> } = {},
): TunError {
  const errno = -negErrno;
  const [sym, tableCode] = ERRNO[errno] ?? [`errno ${errno}`, "io" as TunErrorCode];
  const code = options.override?.[errno] ?? tableCode;
  const hint: Partial<Record<TunErrorCode, string>> = {
    "permission": "run as root or grant CAP_NET_ADMIN (setcap cap_net_admin+ep)",
    "busy": "the name is in use; pick another interface name",
    "no-device": "the TUN driver is missing (Linux: modprobe tun; /dev/net/tun must exist)",
  };
  const extra = hint[code] ? `; ${hint[code]}` : "";
  return new TunError(code, `${action} failed: ${sym}${extra}`, errno);
}
