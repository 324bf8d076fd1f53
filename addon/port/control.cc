// The parent's end of a worker's control socket: requests to the child
// (queued while the socket is full) and its replies, which bring the
// connected socket (TCP) or the flow's socket (UDP), or the errno.
#include "relay.h"
#include "../common.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rootless {
namespace port {

void Worker::SendRequest(uint8_t proto, const Target& t, Pending p, const sockaddr_storage* client) {
  WireRequest req{};
  req.id = nextId++;
  if (nextId == 0) nextId = 1;
  req.proto = proto;
  req.family = t.family;
  req.port = t.port;
  std::memcpy(req.addr, t.addr, sizeof req.addr);
  PutClient(&req, client);
  p.req = req;
  pending[req.id] = p;
  if (!outbox.empty()) {
    outbox.emplace_back(req, p);
    return;
  }
  int err = SendWithFd(ctl, &req, sizeof req, -1);
  if (err == EAGAIN || err == ENOBUFS) {
    outbox.emplace_back(req, p);
    WantWrite(epfd, ctl, static_cast<Handler*>(&ctlEnd), &ctlWantsWrite, true);
  } else if (err != 0) {
    OnControlLost(std::string("send to the child: ") + ErrnoName(err));
  }
}

void Worker::SendRelease(WireRequest req) {
  if (controlLost) return;
  req.proto = kProtoRelease;
  req.id = 0;
  if (outbox.empty()) {
    int err = SendWithFd(ctl, &req, sizeof req, -1);
    if (err == 0) return;
    if (err != EAGAIN && err != ENOBUFS) {
      OnControlLost(std::string("send to the child: ") + ErrnoName(err));
      return;
    }
    WantWrite(epfd, ctl, static_cast<Handler*>(&ctlEnd), &ctlWantsWrite, true);
  }
  outbox.emplace_back(req, Pending{});
}

void Worker::FlushOutbox() {
  while (!outbox.empty()) {
    int err = SendWithFd(ctl, &outbox.front().first, sizeof(WireRequest), -1);
    if (err == EAGAIN || err == ENOBUFS) return;
    if (err != 0) {
      OnControlLost(std::string("send to the child: ") + ErrnoName(err));
      return;
    }
    outbox.pop_front();
  }
  WantWrite(epfd, ctl, static_cast<Handler*>(&ctlEnd), &ctlWantsWrite, false);
}

void Worker::OnControlLost(const std::string& why) {
  if (controlLost) return;
  controlLost = true;
  epoll_ctl(epfd, EPOLL_CTL_DEL, ctl, nullptr);
  for (auto& kv : pending) {
    if (kv.second.conn != nullptr) Finish(kv.second.conn, true);
    if (kv.second.flow != nullptr) {
      Flow* f = kv.second.flow;
      if (!f->dead) ForgetFlow(f);
    }
  }
  pending.clear();
  outbox.clear();
  if (running) engine->ReportError("the port driver's connection to the child was lost (" + why + ")");
}

void ControlEnd::OnEvent(uint32_t events) {
  if (events & EPOLLOUT) w->FlushOutbox();
  // Room to write again (the child read): nothing to read for that.
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  constexpr int kMax = 32;
  WireReply reps[kMax];
  int fds[kMax];
  size_t lens[kMax];
  while (!w->controlLost) {
    bool eof = false;
    int n = RecvBatch(w->ctl, reps, sizeof(WireReply), kMax, fds, lens, &eof);
    if (n == -EAGAIN) return;
    if (n < 0) {
      w->OnControlLost(ErrnoName(-n));
      return;
    }
    for (int i = 0; i < n; i++) {
      if (lens[i] != sizeof(WireReply)) {
        if (fds[i] >= 0) close(fds[i]);
        continue;
      }
      w->OnReply(reps[i], fds[i]);
    }
    if (eof) {
      w->OnControlLost("the child closed it");
      return;
    }
    if (n < kMax) return;
  }
}

void Worker::OnReply(const WireReply& rep, int fd) {
  if (rep.id == 0) {
    if (fd >= 0) close(fd);
    engine->stats.sourceStatus = rep.flags | kStatusKnown;
    return;
  }
  auto it = pending.find(rep.id);
  if (it == pending.end()) {
    if (fd >= 0) close(fd);
    return;
  }
  Pending p = it->second;
  pending.erase(it);
  bool kept = rep.err == 0 && fd >= 0 && (rep.flags & kReplyKept) != 0;
  if (rep.err == 0 && fd >= 0) (kept ? engine->stats.sourceKept : engine->stats.sourceNotKept)++;
  if (p.conn != nullptr) {
    if (rep.err != 0 || fd < 0) {
      // Nothing listens inside (or it is unreachable): reset the host
      // connection now, as a refused connect would.
      if (fd >= 0) close(fd);
      engine->stats.connsRefused++;
      Conn* c = p.conn;
      CloseReset(c->fd[0]);
      c->fd[0] = -1;
      DropConn(c);
      return;
    }
    Attach(p.conn, fd);
    return;
  }
  Flow* f = p.flow;
  if (f == nullptr) {
    if (fd >= 0) close(fd);
    if (kept) SendRelease(p.req);
    return;
  }
  if (f->dead || f->port->dead || rep.err != 0 || fd < 0) {
    if (fd >= 0) close(fd);
    if (kept) SendRelease(p.req);
    if (!f->dead) {
      engine->stats.udpDropped += f->queued.size();
      ForgetFlow(f);
    }
    return;
  }
  f->fd = fd;
  f->kept = kept;
  f->req = p.req;
  SetNonBlocking(fd);
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = static_cast<Handler*>(f);
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    CloseFlow(f);
    return;
  }
  for (auto& d : f->queued) {
    if (send(fd, d.data(), d.size(), MSG_DONTWAIT) < 0)
      engine->stats.udpDropped++;
    else
      engine->stats.udpIn++;
  }
  f->queued.clear();
}

}  // namespace port
}  // namespace rootless
