/*
 * VeilNet Conflux datagram-lane socket (Linux, IPv4): a nonblocking UDP socket with
 * sendmmsg + UDP_SEGMENT (GSO) out, recvmmsg + UDP_GRO in, and an eventfd per socket to
 * end a waiting read. Bound by ffi/udp.ts.
 *
 * Conventions (as in libtun.h):
 * - Every function returns int32: >= 0 on success, a negated errno on failure.
 * - Sockets are small integer handles into a table kept here (socket fd + wake eventfd +
 *   per-socket scratch), not raw descriptors.
 * - Batches are caller-owned: one byte buffer cut into `slot_size`-byte slots, int32
 *   lengths, uint32 IPv4 addresses (host byte order numbers, 127.0.0.1 = 0x7f000001) and
 *   uint16 ports. Nothing is allocated per datagram.
 * - One reader per socket at a time (the binding enforces it); sends come from one thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define VN_EXPORT __attribute__((visibility("default")))

/* Bumped whenever a signature changes; udp.ts refuses a library with another value. */
#define VN_UDP_ABI 1

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define MAX_SOCKETS 256
/* Datagrams per batch call: UIO_MAXIOV, also the kernel's cap on sendmmsg/recvmmsg vlen. */
#define MAX_BATCH 1024
/* Segments per GSO message: the kernel's UDP_MAX_SEGMENTS was 64 before Linux 6.10. */
#define GSO_MAX_SEGMENTS 64
/* Largest IPv4 UDP payload (65535 - 20 - 8). */
#define UDP_MAX_PAYLOAD 65507
/* Coalesced reads per recvmmsg when UDP_GRO is on, each into a 64 KiB scratch slot. */
#define GRO_MSGS 8
#define GRO_SLOT 65536

/* vn_udp_open flags */
#define VN_UDP_WANT_GSO 1
#define VN_UDP_WANT_GRO 2

/* vn_udp_open info[] indices */
enum {
  INFO_ADDR,
  INFO_PORT,
  INFO_RCVBUF,
  INFO_SNDBUF,
  INFO_GSO,
  INFO_GRO,
  INFO_RCVBUF_FORCED,
  INFO_SNDBUF_FORCED,
  INFO_LEN
};

/* vn_udp_stats out[] indices (doubles, so no BigInt on the JS side) */
enum {
  ST_SENT,          /* datagrams handed to the kernel */
  ST_SEND_MSGS,     /* sendmmsg messages (a GSO message carries several datagrams) */
  ST_GSO_MSGS,      /* messages sent with UDP_SEGMENT */
  ST_SEND_DROPPED,  /* datagrams dropped for a per-destination error (unreachable, ...) */
  ST_SEND_FULL,     /* sendBatch calls cut short by a full buffer (EAGAIN/ENOBUFS) */
  ST_RECV,          /* datagrams returned to the caller */
  ST_RECV_MSGS,     /* recvmmsg messages (a GRO message carries several datagrams) */
  ST_GRO_MSGS,      /* messages that carried a UDP_GRO gso_size */
  ST_RECV_DROPPED,  /* datagrams dropped because they did not fit a slot */
  ST_LAST_ERRNO,    /* errno of the last dropped send */
  ST_GSO_ON,        /* 1 while GSO is in use */
  ST_GSO_OFF_ERRNO, /* errno that made us turn GSO off (0: never) */
  ST_LEN
};

struct sock {
  int used;
  int fd;
  int wake_fd;
  int gso;
  int gro;
  int gso_off_errno;
  /* Test hook: after this many more messages, sendmmsg fails with fail_errno (-1: off). */
  int fail_after;
  int fail_errno;
  double st[ST_LEN];
  /* send scratch */
  struct mmsghdr *smsg;
  struct iovec *siov;
  struct sockaddr_in *saddr;
  int32_t *sgroup;
  char *sctl;
  /* receive scratch */
  struct mmsghdr *rmsg;
  struct iovec *riov;
  struct sockaddr_in *raddr;
  char *rctl;
  /* GRO: coalesced reads not yet fully handed out */
  uint8_t *gbuf;
  int g_count; /* messages in gbuf */
  int g_index; /* current message */
  int g_off;   /* byte offset within it */
  int32_t g_len[GRO_MSGS];
  int32_t g_seg[GRO_MSGS];
  uint32_t g_addr[GRO_MSGS];
  uint16_t g_port[GRO_MSGS];
};

#define CTL_SPACE CMSG_SPACE(sizeof(int))

static struct sock socks[MAX_SOCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct sock *lookup(int32_t h) {
  if (h < 0 || h >= MAX_SOCKETS || !socks[h].used) return 0;
  return &socks[h];
}

VN_EXPORT int32_t vn_udp_abi_version(void) { return VN_UDP_ABI; }

static void free_scratch(struct sock *s) {
  free(s->smsg);
  free(s->siov);
  free(s->saddr);
  free(s->sgroup);
  free(s->sctl);
  free(s->rmsg);
  free(s->riov);
  free(s->raddr);
  free(s->rctl);
  free(s->gbuf);
}

static int alloc_scratch(struct sock *s) {
  s->smsg = calloc(MAX_BATCH, sizeof *s->smsg);
  s->siov = calloc(MAX_BATCH, sizeof *s->siov);
  s->saddr = calloc(MAX_BATCH, sizeof *s->saddr);
  s->sgroup = calloc(MAX_BATCH, sizeof *s->sgroup);
  s->sctl = calloc(MAX_BATCH, CTL_SPACE);
  s->rmsg = calloc(MAX_BATCH, sizeof *s->rmsg);
  s->riov = calloc(MAX_BATCH, sizeof *s->riov);
  s->raddr = calloc(MAX_BATCH, sizeof *s->raddr);
  s->rctl = calloc(GRO_MSGS, CTL_SPACE);
  s->gbuf = s->gro ? malloc((size_t)GRO_MSGS * GRO_SLOT) : 0;
  if (!s->smsg || !s->siov || !s->saddr || !s->sgroup || !s->sctl || !s->rmsg || !s->riov ||
      !s->raddr || !s->rctl || (s->gro && !s->gbuf))
    return -ENOMEM;
  return 0;
}

/* Sets a buffer size: the FORCE option first (root / CAP_NET_ADMIN, ignores rmem_max),
 * else the plain one (capped at net.core.[rw]mem_max). Returns 1 if forced, 0 if not. */
static int set_buf(int fd, int force_opt, int opt, int bytes) {
  if (bytes <= 0) return 0;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0) return 1;
  setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
  return 0;
}

static int get_int(int fd, int level, int opt) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) < 0) return -1;
  return v;
}

VN_EXPORT int32_t vn_udp_open(uint32_t addr, int32_t port, int32_t buf_bytes, int32_t flags,
                              int32_t *info) {
  if (port < 0 || port > 65535 || !info) return -EINVAL;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -errno;
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(addr);
  sin.sin_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  int rforced = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, buf_bytes);
  int sforced = set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, buf_bytes);
  /* GSO: the kernel knows the option (getsockopt succeeds) since Linux 4.18. */
  int gso = (flags & VN_UDP_WANT_GSO) && get_int(fd, SOL_UDP, UDP_SEGMENT) >= 0;
  int gro = 0;
  if (flags & VN_UDP_WANT_GRO) {
    int one = 1;
    gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  }
  socklen_t slen = sizeof sin;
  if (getsockname(fd, (struct sockaddr *)&sin, &slen) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  pthread_mutex_lock(&table_lock);
  int h = -1;
  for (int i = 0; i < MAX_SOCKETS; i++) {
    if (!socks[i].used) {
      h = i;
      memset(&socks[i], 0, sizeof socks[i]);
      socks[i].used = 1;
      break;
    }
  }
  pthread_mutex_unlock(&table_lock);
  if (h < 0) {
    close(fd);
    close(wake);
    return -EMFILE;
  }
  struct sock *s = &socks[h];
  s->fd = fd;
  s->wake_fd = wake;
  s->gso = gso;
  s->gro = gro;
  s->fail_after = -1;
  if (alloc_scratch(s) < 0) {
    free_scratch(s);
    close(fd);
    close(wake);
    pthread_mutex_lock(&table_lock);
    memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&table_lock);
    return -ENOMEM;
  }
  s->st[ST_GSO_ON] = gso;
  info[INFO_ADDR] = (int32_t)ntohl(sin.sin_addr.s_addr);
  info[INFO_PORT] = ntohs(sin.sin_port);
  info[INFO_RCVBUF] = get_int(fd, SOL_SOCKET, SO_RCVBUF);
  info[INFO_SNDBUF] = get_int(fd, SOL_SOCKET, SO_SNDBUF);
  info[INFO_GSO] = gso;
  info[INFO_GRO] = gro;
  info[INFO_RCVBUF_FORCED] = rforced;
  info[INFO_SNDBUF_FORCED] = sforced;
  return h;
}

/* Errors that concern one destination or datagram: drop it and go on, like a NIC would. */
static int per_datagram_error(int err) {
  return err == ENETUNREACH || err == EHOSTUNREACH || err == EMSGSIZE || err == EPERM ||
         err == EACCES || err == EINVAL || err == ECONNREFUSED || err == EADDRNOTAVAIL ||
         err == EHOSTDOWN || err == ENETDOWN || err == EAFNOSUPPORT;
}

static int do_sendmmsg(struct sock *s, unsigned int m) {
  if (s->fail_after >= 0) {
    if ((unsigned int)s->fail_after < m) m = (unsigned int)s->fail_after;
    if (m == 0) {
      s->fail_after = -1; /* one shot */
      errno = s->fail_errno;
      return -1;
    }
    int r = sendmmsg(s->fd, s->smsg, m, MSG_DONTWAIT);
    if (r > 0) s->fail_after -= r;
    return r;
  }
  return sendmmsg(s->fd, s->smsg, m, MSG_DONTWAIT);
}

VN_EXPORT int32_t vn_udp_send_batch(int32_t h, const uint8_t *buf, int32_t slot_size,
                                    const int32_t *lens, const uint32_t *addrs,
                                    const uint16_t *ports, int32_t count) {
  struct sock *s = lookup(h);
  if (!s) return -EBADF;
  if (count < 0 || count > MAX_BATCH || slot_size <= 0) return -EINVAL;
  int32_t taken = 0;
  /* Datagrams before this index are sent one per message (after a GSO EINVAL/EMSGSIZE). */
  int32_t plain_until = 0;
  int full = 0;
  while (taken < count) {
    unsigned int m = 0;
    int32_t i = taken, k = 0;
    while (i < count) {
      int32_t len = lens[i];
      if (len < 0 || len > slot_size) return taken > 0 ? taken : -EINVAL;
      int32_t g = 1;
      if (s->gso && i >= plain_until && len > 0) {
        int32_t total = len;
        while (i + g < count && g < GSO_MAX_SEGMENTS && addrs[i + g] == addrs[i] &&
               ports[i + g] == ports[i]) {
          int32_t l = lens[i + g];
          if (l <= 0 || l > len || total + l > UDP_MAX_PAYLOAD) break;
          total += l;
          g++;
          if (l < len) break; /* a shorter one ends the run */
        }
      }
      struct sockaddr_in *sa = &s->saddr[m];
      sa->sin_family = AF_INET;
      sa->sin_port = htons(ports[i]);
      sa->sin_addr.s_addr = htonl(addrs[i]);
      for (int32_t j = 0; j < g; j++) {
        s->siov[k + j].iov_base = (void *)(buf + (size_t)(i + j) * (size_t)slot_size);
        s->siov[k + j].iov_len = (size_t)lens[i + j];
      }
      struct msghdr *mh = &s->smsg[m].msg_hdr;
      memset(mh, 0, sizeof *mh);
      mh->msg_name = sa;
      mh->msg_namelen = sizeof *sa;
      mh->msg_iov = &s->siov[k];
      mh->msg_iovlen = (size_t)g;
      if (g > 1) {
        char *ctl = s->sctl + (size_t)m * CTL_SPACE;
        memset(ctl, 0, CTL_SPACE);
        mh->msg_control = ctl;
        mh->msg_controllen = CTL_SPACE;
        struct cmsghdr *c = CMSG_FIRSTHDR(mh);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = (uint16_t)len;
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
      }
      s->sgroup[m] = g;
      m++;
      k += g;
      i += g;
    }
    int r = do_sendmmsg(s, m);
    if (r > 0) {
      for (int q = 0; q < r; q++) {
        taken += s->sgroup[q];
        s->st[ST_SENT] += s->sgroup[q];
        s->st[ST_SEND_MSGS] += 1;
        if (s->sgroup[q] > 1) s->st[ST_GSO_MSGS] += 1;
      }
      continue; /* a short count: the next call reports the error, or sends on */
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      full = 1;
      break;
    }
    if (s->sgroup[0] > 1) {
      if (err == EIO || err == EOPNOTSUPP || err == ENOPROTOOPT) {
        /* The classic "device cannot checksum-offload" answer: no GSO on this socket. */
        s->gso = 0;
        s->gso_off_errno = err;
        s->st[ST_GSO_ON] = 0;
        s->st[ST_GSO_OFF_ERRNO] = err;
        continue;
      }
      if (err == EINVAL || err == EMSGSIZE) {
        /* e.g. a segment above the path MTU: send this run one by one. */
        plain_until = taken + s->sgroup[0];
        continue;
      }
    }
    if (per_datagram_error(err)) {
      taken += s->sgroup[0];
      s->st[ST_SEND_DROPPED] += s->sgroup[0];
      s->st[ST_LAST_ERRNO] = err;
      continue;
    }
    return taken > 0 ? taken : -err;
  }
  if (full) s->st[ST_SEND_FULL] += 1;
  return taken;
}

static uint16_t gro_size(struct msghdr *mh) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      return (uint16_t)v;
    }
  }
  return 0;
}

/* Errors a read reports for an earlier datagram (ICMP and the like): skip them. */
static int transient_recv_error(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN ||
         err == ENETDOWN || err == EMSGSIZE || err == EPERM || err == ETIMEDOUT;
}

/* Hands out GRO scratch contents into the caller's slots; returns the new count. */
static int32_t drain_gro(struct sock *s, uint8_t *buf, int32_t slot_size, int32_t cap, int32_t n,
                         int32_t *lens, uint32_t *addrs, uint16_t *ports) {
  while (s->g_index < s->g_count && n < cap) {
    int gi = s->g_index;
    int32_t len = s->g_len[gi];
    int32_t seg = s->g_seg[gi] > 0 ? s->g_seg[gi] : len;
    const uint8_t *src = s->gbuf + (size_t)gi * GRO_SLOT;
    while (n < cap && s->g_off < len) {
      int32_t piece = len - s->g_off < seg ? len - s->g_off : seg;
      if (piece <= slot_size) {
        memcpy(buf + (size_t)n * (size_t)slot_size, src + s->g_off, (size_t)piece);
        lens[n] = piece;
        addrs[n] = s->g_addr[gi];
        ports[n] = s->g_port[gi];
        n++;
      } else {
        s->st[ST_RECV_DROPPED] += 1;
      }
      s->g_off += piece;
    }
    if (s->g_off >= len) {
      if (len == 0 && n < cap) { /* an empty datagram is still a datagram */
        lens[n] = 0;
        addrs[n] = s->g_addr[gi];
        ports[n] = s->g_port[gi];
        n++;
      } else if (len == 0) {
        break;
      }
      s->g_index++;
      s->g_off = 0;
    }
  }
  return n;
}

/* Reads whatever is queued (never waits); returns the count or -errno. */
static int32_t fill(struct sock *s, uint8_t *buf, int32_t slot_size, int32_t cap, int32_t *lens,
                    uint32_t *addrs, uint16_t *ports) {
  int32_t n = 0;
  if (s->gro) {
    n = drain_gro(s, buf, slot_size, cap, n, lens, addrs, ports);
    while (n < cap) {
      for (int i = 0; i < GRO_MSGS; i++) {
        s->riov[i].iov_base = s->gbuf + (size_t)i * GRO_SLOT;
        s->riov[i].iov_len = GRO_SLOT;
        struct msghdr *mh = &s->rmsg[i].msg_hdr;
        memset(mh, 0, sizeof *mh);
        mh->msg_name = &s->raddr[i];
        mh->msg_namelen = sizeof s->raddr[i];
        mh->msg_iov = &s->riov[i];
        mh->msg_iovlen = 1;
        mh->msg_control = s->rctl + (size_t)i * CTL_SPACE;
        mh->msg_controllen = CTL_SPACE;
      }
      int r = recvmmsg(s->fd, s->rmsg, GRO_MSGS, MSG_DONTWAIT, 0);
      if (r < 0) {
        int err = errno;
        if (err == EINTR || transient_recv_error(err)) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        return n > 0 ? n : -err;
      }
      int w = 0;
      for (int i = 0; i < r; i++) {
        struct msghdr *mh = &s->rmsg[i].msg_hdr;
        s->st[ST_RECV_MSGS] += 1;
        if (mh->msg_flags & MSG_TRUNC) {
          s->st[ST_RECV_DROPPED] += 1;
          continue;
        }
        uint16_t seg = gro_size(mh);
        if (seg) s->st[ST_GRO_MSGS] += 1;
        if (w != i) memmove(s->gbuf + (size_t)w * GRO_SLOT, s->gbuf + (size_t)i * GRO_SLOT,
                            s->rmsg[i].msg_len);
        s->g_len[w] = (int32_t)s->rmsg[i].msg_len;
        s->g_seg[w] = seg;
        s->g_addr[w] = ntohl(s->raddr[i].sin_addr.s_addr);
        s->g_port[w] = ntohs(s->raddr[i].sin_port);
        w++;
      }
      s->g_count = w;
      s->g_index = 0;
      s->g_off = 0;
      n = drain_gro(s, buf, slot_size, cap, n, lens, addrs, ports);
      if (r < GRO_MSGS) break; /* the queue is empty */
    }
  } else {
    while (n < cap) {
      int32_t vlen = cap - n;
      for (int32_t i = 0; i < vlen; i++) {
        s->riov[i].iov_base = buf + (size_t)(n + i) * (size_t)slot_size;
        s->riov[i].iov_len = (size_t)slot_size;
        struct msghdr *mh = &s->rmsg[i].msg_hdr;
        memset(mh, 0, sizeof *mh);
        mh->msg_name = &s->raddr[i];
        mh->msg_namelen = sizeof s->raddr[i];
        mh->msg_iov = &s->riov[i];
        mh->msg_iovlen = 1;
      }
      int r = recvmmsg(s->fd, s->rmsg, (unsigned int)vlen, MSG_DONTWAIT, 0);
      if (r < 0) {
        int err = errno;
        if (err == EINTR || transient_recv_error(err)) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        return n > 0 ? n : -err;
      }
      int32_t w = n;
      for (int i = 0; i < r; i++) {
        s->st[ST_RECV_MSGS] += 1;
        if (s->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
          s->st[ST_RECV_DROPPED] += 1;
          continue;
        }
        if (w != n + i)
          memmove(buf + (size_t)w * (size_t)slot_size, buf + (size_t)(n + i) * (size_t)slot_size,
                  s->rmsg[i].msg_len);
        lens[w] = (int32_t)s->rmsg[i].msg_len;
        addrs[w] = ntohl(s->raddr[i].sin_addr.s_addr);
        ports[w] = ntohs(s->raddr[i].sin_port);
        w++;
      }
      n = w;
      if (r < vlen) break;
    }
  }
  s->st[ST_RECV] += n;
  return n;
}

VN_EXPORT int32_t vn_udp_recv_batch(int32_t h, int32_t timeout_ms, uint8_t *buf, int32_t slot_size,
                                    int32_t cap, int32_t *lens, uint32_t *addrs,
                                    uint16_t *ports) {
  struct sock *s = lookup(h);
  if (!s) return -EBADF;
  if (cap <= 0 || cap > MAX_BATCH || slot_size <= 0) return -EINVAL;
  for (;;) {
    int32_t n = fill(s, buf, slot_size, cap, lens, addrs, ports);
    if (n != 0 || timeout_ms == 0) return n;
    struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->wake_fd, POLLIN, 0}};
    int rc = poll(p, 2, timeout_ms < 0 ? -1 : timeout_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (rc == 0) return 0;
    if (p[1].revents) {
      /* Woken: consume the wake and return what is queued (usually nothing). */
      uint64_t v;
      if (read(s->wake_fd, &v, sizeof v) < 0) { /* already drained */
      }
      timeout_ms = 0;
      continue;
    }
    if (p[0].revents & POLLNVAL) return -EBADF;
    /* POLLIN or POLLERR: the next fill reads the data or clears the error. */
  }
}

VN_EXPORT int32_t vn_udp_wake(int32_t h) {
  struct sock *s = lookup(h);
  if (!s) return -EBADF;
  uint64_t one = 1;
  if (write(s->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN) return -errno;
  return 0;
}

VN_EXPORT int32_t vn_udp_stats(int32_t h, double *out) {
  struct sock *s = lookup(h);
  if (!s) return -EBADF;
  memcpy(out, s->st, sizeof s->st);
  return ST_LEN;
}

/* Test hook: after `after_msgs` more sendmmsg messages, one send fails with `err` (e.g. EAGAIN
 * to act as a full socket buffer, which loopback never produces; EIO as a device without
 * GSO would). One shot; after_msgs < 0: off. */
VN_EXPORT int32_t vn_udp_debug_fail_send(int32_t h, int32_t after_msgs, int32_t err) {
  struct sock *s = lookup(h);
  if (!s) return -EBADF;
  s->fail_after = after_msgs;
  s->fail_errno = err;
  return 0;
}

VN_EXPORT int32_t vn_udp_close(int32_t h) {
  pthread_mutex_lock(&table_lock);
  struct sock *s = lookup(h);
  if (!s) {
    pthread_mutex_unlock(&table_lock);
    return -EBADF;
  }
  close(s->fd);
  close(s->wake_fd);
  free_scratch(s);
  memset(s, 0, sizeof *s);
  pthread_mutex_unlock(&table_lock);
  return 0;
}
