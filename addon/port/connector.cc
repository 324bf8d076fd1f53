// The connector: connects inside the namespace on the parent's request
// (from the client's address when it can) and answers with the socket.
#include "connector.h"

#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rootless {
namespace port {

// A socket bound to the client's address and port, ready to connect; -1
// when the kernel refuses (the port is taken inside, say): the caller then
// connects from the child's own address.
int Connector::KeptSocket(const WireRequest& req, const ClientSource& src, int type) {
  int fd = socket(req.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  // The same client port may be in use toward another port, or linger in
  // TIME_WAIT from the client's previous connection.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!src.loopback) {
    bool v6 = req.family == AF_INET6;
    uint32_t mark = kMark;
    if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
      close(fd);
      return -1;
    }
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&src.addr), src.len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void CtlSock::Reply(uint32_t id, int err, int sock, uint32_t flags) {
  OutReply r{{id, err, flags}, sock};
  if (out.empty()) {
    int e = SendWithFd(fd, &r.rep, sizeof r.rep, sock);
    if (e == 0 || (e != EAGAIN && e != ENOBUFS)) {
      if (sock >= 0) close(sock);
      return;
    }
  }
  out.push_back(r);
  WantWrite(c->epfd, fd, static_cast<Handler*>(this), &wantsWrite, true);
}

void CtlSock::Flush() {
  while (!out.empty()) {
    OutReply& r = out.front();
    int e = SendWithFd(fd, &r.rep, sizeof r.rep, r.fd);
    if (e == EAGAIN || e == ENOBUFS) return;
    if (r.fd >= 0) close(r.fd);
    out.pop_front();
  }
  WantWrite(c->epfd, fd, static_cast<Handler*>(this), &wantsWrite, false);
}

void CtlSock::OnEvent(uint32_t events) {
  if (dead) return;
  if (events & EPOLLOUT) Flush();
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  constexpr int kMax = 32;
  WireRequest reqs[kMax];
  int fds[kMax];
  size_t lens[kMax];
  for (;;) {
    bool eof = false;
    int n = RecvBatch(fd, reqs, sizeof(WireRequest), kMax, fds, lens, &eof);
    if (n == -EAGAIN) return;
    for (int i = 0; i < n; i++) {
      if (fds[i] >= 0) close(fds[i]);
      if (lens[i] == sizeof(WireRequest)) c->Request(this, reqs[i]);
    }
    if (n < 0 || eof) {
      // The parent is gone (it took its end with it): stop serving it.
      epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, nullptr);
      close(fd);
      for (auto& r : out)
        if (r.fd >= 0) close(r.fd);
      out.clear();
      dead = true;
      c->open--;
      return;
    }
    if (n < kMax) return;
  }
}

void Connector::Request(CtlSock* ctl, const WireRequest& req) {
  if (req.proto == kProtoRelease) {
    source.ReleaseUdp(req);
    return;
  }
  if (netnsErr != 0) {
    ctl->Reply(req.id, netnsErr, -1);
    return;
  }
  if ((req.proto != kProtoTcp && req.proto != kProtoUdp) || (req.family != AF_INET && req.family != AF_INET6)) {
    ctl->Reply(req.id, EINVAL, -1);
    return;
  }
  sockaddr_storage ss;
  socklen_t len = SockaddrOf(req.family, req.addr, req.port, &ss);
  int type = req.proto == kProtoTcp ? SOCK_STREAM : SOCK_DGRAM;
  ClientSource src;
  bool keep = source.Client(req, &src);
  int fd = -1;
  int rc = -1;
  uint32_t flags = 0;
  if (keep) {
    fd = KeptSocket(req, src, type);
    if (fd >= 0 && req.proto == kProtoUdp && !src.loopback && source.AcquireUdp(req, src) != 0) {
      close(fd);
      fd = -1;
    }
    if (fd >= 0) {
      do {
        rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
      } while (rc != 0 && errno == EINTR);
      if (rc != 0 && (errno == EADDRINUSE || errno == EADDRNOTAVAIL)) {
        // This 4-tuple is taken inside: from the child's own address then.
        close(fd);
        fd = -1;
        if (req.proto == kProtoUdp) source.ReleaseUdp(req);
      } else {
        flags = kReplyKept;
      }
    }
  }
  if (fd < 0) {
    fd = socket(req.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ctl->Reply(req.id, errno, -1);
      return;
    }
    do {
      rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    } while (rc != 0 && errno == EINTR);
  }
  if (req.proto == kProtoTcp) SetNoDelay(fd);
  if (rc == 0) {
    ctl->Reply(req.id, 0, fd, flags);
    return;
  }
  if (errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    if (flags != 0 && req.proto == kProtoUdp) source.ReleaseUdp(req);
    ctl->Reply(req.id, err, -1);
    return;
  }
  // Inside the namespace the target is local: the handshake has usually
  // completed by now. One poll saves registering and waiting.
  pollfd pf{fd, POLLOUT, 0};
  if (poll(&pf, 1, 0) == 1) {
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    if (err != 0) {
      close(fd);
      ctl->Reply(req.id, err, -1);
    } else {
      ctl->Reply(req.id, 0, fd, flags);
    }
    return;
  }
  auto* p = new Connecting();
  p->c = this;
  p->ctl = ctl;
  p->id = req.id;
  p->fd = fd;
  p->flags = flags;
  p->deadline = NowMs() + connectTimeoutMs;
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLONESHOT;
  ev.data.ptr = static_cast<Handler*>(p);
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    close(fd);
    delete p;
    ctl->Reply(req.id, err, -1);
    return;
  }
  connecting.push_back(p);
}

void Connecting::OnEvent(uint32_t) {
  if (dead) return;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, nullptr);
  if (ctl->dead) {
    close(fd);
  } else if (err != 0) {
    close(fd);
    ctl->Reply(id, err, -1);
  } else {
    ctl->Reply(id, 0, fd, flags);
  }
  fd = -1;
  dead = true;
  c->graveyard.push_back(this);
}

void Connector::Run() {
  epoll_event events[64];
  while (open > 0) {
    int n = epoll_wait(epfd, events, 64, connecting.empty() ? -1 : 1000);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      auto* h = static_cast<Handler*>(events[i].data.ptr);
      if (!h->dead) h->OnEvent(events[i].events);
    }
    int64_t now = NowMs();
    std::vector<Connecting*> keep;
    for (Connecting* p : connecting) {
      if (p->dead) continue;
      if (now >= p->deadline) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, nullptr);
        close(p->fd);
        p->fd = -1;
        if (!p->ctl->dead) p->ctl->Reply(p->id, ETIMEDOUT, -1);
        p->dead = true;
        graveyard.push_back(p);
        continue;
      }
      keep.push_back(p);
    }
    connecting.swap(keep);
    for (Handler* h : graveyard) delete h;
    graveyard.clear();
  }
  close(epfd);
}

void* ConnectorMain(void* arg) {
  auto* c = static_cast<Connector*>(arg);
  if (c->netnsFd >= 0) {
    // A network namespace is per thread: only this one moves.
    if (setns(c->netnsFd, CLONE_NEWNET) != 0) c->netnsErr = errno;
    close(c->netnsFd);
    c->netnsFd = -1;
  }
  // In the namespace now: the rules go there, and the status goes first
  // on every control socket (the parent reports it in /v1/info).
  if (c->source.mode != kSourceOff && c->netnsErr == 0) c->source.Setup();
  uint32_t status = (c->source.on ? +kStatusOn : 0u) | (c->source.ipv6 ? +kStatusIPv6 : 0u) | (c->source.udp ? +kStatusUdp : 0u);
  if (!c->source.on) status = 0;
  for (CtlSock* s : c->ctls) s->Reply(0, 0, -1, status);
  {
    std::lock_guard<std::mutex> lock(c->readyMu);
    c->ready = true;
  }
  c->readyCv.notify_all();
  c->Run();
  return nullptr;
}

}  // namespace port
}  // namespace rootless
