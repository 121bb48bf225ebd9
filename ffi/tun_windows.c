/*
 * Windows implementation of libtun.h on top of wintun.dll (https://www.wintun.net), loaded
 * at run time from the path given to vn_tun_init (next to the executable by default).
 * Packets are plain IP packets (no header), like Linux IFF_NO_PI. Offloads do not exist
 * here: vn_tun_offload returns -EOPNOTSUPP and the binding never asks for it.
 * Addresses, routes and MTU go through the IP Helper API (iphlpapi), by interface alias.
 * Errors are translated to the Linux errno numbers of libtun.h.
 */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>
#include <ws2ipdef.h>
#include <iphlpapi.h>
#include <netioapi.h>
#include <string.h>

#include "libtun.h"

typedef struct _WINTUN_ADAPTER *WINTUN_ADAPTER_HANDLE;
typedef struct _TUN_SESSION *WINTUN_SESSION_HANDLE;

/* Signatures from wintun.h (declared here so building needs no Wintun SDK). */
typedef WINTUN_ADAPTER_HANDLE(WINAPI *CreateAdapterFn)(LPCWSTR, LPCWSTR, const GUID *);
typedef WINTUN_ADAPTER_HANDLE(WINAPI *OpenAdapterFn)(LPCWSTR);
typedef void(WINAPI *CloseAdapterFn)(WINTUN_ADAPTER_HANDLE);
typedef WINTUN_SESSION_HANDLE(WINAPI *StartSessionFn)(WINTUN_ADAPTER_HANDLE, DWORD);
typedef void(WINAPI *EndSessionFn)(WINTUN_SESSION_HANDLE);
typedef HANDLE(WINAPI *GetReadWaitEventFn)(WINTUN_SESSION_HANDLE);
typedef BYTE *(WINAPI *ReceivePacketFn)(WINTUN_SESSION_HANDLE, DWORD *);
typedef void(WINAPI *ReleaseReceivePacketFn)(WINTUN_SESSION_HANDLE, const BYTE *);
typedef BYTE *(WINAPI *AllocateSendPacketFn)(WINTUN_SESSION_HANDLE, DWORD);
typedef void(WINAPI *SendPacketFn)(WINTUN_SESSION_HANDLE, const BYTE *);

static struct {
  HMODULE dll;
  CreateAdapterFn CreateAdapter;
  OpenAdapterFn OpenAdapter;
  CloseAdapterFn CloseAdapter;
  StartSessionFn StartSession;
  EndSessionFn EndSession;
  GetReadWaitEventFn GetReadWaitEvent;
  ReceivePacketFn ReceivePacket;
  ReleaseReceivePacketFn ReleaseReceivePacket;
  AllocateSendPacketFn AllocateSendPacket;
  SendPacketFn SendPacket;
} wt;

#define MAX_DEVICES 64
#define RING_CAPACITY 0x400000 /* 4 MiB, as the Wintun examples use */

struct device {
  int used;
  WINTUN_ADAPTER_HANDLE adapter;
  WINTUN_SESSION_HANDLE session;
  HANDLE read_event; /* owned by the session */
  HANDLE wake_event;
};

static struct device devices[MAX_DEVICES];
static CRITICAL_SECTION table_lock;
static INIT_ONCE table_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK init_lock(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  InitializeCriticalSection(&table_lock);
  return TRUE;
}

static int32_t win_err(DWORD e) {
  switch (e) {
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
      return -VN_EACCES;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_MOD_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return -VN_ENOENT;
    case ERROR_ALREADY_EXISTS:
    case ERROR_OBJECT_ALREADY_EXISTS:
      return -VN_EEXIST;
    case ERROR_BUSY:
    case ERROR_SHARING_VIOLATION:
      return -VN_EBUSY;
    case ERROR_NOT_FOUND:
      return -VN_ESRCH;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_NAME:
      return -VN_EINVAL;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return -VN_ENOMEM;
    case ERROR_NOT_SUPPORTED:
      return -VN_EOPNOTSUPP;
    default:
      return -VN_EIO;
  }
}

static struct device *lookup(int32_t handle) {
  if (handle < 0 || handle >= MAX_DEVICES || !devices[handle].used) return NULL;
  return &devices[handle];
}

static int to_wide(const char *s, WCHAR *out, int cap) {
  return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, cap) > 0 ? 0 : -VN_EINVAL;
}

VN_EXPORT int32_t vn_tun_abi_version(void) { return VN_TUN_ABI; }

VN_EXPORT int32_t vn_tun_init(const char *driver_path) {
  InitOnceExecuteOnce(&table_once, init_lock, NULL, NULL);
  if (wt.dll) return 0;
  WCHAR path[MAX_PATH];
  HMODULE dll;
  if (driver_path && driver_path[0]) {
    if (to_wide(driver_path, path, MAX_PATH) < 0) return -VN_EINVAL;
    dll = LoadLibraryExW(path, NULL, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
  } else {
    /* Only the application directory and System32: never the current directory. */
    dll = LoadLibraryExW(L"wintun.dll", NULL,
                         LOAD_LIBRARY_SEARCH_APPLICATION_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
  }
  if (!dll) return -VN_ENOENT;
#define LOAD(field, sym)                                   \
  if (!(wt.field = (void *)GetProcAddress(dll, sym))) { \
    FreeLibrary(dll);                                      \
    return -VN_ENOENT;                                     \
  }
  LOAD(CreateAdapter, "WintunCreateAdapter");
  LOAD(OpenAdapter, "WintunOpenAdapter");
  LOAD(CloseAdapter, "WintunCloseAdapter");
  LOAD(StartSession, "WintunStartSession");
  LOAD(EndSession, "WintunEndSession");
  LOAD(GetReadWaitEvent, "WintunGetReadWaitEvent");
  LOAD(ReceivePacket, "WintunReceivePacket");
  LOAD(ReleaseReceivePacket, "WintunReleaseReceivePacket");
  LOAD(AllocateSendPacket, "WintunAllocateSendPacket");
  LOAD(SendPacket, "WintunSendPacket");
#undef LOAD
  wt.dll = dll;
  return 0;
}

VN_EXPORT int32_t vn_tun_open(const char *name, int32_t flags, char *name_out) {
  if (!wt.dll) return -VN_ENOENT;
  if (flags & VN_OPEN_VNET_HDR) return -VN_EOPNOTSUPP;
  WCHAR wname[128];
  if (to_wide(name, wname, 128) < 0) return -VN_EINVAL;
  WINTUN_ADAPTER_HANDLE adapter = wt.OpenAdapter(wname);
  if (!adapter) adapter = wt.CreateAdapter(wname, L"VeilNet", NULL);
  if (!adapter) return win_err(GetLastError());
  WINTUN_SESSION_HANDLE session = wt.StartSession(adapter, RING_CAPACITY);
  if (!session) {
    DWORD e = GetLastError();
    wt.CloseAdapter(adapter);
    /* Another process holds the adapter's only session: the name is taken. */
    return e == ERROR_ALREADY_EXISTS ? -VN_EBUSY : win_err(e);
  }
  HANDLE wake = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!wake) {
    wt.EndSession(session);
    wt.CloseAdapter(adapter);
    return -VN_ENOMEM;
  }
  EnterCriticalSection(&table_lock);
  int handle = -1;
  for (int i = 0; i < MAX_DEVICES; i++) {
    if (!devices[i].used) {
      handle = i;
      devices[i].used = 1;
      devices[i].adapter = adapter;
      devices[i].session = session;
      devices[i].read_event = wt.GetReadWaitEvent(session);
      devices[i].wake_event = wake;
      break;
    }
  }
  LeaveCriticalSection(&table_lock);
  if (handle < 0) {
    CloseHandle(wake);
    wt.EndSession(session);
    wt.CloseAdapter(adapter);
    return -VN_EMFILE;
  }
  size_t n = strlen(name);
  if (n > 63) n = 63;
  memcpy(name_out, name, n);
  name_out[n] = 0;
  return handle;
}

VN_EXPORT int32_t vn_tun_offload(int32_t handle, int32_t flags) {
  (void)handle;
  (void)flags;
  return -VN_EOPNOTSUPP;
}

VN_EXPORT int32_t vn_tun_read_batch(int32_t handle, int32_t timeout_ms, uint8_t *buf,
                                    const int32_t *offsets, int32_t capacity, int32_t max,
                                    int32_t *lens, uint8_t *hdrs) {
  (void)hdrs;
  struct device *d = lookup(handle);
  if (!d) return -VN_EBADF;
  if (max <= 0 || capacity <= 0) return -VN_EINVAL;
  int32_t n = 0;
  for (;;) {
    if (WaitForSingleObject(d->wake_event, 0) == WAIT_OBJECT_0) return -VN_ECANCELED;
    while (n < max) {
      DWORD size;
      BYTE *p = wt.ReceivePacket(d->session, &size);
      if (!p) {
        DWORD e = GetLastError();
        if (e == ERROR_NO_MORE_ITEMS) break;
        return n > 0 ? n : (e == ERROR_HANDLE_EOF ? -VN_EIO : win_err(e));
      }
      DWORD len = size > (DWORD)capacity ? (DWORD)capacity : size;
      memcpy(buf + offsets[n], p, len);
      wt.ReleaseReceivePacket(d->session, p);
      lens[n++] = (int32_t)len;
    }
    if (n > 0 || timeout_ms == 0) return n;
    HANDLE events[2] = {d->read_event, d->wake_event};
    DWORD rc = WaitForMultipleObjects(2, events, FALSE,
                                      timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
    if (rc == WAIT_OBJECT_0 + 1) return -VN_ECANCELED;
    if (rc == WAIT_TIMEOUT) return 0;
    if (rc != WAIT_OBJECT_0) return -VN_EIO;
  }
}

VN_EXPORT int32_t vn_tun_write_batch(int32_t handle, const uint8_t *buf, const int32_t *offsets,
                                     const int32_t *lens, const uint8_t *hdrs, int32_t count) {
  (void)hdrs;
  struct device *d = lookup(handle);
  if (!d) return -VN_EBADF;
  int32_t sent = 0;
  for (int32_t i = 0; i < count; i++) {
    BYTE *p = wt.AllocateSendPacket(d->session, (DWORD)lens[i]);
    if (!p) {
      DWORD e = GetLastError();
      /* Ring full or oversized packet: drop this one, like a NIC would. */
      if (e == ERROR_BUFFER_OVERFLOW || e == ERROR_INVALID_PARAMETER) continue;
      return sent > 0 ? sent : (e == ERROR_HANDLE_EOF ? -VN_EIO : win_err(e));
    }
    memcpy(p, buf + offsets[i], (size_t)lens[i]);
    wt.SendPacket(d->session, p);
    sent++;
  }
  return sent;
}

VN_EXPORT int32_t vn_tun_wake(int32_t handle) {
  struct device *d = lookup(handle);
  if (!d) return -VN_EBADF;
  return SetEvent(d->wake_event) ? 0 : -VN_EIO;
}

VN_EXPORT int32_t vn_tun_close(int32_t handle) {
  EnterCriticalSection(&table_lock);
  struct device *d = lookup(handle);
  if (!d) {
    LeaveCriticalSection(&table_lock);
    return -VN_EBADF;
  }
  wt.EndSession(d->session);
  wt.CloseAdapter(d->adapter);
  CloseHandle(d->wake_event);
  memset(d, 0, sizeof *d);
  LeaveCriticalSection(&table_lock);
  return 0;
}

/* ---- configuration through the IP Helper API ---- */

static int32_t luid_of(const char *name, NET_LUID *luid) {
  WCHAR wname[128];
  if (to_wide(name, wname, 128) < 0) return -VN_EINVAL;
  DWORD e = ConvertInterfaceAliasToLuid(wname, luid);
  return e == NO_ERROR ? 0 : -VN_ENODEV;
}

static int32_t set_mtu_family(const NET_LUID *luid, ADDRESS_FAMILY af, int32_t mtu) {
  MIB_IPINTERFACE_ROW row;
  InitializeIpInterfaceEntry(&row);
  row.Family = af;
  row.InterfaceLuid = *luid;
  DWORD e = GetIpInterfaceEntry(&row);
  if (e != NO_ERROR) return win_err(e);
  row.NlMtu = (ULONG)mtu;
  row.SitePrefixLength = 0; /* must be 0 for SetIpInterfaceEntry on IPv4 */
  e = SetIpInterfaceEntry(&row);
  return e == NO_ERROR ? 0 : win_err(e);
}

VN_EXPORT int32_t vn_tun_set_mtu(const char *name, int32_t mtu) {
  NET_LUID luid;
  int32_t rc = luid_of(name, &luid);
  if (rc < 0) return rc;
  rc = set_mtu_family(&luid, AF_INET, mtu);
  if (rc < 0) return rc;
  /* IPv6 may be disabled on the adapter; its MTU then does not matter. */
  rc = set_mtu_family(&luid, AF_INET6, mtu < 1280 ? 1280 : mtu);
  return rc == -VN_ESRCH ? 0 : rc;
}

VN_EXPORT int32_t vn_tun_get_mtu(const char *name) {
  NET_LUID luid;
  int32_t rc = luid_of(name, &luid);
  if (rc < 0) return rc;
  MIB_IPINTERFACE_ROW row;
  InitializeIpInterfaceEntry(&row);
  row.Family = AF_INET;
  row.InterfaceLuid = luid;
  DWORD e = GetIpInterfaceEntry(&row);
  return e == NO_ERROR ? (int32_t)row.NlMtu : win_err(e);
}

VN_EXPORT int32_t vn_tun_set_up(const char *name, int32_t up) {
  NET_LUID luid;
  int32_t rc = luid_of(name, &luid);
  if (rc < 0) return rc;
  /* A Wintun adapter is up exactly while a session is open. */
  return up ? 0 : -VN_EOPNOTSUPP;
}

static void fill_sockaddr(SOCKADDR_INET *sa, int32_t family, const uint8_t *addr) {
  memset(sa, 0, sizeof *sa);
  if (family == VN_FAMILY_IPV4) {
    sa->Ipv4.sin_family = AF_INET;
    memcpy(&sa->Ipv4.sin_addr, addr, 4);
  } else {
    sa->Ipv6.sin6_family = AF_INET6;
    memcpy(&sa->Ipv6.sin6_addr, addr, 16);
  }
}

VN_EXPORT int32_t vn_tun_addr(const char *name, int32_t family, const uint8_t *addr,
                              int32_t prefix, int32_t op) {
  if (family != VN_FAMILY_IPV4 && family != VN_FAMILY_IPV6) return -VN_EINVAL;
  if (prefix < 0 || prefix > (family == VN_FAMILY_IPV4 ? 32 : 128)) return -VN_EINVAL;
  NET_LUID luid;
  int32_t rc = luid_of(name, &luid);
  if (rc < 0) return rc;
  MIB_UNICASTIPADDRESS_ROW row;
  InitializeUnicastIpAddressEntry(&row);
  row.InterfaceLuid = luid;
  fill_sockaddr(&row.Address, family, addr);
  row.OnLinkPrefixLength = (UINT8)prefix;
  row.DadState = IpDadStatePreferred;
  DWORD e = op == VN_OP_ADD ? CreateUnicastIpAddressEntry(&row) : DeleteUnicastIpAddressEntry(&row);
  if (op == VN_OP_ADD && e == ERROR_OBJECT_ALREADY_EXISTS) return 0;
  if (op == VN_OP_DEL && e == ERROR_NOT_FOUND) return -VN_EADDRNOTAVAIL;
  return e == NO_ERROR ? 0 : win_err(e);
}

VN_EXPORT int32_t vn_tun_set_ipv4(const char *name, const uint8_t *addr4, int32_t prefix) {
  NET_LUID luid;
  int32_t rc = luid_of(name, &luid);
  if (rc < 0) return rc;
  /* Replace semantics as on Linux: drop the interface's other IPv4 addresses first. */
  PMIB_UNICASTIPADDRESS_TABLE table = NULL;
  if (GetUnicastIpAddressTable(AF_INET, &table) == NO_ERROR) {
    for (ULONG i = 0; i < table->NumEntries; i++) {
      if (table->Table[i].InterfaceLuid.Value == luid.Value &&
          memcmp(&table->Table[i].Address.Ipv4.sin_addr, addr4, 4) != 0) {
        DeleteUnicastIpAddressEntry(&table->Table[i]);
      }
    }
    FreeMibTable(table);
  }
  return vn_tun_addr(name, VN_FAMILY_IPV4, addr4, prefix, VN_OP_ADD);
}

VN_EXPORT int32_t vn_tun_route(const char *name, int32_t family, const uint8_t *dst,
                               int32_t prefix, int32_t op) {
  if (family != VN_FAMILY_IPV4 && family != VN_FAMILY_IPV6) return -VN_EINVAL;
  if (prefix < 0 || prefix > (family == VN_FAMILY_IPV4 ? 32 : 128)) return -VN_EINVAL;
  NET_LUID luid;
  int32_t rc = luid_of(name, &luid);
  if (rc < 0) return rc;
  MIB_IPFORWARD_ROW2 row;
  InitializeIpForwardEntry(&row);
  row.InterfaceLuid = luid;
  fill_sockaddr(&row.DestinationPrefix.Prefix, family, dst);
  row.DestinationPrefix.PrefixLength = (UINT8)prefix;
  /* On-link: the next hop is the unspecified address of the same family. */
  memset(&row.NextHop, 0, sizeof row.NextHop);
  row.NextHop.si_family = family == VN_FAMILY_IPV4 ? AF_INET : AF_INET6;
  row.Protocol = MIB_IPPROTO_NETMGMT;
  row.Metric = 0;
  DWORD e = op == VN_OP_ADD ? CreateIpForwardEntry2(&row) : DeleteIpForwardEntry2(&row);
  if (op == VN_OP_ADD && e == ERROR_OBJECT_ALREADY_EXISTS) return 0;
  return e == NO_ERROR ? 0 : win_err(e);
}
