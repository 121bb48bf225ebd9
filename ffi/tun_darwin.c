/*
 * macOS implementation of libtun.h: utun through a PF_SYSTEM/SYSPROTO_CONTROL socket.
 * Every utun packet carries a 4-byte address-family prefix, which this file strips on read
 * and adds on write, so the binding sees plain IP packets as on Linux. A pipe replaces
 * Linux's eventfd to wake a blocked read. Addresses use SIOCAIFADDR(_IN6), routes a
 * PF_ROUTE socket. No offloads. Errors are translated to the Linux errno numbers.
 *
 * Names: "utun" picks the next free unit; "utunN" asks for unit N. The kernel's name is
 * returned through name_out.
 *
 * Not compiled in CI (no macOS toolchain there): keep it small and reviewed.
 */
#include "libtun.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/if_utun.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet6/in6_var.h>
#include <netinet6/nd6.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/kern_control.h>
#include <sys/socket.h>
#include <sys/sys_domain.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_DEVICES 64

struct device {
  int used;
  int fd;
  int wake_r;
  int wake_w;
};

static struct device devices[MAX_DEVICES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* Darwin errno -> Linux numbering (the classic values below 35 are the same). */
static int32_t neg(int e) {
  switch (e) {
    case EAGAIN: return -VN_EAGAIN;
    case EADDRINUSE: return -VN_EADDRINUSE;
    case EADDRNOTAVAIL: return -VN_EADDRNOTAVAIL;
    case ENETDOWN: return -VN_ENETDOWN;
    case ENETUNREACH: return -VN_ENETUNREACH;
    case EOPNOTSUPP: return -VN_EOPNOTSUPP;
    case ENOBUFS: return -VN_ENOBUFS;
    case ECANCELED: return -VN_ECANCELED;
    default: return e > 0 && e < 35 ? -e : -VN_EIO;
  }
}

static struct device *lookup(int32_t handle) {
  if (handle < 0 || handle >= MAX_DEVICES || !devices[handle].used) return 0;
  return &devices[handle];
}

VN_EXPORT int32_t vn_tun_abi_version(void) { return VN_TUN_ABI; }

VN_EXPORT int32_t vn_tun_init(const char *driver_path) {
  (void)driver_path;
  return 0;
}

static void set_flags(int fd, int nonblock) {
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

VN_EXPORT int32_t vn_tun_open(const char *name, int32_t flags, char *name_out) {
  if (flags & VN_OPEN_VNET_HDR) return -VN_EOPNOTSUPP;
  if (strncmp(name, "utun", 4) != 0) return -VN_EINVAL;
  unsigned unit = 0; /* 0 = the kernel picks */
  if (name[4]) {
    char *end;
    unsigned long n = strtoul(name + 4, &end, 10);
    if (*end || n > 65534) return -VN_EINVAL;
    unit = (unsigned)n + 1;
  }
  int fd = socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL);
  if (fd < 0) return neg(errno);
  struct ctl_info info;
  memset(&info, 0, sizeof info);
  strlcpy(info.ctl_name, UTUN_CONTROL_NAME, sizeof info.ctl_name);
  if (ioctl(fd, CTLIOCGINFO, &info) < 0) {
    close(fd);
    return -VN_ENODEV;
  }
  struct sockaddr_ctl sc;
  memset(&sc, 0, sizeof sc);
  sc.sc_len = sizeof sc;
  sc.sc_family = AF_SYSTEM;
  sc.ss_sysaddr = AF_SYS_CONTROL;
  sc.sc_id = info.ctl_id;
  sc.sc_unit = unit;
  if (connect(fd, (struct sockaddr *)&sc, sizeof sc) < 0) {
    int e = errno;
    close(fd);
    return e == EBUSY ? -VN_EBUSY : neg(e);
  }
  char ifname[IFNAMSIZ];
  socklen_t len = sizeof ifname;
  if (getsockopt(fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, ifname, &len) < 0) {
    int e = errno;
    close(fd);
    return neg(e);
  }
  int pipefd[2];
  if (pipe(pipefd) < 0) {
    int e = errno;
    close(fd);
    return neg(e);
  }
  set_flags(fd, 1);
  set_flags(pipefd[0], 1);
  set_flags(pipefd[1], 1);
  pthread_mutex_lock(&table_lock);
  int handle = -1;
  for (int i = 0; i < MAX_DEVICES; i++) {
    if (!devices[i].used) {
      handle = i;
      devices[i] = (struct device){1, fd, pipefd[0], pipefd[1]};
      break;
    }
  }
  pthread_mutex_unlock(&table_lock);
  if (handle < 0) {
    close(fd);
    close(pipefd[0]);
    close(pipefd[1]);
    return -VN_EMFILE;
  }
  strlcpy(name_out, ifname, 64);
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
  uint32_t family;
  for (;;) {
    while (n < max) {
      struct iovec iov[2] = {{&family, 4}, {buf + offsets[n], (size_t)capacity}};
      ssize_t r = readv(d->fd, iov, 2);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return n > 0 ? n : neg(errno);
      }
      if (r <= 4) continue;
      lens[n++] = (int32_t)(r - 4);
    }
    if (n > 0 || timeout_ms == 0) return n;
    struct pollfd p[2] = {{d->fd, POLLIN, 0}, {d->wake_r, POLLIN, 0}};
    int rc = poll(p, 2, timeout_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return neg(errno);
    }
    if (p[1].revents) return -VN_ECANCELED; /* the pipe is never drained */
    if (rc == 0) return 0;
    if (p[0].revents & (POLLERR | POLLNVAL)) return -VN_EIO;
  }
}

VN_EXPORT int32_t vn_tun_write_batch(int32_t handle, const uint8_t *buf, const int32_t *offsets,
                                     const int32_t *lens, const uint8_t *hdrs, int32_t count) {
  (void)hdrs;
  struct device *d = lookup(handle);
  if (!d) return -VN_EBADF;
  int32_t sent = 0;
  for (int32_t i = 0; i < count; i++) {
    const uint8_t *p = buf + offsets[i];
    if (lens[i] < 1) continue;
    uint32_t family = htonl((p[0] >> 4) == 6 ? AF_INET6 : AF_INET);
    struct iovec iov[2] = {{&family, 4}, {(void *)p, (size_t)lens[i]}};
    ssize_t r;
    do {
      r = writev(d->fd, iov, 2);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) {
      sent++;
      continue;
    }
    if (errno == EAGAIN || errno == ENOBUFS || errno == EINVAL || errno == EMSGSIZE) continue;
    return sent > 0 ? sent : neg(errno);
  }
  return sent;
}

VN_EXPORT int32_t vn_tun_wake(int32_t handle) {
  struct device *d = lookup(handle);
  if (!d) return -VN_EBADF;
  char one = 1;
  if (write(d->wake_w, &one, 1) < 0 && errno != EAGAIN) return neg(errno);
  return 0;
}

VN_EXPORT int32_t vn_tun_close(int32_t handle) {
  pthread_mutex_lock(&table_lock);
  struct device *d = lookup(handle);
  if (!d) {
    pthread_mutex_unlock(&table_lock);
    return -VN_EBADF;
  }
  close(d->fd);
  close(d->wake_r);
  close(d->wake_w);
  memset(d, 0, sizeof *d);
  pthread_mutex_unlock(&table_lock);
  return 0;
}

static int32_t ifreq_ioctl(int af, const char *name, unsigned long req, void *arg) {
  int s = socket(af, SOCK_DGRAM, 0);
  if (s < 0) return neg(errno);
  (void)name;
  int rc = ioctl(s, req, arg);
  int e = errno;
  close(s);
  return rc < 0 ? neg(e) : 0;
}

static int32_t fill_ifreq(struct ifreq *ifr, const char *name) {
  memset(ifr, 0, sizeof *ifr);
  if (strlen(name) >= IFNAMSIZ) return -VN_EINVAL;
  strlcpy(ifr->ifr_name, name, IFNAMSIZ);
  return 0;
}

VN_EXPORT int32_t vn_tun_set_mtu(const char *name, int32_t mtu) {
  struct ifreq ifr;
  if (fill_ifreq(&ifr, name) < 0) return -VN_EINVAL;
  ifr.ifr_mtu = mtu;
  return ifreq_ioctl(AF_INET, name, SIOCSIFMTU, &ifr);
}

VN_EXPORT int32_t vn_tun_get_mtu(const char *name) {
  struct ifreq ifr;
  if (fill_ifreq(&ifr, name) < 0) return -VN_EINVAL;
  int32_t rc = ifreq_ioctl(AF_INET, name, SIOCGIFMTU, &ifr);
  return rc < 0 ? rc : ifr.ifr_mtu;
}

VN_EXPORT int32_t vn_tun_set_up(const char *name, int32_t up) {
  struct ifreq ifr;
  if (fill_ifreq(&ifr, name) < 0) return -VN_EINVAL;
  int32_t rc = ifreq_ioctl(AF_INET, name, SIOCGIFFLAGS, &ifr);
  if (rc < 0) return rc;
  if (up)
    ifr.ifr_flags |= IFF_UP;
  else
    ifr.ifr_flags &= ~IFF_UP;
  return ifreq_ioctl(AF_INET, name, SIOCSIFFLAGS, &ifr);
}

static void sin4(struct sockaddr_in *s, const void *addr) {
  memset(s, 0, sizeof *s);
  s->sin_len = sizeof *s;
  s->sin_family = AF_INET;
  memcpy(&s->sin_addr, addr, 4);
}

static void sin6(struct sockaddr_in6 *s, const void *addr) {
  memset(s, 0, sizeof *s);
  s->sin6_len = sizeof *s;
  s->sin6_family = AF_INET6;
  memcpy(&s->sin6_addr, addr, 16);
}

static void mask_bytes(uint8_t *out, int len, int32_t prefix) {
  memset(out, 0, (size_t)len);
  for (int i = 0; i < prefix; i++) out[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

VN_EXPORT int32_t vn_tun_addr(const char *name, int32_t family, const uint8_t *addr,
                              int32_t prefix, int32_t op) {
  if (strlen(name) >= IFNAMSIZ) return -VN_EINVAL;
  if (family == VN_FAMILY_IPV4) {
    if (prefix < 0 || prefix > 32) return -VN_EINVAL;
    if (op == VN_OP_DEL) {
      struct ifreq ifr;
      fill_ifreq(&ifr, name);
      sin4((struct sockaddr_in *)&ifr.ifr_addr, addr);
      return ifreq_ioctl(AF_INET, name, SIOCDIFADDR, &ifr);
    }
    struct ifaliasreq req;
    memset(&req, 0, sizeof req);
    strlcpy(req.ifra_name, name, IFNAMSIZ);
    uint8_t m[4];
    mask_bytes(m, 4, prefix);
    sin4((struct sockaddr_in *)&req.ifra_addr, addr);
    /* utun is point-to-point: the destination is required; use our own address. */
    sin4((struct sockaddr_in *)&req.ifra_broadaddr, addr);
    sin4((struct sockaddr_in *)&req.ifra_mask, m);
    return ifreq_ioctl(AF_INET, name, SIOCAIFADDR, &req);
  }
  if (family != VN_FAMILY_IPV6 || prefix < 0 || prefix > 128) return -VN_EINVAL;
  if (op == VN_OP_DEL) {
    struct in6_ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    sin6(&ifr.ifr_addr, addr);
    return ifreq_ioctl(AF_INET6, name, SIOCDIFADDR_IN6, &ifr);
  }
  struct in6_aliasreq req;
  memset(&req, 0, sizeof req);
  strlcpy(req.ifra_name, name, IFNAMSIZ);
  uint8_t m[16];
  mask_bytes(m, 16, prefix);
  sin6(&req.ifra_addr, addr);
  sin6(&req.ifra_prefixmask, m);
  req.ifra_lifetime.ia6t_vltime = ND6_INFINITE_LIFETIME;
  req.ifra_lifetime.ia6t_pltime = ND6_INFINITE_LIFETIME;
  return ifreq_ioctl(AF_INET6, name, SIOCAIFADDR_IN6, &req);
}

VN_EXPORT int32_t vn_tun_set_ipv4(const char *name, const uint8_t *addr4, int32_t prefix) {
  /* macOS has no "primary address" ioctl: add it (an existing alias is kept). */
  return vn_tun_addr(name, VN_FAMILY_IPV4, addr4, prefix, VN_OP_ADD);
}

#define ROUNDUP(a) ((a) > 0 ? (1 + (((a)-1) | (sizeof(uint32_t) - 1))) : sizeof(uint32_t))

VN_EXPORT int32_t vn_tun_route(const char *name, int32_t family, const uint8_t *dst,
                               int32_t prefix, int32_t op) {
  unsigned idx = if_nametoindex(name);
  if (idx == 0) return -VN_ENODEV;
  int v4 = family == VN_FAMILY_IPV4;
  if ((!v4 && family != VN_FAMILY_IPV6) || prefix < 0 || prefix > (v4 ? 32 : 128))
    return -VN_EINVAL;
  struct {
    struct rt_msghdr h;
    char space[512];
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.h.rtm_version = RTM_VERSION;
  msg.h.rtm_type = op == VN_OP_ADD ? RTM_ADD : RTM_DELETE;
  msg.h.rtm_flags = RTF_UP | RTF_STATIC;
  msg.h.rtm_addrs = RTA_DST | RTA_GATEWAY | RTA_NETMASK;
  msg.h.rtm_seq = 1;
  msg.h.rtm_pid = getpid();
  msg.h.rtm_index = (unsigned short)idx;
  char *cp = msg.space;
  uint8_t m[16];
  mask_bytes(m, v4 ? 4 : 16, prefix);
  if (v4) {
    sin4((struct sockaddr_in *)cp, dst);
    cp += ROUNDUP(sizeof(struct sockaddr_in));
  } else {
    sin6((struct sockaddr_in6 *)cp, dst);
    cp += ROUNDUP(sizeof(struct sockaddr_in6));
  }
  /* Gateway = the interface itself (a link-level address): an interface route. */
  struct sockaddr_dl *sdl = (struct sockaddr_dl *)cp;
  memset(sdl, 0, sizeof *sdl);
  sdl->sdl_len = sizeof *sdl;
  sdl->sdl_family = AF_LINK;
  sdl->sdl_index = (unsigned short)idx;
  cp += ROUNDUP(sizeof(struct sockaddr_dl));
  if (v4) {
    sin4((struct sockaddr_in *)cp, m);
    cp += ROUNDUP(sizeof(struct sockaddr_in));
  } else {
    sin6((struct sockaddr_in6 *)cp, m);
    cp += ROUNDUP(sizeof(struct sockaddr_in6));
  }
  msg.h.rtm_msglen = (unsigned short)(cp - (char *)&msg);
  int s = socket(PF_ROUTE, SOCK_RAW, 0);
  if (s < 0) return neg(errno);
  ssize_t w = write(s, &msg, msg.h.rtm_msglen);
  int e = errno;
  if (w < 0 && op == VN_OP_ADD && e == EEXIST) {
    /* Replace semantics as on Linux: an existing route is changed to this interface. */
    msg.h.rtm_type = RTM_CHANGE;
    w = write(s, &msg, msg.h.rtm_msglen);
    e = errno;
  }
  close(s);
  return w < 0 ? neg(e) : 0;
}
