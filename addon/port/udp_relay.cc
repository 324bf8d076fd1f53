// UDP: one flow per client address, each with its own socket to the target
// made by the child; datagrams moved in batches (recvmmsg, sendmmsg, GSO);
// idle flows expire (Worker::Tick).
#include "relay.h"
#include "../cmsg.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rootless {
namespace port {

void Worker::CloseFlow(Flow* f) {
  if (f->dead) return;
  if (f->kept) SendRelease(f->req);
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  ForgetFlow(f);
}

// Off its port's table and the count; freed after this epoll batch.
void Worker::ForgetFlow(Flow* f) {
  if (!f->port->dead) f->port->flows.erase(f->key);
  engine->stats.flowsActive--;
  Bury(f);
}

// Sets up msgs for one recvmmsg of up to kBatch datagrams (and, for a
// port's socket, their senders' addresses).
void Worker::PrepareBatch(bool withAddrs) {
  if (udpBuf.empty()) udpBuf.resize(static_cast<size_t>(kBatch) * kDatagram);
  for (int i = 0; i < kBatch; i++) {
    iovs[i] = {udpBuf.data() + static_cast<size_t>(i) * kDatagram, kDatagram};
    std::memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (withAddrs) {
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
  }
}

// Sends m datagrams (one iovec each) on fd, to `to` if given. Runs of
// equal-sized datagrams go as one UDP GSO send (UDP_SEGMENT): the kernel
// walks its send path once per run instead of once per datagram, and
// delivers them as the same separate datagrams. Returns how many went out.
int SendDatagrams(Worker* w, int fd, iovec* iov, int m, sockaddr_storage* to, socklen_t toLen) {
  constexpr size_t kMaxGso = 65000;  // one IP packet's worth of payload
  constexpr int kMaxSegs = 64;       // UDP_MAX_SEGMENTS on older kernels
  int sent = 0;
  int refused = 0;
  while (sent < m) {
    size_t seg = iov[sent].iov_len;
    int run = 1;
    if (w->gso && seg > 0) {
      size_t total = seg;
      while (sent + run < m && run < kMaxSegs && total + iov[sent + run].iov_len <= kMaxGso && iov[sent + run].iov_len <= seg) {
        total += iov[sent + run].iov_len;
        bool shorter = iov[sent + run].iov_len < seg;
        run++;
        if (shorter) break;  // only the last segment may be shorter
      }
    }
    if (run >= 2) {
      msghdr mh{};
      mh.msg_iov = iov + sent;
      mh.msg_iovlen = static_cast<size_t>(run);
      if (to != nullptr) {
        mh.msg_name = to;
        mh.msg_namelen = toLen;
      }
      CmsgSpace<sizeof(uint16_t)> ctl;
      uint16_t gsoSize = static_cast<uint16_t>(seg);
      AttachCmsg(mh, ctl.buf, SOL_UDP, UDP_SEGMENT, &gsoSize, sizeof gsoSize);
      ssize_t r = sendmsg(fd, &mh, MSG_DONTWAIT);
      if (r >= 0) {
        sent += run;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED && refused++ < 4) continue;
      if (errno == EAGAIN || errno == ENOBUFS) return sent;
      // EINVAL, EIO, ENOPROTOOPT...: no GSO here; per datagram from now on.
      w->gso = false;
      continue;
    }
    mmsghdr out[Worker::kBatch];
    int k = 0;
    for (; k < Worker::kBatch && sent + k < m; k++) {
      std::memset(&out[k], 0, sizeof out[k]);
      out[k].msg_hdr.msg_iov = &iov[sent + k];
      out[k].msg_hdr.msg_iovlen = 1;
      if (to != nullptr) {
        out[k].msg_hdr.msg_name = to;
        out[k].msg_hdr.msg_namelen = toLen;
      }
      // Stop before the next run GSO could take.
      size_t here = iov[sent + k].iov_len;
      if (w->gso && k > 0 && sent + k + 1 < m && here > 0 && iov[sent + k + 1].iov_len <= here && here + iov[sent + k + 1].iov_len <= kMaxGso) break;
    }
    if (k == 0) k = 1;
    int r = sendmmsg(fd, out, static_cast<unsigned>(k), MSG_DONTWAIT);
    if (r > 0) {
      sent += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && errno == ECONNREFUSED && refused++ < 4) {
      // An earlier datagram drew an ICMP port unreachable (nothing
      // listened inside then): the error is consumed, retry.
      continue;
    } else {
      return sent;
    }
  }
  return sent;
}

void UdpPort::OnEvent(uint32_t) {
  if (dead) return;
  Engine* e = w->engine;
  for (int round = 0; round < 8; round++) {
    w->PrepareBatch(true);
    int n = recvmmsg(fd, w->msgs, Worker::kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    int64_t now = NowMs();
    // Consecutive datagrams of one client go out in one sendmmsg.
    int i = 0;
    while (i < n) {
      FlowKey key;
      key.bytes.assign(reinterpret_cast<const char*>(&w->addrs[i]), w->msgs[i].msg_hdr.msg_namelen);
      auto it = flows.find(key);
      Flow* f;
      if (it == flows.end()) {
        if (flows.size() >= e->maxFlows || w->controlLost) {
          e->stats.udpDropped++;
          i++;
          continue;
        }
        f = new Flow();
        f->port = this;
        f->key = key;
        std::memcpy(&f->client, &w->addrs[i], w->msgs[i].msg_hdr.msg_namelen);
        f->clientLen = w->msgs[i].msg_hdr.msg_namelen;
        f->lastActive = now;
        flows.emplace(key, f);
        e->stats.flowsActive++;
        Pending p;
        p.flow = f;
        w->SendRequest(kProtoUdp, target, p, &f->client);
      } else {
        f = it->second;
      }
      f->lastActive = now;
      int j = i + 1;
      while (j < n && w->msgs[j].msg_hdr.msg_namelen == w->msgs[i].msg_hdr.msg_namelen &&
             std::memcmp(&w->addrs[j], &w->addrs[i], w->msgs[i].msg_hdr.msg_namelen) == 0)
        j++;
      if (f->fd < 0) {
        for (int k = i; k < j; k++) {
          if (f->queued.size() < 256)
            f->queued.emplace_back(static_cast<const char*>(w->iovs[k].iov_base), w->msgs[k].msg_len);
          else
            e->stats.udpDropped++;
        }
      } else {
        iovec oiov[Worker::kBatch];
        int m = j - i;
        for (int k = 0; k < m; k++) oiov[k] = {w->iovs[i + k].iov_base, w->msgs[i + k].msg_len};
        int sent = SendDatagrams(w, f->fd, oiov, m, nullptr, 0);
        e->stats.udpIn += static_cast<uint64_t>(sent);
        e->stats.udpDropped += static_cast<uint64_t>(m - sent);
      }
      i = j;
    }
    if (n < Worker::kBatch) return;
  }
}

void Flow::OnEvent(uint32_t) {
  if (dead || fd < 0) return;
  Worker* w = port->w;
  Engine* e = w->engine;
  for (int round = 0; round < 8; round++) {
    w->PrepareBatch(false);
    int n = recvmmsg(fd, w->msgs, Worker::kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0 && errno == ECONNREFUSED) continue;  // ICMP from inside: nothing listens (yet)
    if (n <= 0) return;
    lastActive = NowMs();
    iovec oiov[Worker::kBatch];
    for (int k = 0; k < n; k++) oiov[k] = {w->iovs[k].iov_base, w->msgs[k].msg_len};
    int sent = SendDatagrams(w, port->fd, oiov, n, &client, clientLen);
    e->stats.udpOut += static_cast<uint64_t>(sent);
    e->stats.udpDropped += static_cast<uint64_t>(n - sent);
    if (n < Worker::kBatch) return;
  }
}

}  // namespace port
}  // namespace rootless
