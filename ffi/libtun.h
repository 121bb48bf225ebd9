/*
 * VeilNet Conflux TUN shim: the C API shared by the Linux, macOS and Windows
 * implementations (tun_linux.c, tun_darwin.c, tun_windows.c) and bound by ffi/tun.ts.
 *
 * Conventions, the same on every OS so that the binding is one file:
 * - Every function returns int32: >= 0 on success, a negated POSIX errno on failure
 *   (Windows maps its error codes onto the same errno values). No 64-bit results,
 *   so the Deno side never handles BigInt.
 * - Devices are small integer handles into a table kept here, not raw descriptors,
 *   because a device is more than one descriptor (data fd plus a wake object).
 * - Packet batches are a caller-owned byte buffer plus int32 arrays of per-packet
 *   offsets and lengths, and (offload only) 10 bytes of virtio_net_hdr per packet
 *   in a separate buffer. Nothing here allocates per packet.
 * - Interface configuration takes the interface name, not the handle, so it also
 *   works on a device another process opened.
 */
#ifndef VEILNET_LIBTUN_H
#define VEILNET_LIBTUN_H

#include <stdint.h>

#if defined(_WIN32)
#define VN_EXPORT __declspec(dllexport)
#else
#define VN_EXPORT __attribute__((visibility("default")))
#endif

/* Bumped whenever a signature changes; tun.ts refuses a library with another value. */
#define VN_TUN_ABI 1

/* vn_tun_open flags */
#define VN_OPEN_VNET_HDR 1    /* Linux: IFF_VNET_HDR (needed for offloads) */
#define VN_OPEN_MULTI_QUEUE 2 /* Linux: IFF_MULTI_QUEUE */

/* vn_tun_offload flags (the Linux TUN_F_* values) */
#define VN_OFFLOAD_CSUM 0x01
#define VN_OFFLOAD_TSO4 0x02
#define VN_OFFLOAD_TSO6 0x04
#define VN_OFFLOAD_USO4 0x20
#define VN_OFFLOAD_USO6 0x40

/* Size of the virtio_net_hdr that precedes each packet when VN_OPEN_VNET_HDR is set. */
#define VN_VNET_HDR_LEN 10

/* vn_tun_addr / vn_tun_route operations */
#define VN_OP_ADD 1
#define VN_OP_DEL 0

/* Address families as the binding passes them (independent of the OS's AF_* values). */
#define VN_FAMILY_IPV4 4
#define VN_FAMILY_IPV6 6

/* Error numbers the shim returns (negated), in Linux numbering on every OS: the macOS and
 * Windows implementations translate their own codes to these. */
#define VN_EPERM 1
#define VN_ENOENT 2
#define VN_ESRCH 3
#define VN_EIO 5
#define VN_ENXIO 6
#define VN_EBADF 9
#define VN_EAGAIN 11
#define VN_ENOMEM 12
#define VN_EACCES 13
#define VN_EBUSY 16
#define VN_EEXIST 17
#define VN_ENODEV 19
#define VN_EINVAL 22
#define VN_EMFILE 24
#define VN_EOPNOTSUPP 95
#define VN_EADDRINUSE 98
#define VN_EADDRNOTAVAIL 99
#define VN_ENETDOWN 100
#define VN_ENETUNREACH 101
#define VN_ENOBUFS 105
#define VN_ECANCELED 125

VN_EXPORT int32_t vn_tun_abi_version(void);

/* Windows: loads wintun.dll from `driver_path` (NUL-terminated UTF-8, may be empty
 * for the default search). Elsewhere a no-op returning 0. */
VN_EXPORT int32_t vn_tun_init(const char *driver_path);

/* Opens (creating if needed) the TUN interface `name`. The kernel's final name is
 * written NUL-terminated to `name_out` (64 bytes). Returns a handle. */
VN_EXPORT int32_t vn_tun_open(const char *name, int32_t flags, char *name_out);

/* Enables offloads (VN_OFFLOAD_*); returns the flags actually applied (the library
 * drops USO when the kernel refuses it). Only for handles opened with VN_OPEN_VNET_HDR. */
VN_EXPORT int32_t vn_tun_offload(int32_t handle, int32_t flags);

/* Reads up to `max` packets: packet i goes to buf + offsets[i] (at most `capacity`
 * bytes), its length to lens[i], its virtio_net_hdr to hdrs + 10*i (vnet handles
 * only; hdrs may be NULL otherwise). Reads without waiting while packets are queued;
 * when none are, waits up to `timeout_ms` (-1 = forever, 0 = never) for the device
 * or the wake object. Returns the count (0 on timeout) or -ECANCELED once woken. */
VN_EXPORT int32_t vn_tun_read_batch(int32_t handle, int32_t timeout_ms, uint8_t *buf,
                                    const int32_t *offsets, int32_t capacity, int32_t max,
                                    int32_t *lens, uint8_t *hdrs);

/* Writes `count` packets (buf + offsets[i], lens[i] bytes, hdrs + 10*i or a zero
 * header when hdrs is NULL on a vnet handle). Packets the kernel rejects (malformed,
 * queue full, link down) are skipped. Returns how many were accepted, or -errno if the device itself failed
 * before any was. Never blocks. */
VN_EXPORT int32_t vn_tun_write_batch(int32_t handle, const uint8_t *buf, const int32_t *offsets,
                                     const int32_t *lens, const uint8_t *hdrs, int32_t count);

/* Wakes a pending vn_tun_read_batch on `handle` and makes every later one return
 * -ECANCELED at once. Thread-safe; meant to be called while a read is blocked. */
VN_EXPORT int32_t vn_tun_wake(int32_t handle);

/* Releases the handle (closes the device descriptor and the wake object). The caller
 * guarantees that no read on it is still running. */
VN_EXPORT int32_t vn_tun_close(int32_t handle);

VN_EXPORT int32_t vn_tun_set_mtu(const char *name, int32_t mtu);
VN_EXPORT int32_t vn_tun_get_mtu(const char *name);
VN_EXPORT int32_t vn_tun_set_up(const char *name, int32_t up);

/* Sets the primary IPv4 address and netmask (replacing the previous primary). */
VN_EXPORT int32_t vn_tun_set_ipv4(const char *name, const uint8_t *addr4, int32_t prefix);

/* Adds or removes an address of either family (addr is 4 or 16 bytes). */
VN_EXPORT int32_t vn_tun_addr(const char *name, int32_t family, const uint8_t *addr,
                              int32_t prefix, int32_t op);

/* Adds (replacing an existing one) or removes a route to dst/prefix through the interface. */
VN_EXPORT int32_t vn_tun_route(const char *name, int32_t family, const uint8_t *dst,
                               int32_t prefix, int32_t op);

#endif
