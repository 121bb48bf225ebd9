/*
 * Linux implementation of libtun.h: /dev/net/tun with IFF_TUN|IFF_NO_PI, optional
 * IFF_VNET_HDR offloads, an eventfd per device to cancel a blocked read, ioctls for
 * MTU / IPv4 / up-down and rtnetlink for IPv6 addresses and routes.
 */
#define _GNU_SOURCE
#include "libtun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#define MAX_DEVICES 256

struct device {
  int used;
  int fd;
  int wake_fd;
  int vnet;
};

static struct device devices[MAX_DEVICES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct device *lookup(int32_t handle) {
  if (handle < 0 || handle >= MAX_DEVICES || !devices[handle].used) return 0;
  return &devices[handle];
}

VN_EXPORT int32_t vn_tun_abi_version(void) { return VN_TUN_ABI; }

VN_EXPORT int32_t vn_tun_init(const char *driver_path) {
  (void)driver_path;
  return 0;
}

static int copy_name(char *dst, const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= IFNAMSIZ) return -EINVAL;
  memcpy(dst, name, n + 1);
  return 0;
}

VN_EXPORT int32_t vn_tun_open(const char *name, int32_t flags, char *name_out) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (copy_name(ifr.ifr_name, name) < 0) return -EINVAL;
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (flags & VN_OPEN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
  if (flags & VN_OPEN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -errno;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    /* An existing interface of another kind (or a TUN with other flags) gives EINVAL:
     * to the user that is "the name is taken". */
    if (err == EINVAL && if_nametoindex(name) != 0) err = EBUSY;
    return -err;
  }
  if (flags & VN_OPEN_VNET_HDR) {
    int sz = VN_VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int err = errno;
      close(fd);
      return -err;
    }
  }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  pthread_mutex_lock(&table_lock);
  int handle = -1;
  for (int i = 0; i < MAX_DEVICES; i++) {
    if (!devices[i].used) {
      handle = i;
      devices[i].used = 1;
      devices[i].fd = fd;
      devices[i].wake_fd = wake;
      devices[i].vnet = (flags & VN_OPEN_VNET_HDR) != 0;
      break;
    }
  }
  pthread_mutex_unlock(&table_lock);
  if (handle < 0) {
    close(fd);
    close(wake);
    return -EMFILE;
  }
  memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
  name_out[IFNAMSIZ - 1] = 0;
  return handle;
}

VN_EXPORT int32_t vn_tun_offload(int32_t handle, int32_t flags) {
  struct device *d = lookup(handle);
  if (!d) return -EBADF;
  if (!d->vnet) return -EINVAL;
  unsigned int f = (unsigned int)flags;
  if (ioctl(d->fd, TUNSETOFFLOAD, f) == 0) return (int32_t)f;
  /* Kernels before 6.2 know no USO: keep TSO rather than fail. */
  f &= ~(unsigned int)(TUN_F_USO4 | TUN_F_USO6);
  if (ioctl(d->fd, TUNSETOFFLOAD, f) == 0) return (int32_t)f;
  return -errno;
}

static const uint8_t zero_hdr[VN_VNET_HDR_LEN];

VN_EXPORT int32_t vn_tun_read_batch(int32_t handle, int32_t timeout_ms, uint8_t *buf,
                                    const int32_t *offsets, int32_t capacity, int32_t max,
                                    int32_t *lens, uint8_t *hdrs) {
  struct device *d = lookup(handle);
  if (!d) return -EBADF;
  if (max <= 0 || capacity <= 0) return -EINVAL;
  if (d->vnet && !hdrs) return -EINVAL;
  int32_t n = 0;
  for (;;) {
    while (n < max) {
      ssize_t r;
      if (d->vnet) {
        struct iovec iov[2] = {
            {hdrs + (size_t)VN_VNET_HDR_LEN * n, VN_VNET_HDR_LEN},
            {buf + offsets[n], (size_t)capacity},
        };
        r = readv(d->fd, iov, 2);
        if (r >= 0) r -= VN_VNET_HDR_LEN;
      } else {
        r = read(d->fd, buf + offsets[n], (size_t)capacity);
      }
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return n > 0 ? n : -errno;
      }
      lens[n++] = (int32_t)r;
    }
    if (n > 0 || timeout_ms == 0) return n;
    struct pollfd p[2] = {{d->fd, POLLIN, 0}, {d->wake_fd, POLLIN, 0}};
    int rc = poll(p, 2, timeout_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    /* The wake counter is never drained: once closing, every read returns at once. */
    if (p[1].revents) return -ECANCELED;
    if (rc == 0) return 0;
    if (p[0].revents & (POLLERR | POLLNVAL)) return -EIO;
  }
}

VN_EXPORT int32_t vn_tun_write_batch(int32_t handle, const uint8_t *buf, const int32_t *offsets,
                                     const int32_t *lens, const uint8_t *hdrs, int32_t count) {
  struct device *d = lookup(handle);
  if (!d) return -EBADF;
  int32_t sent = 0;
  for (int32_t i = 0; i < count; i++) {
    ssize_t r;
    do {
      if (d->vnet) {
        const uint8_t *h = hdrs ? hdrs + (size_t)VN_VNET_HDR_LEN * i : zero_hdr;
        struct iovec iov[2] = {
            {(void *)h, VN_VNET_HDR_LEN},
            {(void *)(buf + offsets[i]), (size_t)lens[i]},
        };
        r = writev(d->fd, iov, 2);
      } else {
        r = write(d->fd, buf + offsets[i], (size_t)lens[i]);
      }
    } while (r < 0 && errno == EINTR);
    if (r >= 0) {
      sent++;
      continue;
    }
    /* Malformed packets, a full queue and a link that is down (EIO) lose only that
     * packet, like a NIC drop. */
    if (errno == EINVAL || errno == EFAULT || errno == EAGAIN || errno == ENOBUFS ||
        errno == ENOMEM || errno == EMSGSIZE || errno == EIO)
      continue;
    return sent > 0 ? sent : -errno;
  }
  return sent;
}

VN_EXPORT int32_t vn_tun_wake(int32_t handle) {
  struct device *d = lookup(handle);
  if (!d) return -EBADF;
  uint64_t one = 1;
  if (write(d->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN) return -errno;
  return 0;
}

VN_EXPORT int32_t vn_tun_close(int32_t handle) {
  pthread_mutex_lock(&table_lock);
  struct device *d = lookup(handle);
  if (!d) {
    pthread_mutex_unlock(&table_lock);
    return -EBADF;
  }
  close(d->fd);
  close(d->wake_fd);
  memset(d, 0, sizeof *d);
  pthread_mutex_unlock(&table_lock);
  return 0;
}

/* ---- ioctl configuration ---- */

static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr) {
  if (copy_name(ifr->ifr_name, name) < 0) return -EINVAL;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int rc = ioctl(s, req, ifr);
  int err = errno;
  close(s);
  return rc < 0 ? -err : 0;
}

VN_EXPORT int32_t vn_tun_set_mtu(const char *name, int32_t mtu) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_mtu = mtu;
  return ifreq_ioctl(name, SIOCSIFMTU, &ifr);
}

VN_EXPORT int32_t vn_tun_get_mtu(const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  int rc = ifreq_ioctl(name, SIOCGIFMTU, &ifr);
  return rc < 0 ? rc : ifr.ifr_mtu;
}

VN_EXPORT int32_t vn_tun_set_up(const char *name, int32_t up) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  int rc = ifreq_ioctl(name, SIOCGIFFLAGS, &ifr);
  if (rc < 0) return rc;
  if (up)
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  else
    ifr.ifr_flags &= ~IFF_UP;
  return ifreq_ioctl(name, SIOCSIFFLAGS, &ifr);
}

static void set_sin(struct sockaddr *sa, uint32_t be_addr) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = be_addr;
  memcpy(sa, &sin, sizeof sin);
}

VN_EXPORT int32_t vn_tun_set_ipv4(const char *name, const uint8_t *addr4, int32_t prefix) {
  if (prefix < 0 || prefix > 32) return -EINVAL;
  struct ifreq ifr;
  uint32_t a;
  memcpy(&a, addr4, 4);
  memset(&ifr, 0, sizeof ifr);
  set_sin(&ifr.ifr_addr, a);
  int rc = ifreq_ioctl(name, SIOCSIFADDR, &ifr);
  if (rc < 0) return rc;
  uint32_t mask = prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
  memset(&ifr, 0, sizeof ifr);
  set_sin(&ifr.ifr_netmask, mask);
  return ifreq_ioctl(name, SIOCSIFNETMASK, &ifr);
}

/* ---- rtnetlink ---- */

/* One request: header, fixed message and attributes in one aligned buffer. */
union nl_req {
  struct nlmsghdr h;
  char raw[256];
};

static void add_attr(union nl_req *req, unsigned short type, const void *data, size_t len) {
  struct nlmsghdr *h = &req->h;
  struct rtattr *rta = (struct rtattr *)(req->raw + NLMSG_ALIGN(h->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(rta), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sends one request and returns the kernel's ACK status (0 or -errno). */
static int nl_transact(struct nlmsghdr *h) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return -errno;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  h->nlmsg_seq = 1;
  if (sendto(s, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int err = errno;
    close(s);
    return -err;
  }
  char reply[4096];
  for (;;) {
    ssize_t r = recv(s, reply, sizeof reply, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(s);
      return -err;
    }
    for (struct nlmsghdr *m = (struct nlmsghdr *)reply; NLMSG_OK(m, (unsigned)r);
         m = NLMSG_NEXT(m, r)) {
      if (m->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(m);
        close(s);
        return e->error; /* already 0 or -errno */
      }
    }
  }
}

static int family_of(int32_t family, size_t *len) {
  if (family == VN_FAMILY_IPV4) {
    *len = 4;
    return AF_INET;
  }
  if (family == VN_FAMILY_IPV6) {
    *len = 16;
    return AF_INET6;
  }
  return -1;
}

/* Checks family and prefix and finds the interface: its index (> 0), or -errno. */
static int nl_target(const char *name, int32_t family, int32_t prefix, size_t *alen, int *af) {
  *af = family_of(family, alen);
  if (*af < 0 || prefix < 0 || prefix > (int32_t)(*alen * 8)) return -EINVAL;
  unsigned idx = if_nametoindex(name);
  return idx == 0 ? -ENODEV : (int)idx;
}

/* Starts an add (create or replace) or delete request with a `body`-byte message header. */
static void nl_start(union nl_req *req, size_t body, uint16_t add, uint16_t del, int32_t op) {
  memset(req, 0, sizeof *req);
  req->h.nlmsg_len = NLMSG_LENGTH(body);
  req->h.nlmsg_type = op == VN_OP_ADD ? add : del;
  req->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  if (op == VN_OP_ADD) req->h.nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
}

VN_EXPORT int32_t vn_tun_addr(const char *name, int32_t family, const uint8_t *addr,
                              int32_t prefix, int32_t op) {
  size_t alen;
  int af;
  int idx = nl_target(name, family, prefix, &alen, &af);
  if (idx < 0) return idx;
  union nl_req req;
  nl_start(&req, sizeof(struct ifaddrmsg), RTM_NEWADDR, RTM_DELADDR, op);
  struct ifaddrmsg *ifa = (struct ifaddrmsg *)NLMSG_DATA(&req.h);
  ifa->ifa_family = (unsigned char)af;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = idx;
  add_attr(&req, IFA_LOCAL, addr, alen);
  add_attr(&req, IFA_ADDRESS, addr, alen);
  return nl_transact(&req.h);
}

VN_EXPORT int32_t vn_tun_route(const char *name, int32_t family, const uint8_t *dst,
                               int32_t prefix, int32_t op) {
  size_t alen;
  int af;
  int idx = nl_target(name, family, prefix, &alen, &af);
  if (idx < 0) return idx;
  union nl_req req;
  nl_start(&req, sizeof(struct rtmsg), RTM_NEWROUTE, RTM_DELROUTE, op);
  struct rtmsg *rt = (struct rtmsg *)NLMSG_DATA(&req.h);
  rt->rtm_family = (unsigned char)af;
  rt->rtm_dst_len = (unsigned char)prefix;
  rt->rtm_table = RT_TABLE_MAIN;
  if (op == VN_OP_ADD) {
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = af == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  } else {
    /* Like `ip route del`: match any protocol and scope. */
    rt->rtm_scope = RT_SCOPE_NOWHERE;
  }
  rt->rtm_type = RTN_UNICAST;
  add_attr(&req, RTA_DST, dst, alen);
  uint32_t oif = idx;
  add_attr(&req, RTA_OIF, &oif, sizeof oif);
  return nl_transact(&req.h);
}
