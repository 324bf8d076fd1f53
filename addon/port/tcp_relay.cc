// TCP: accept, ask the child for the connection inside (control.cc), then
// splice the two sockets to each other through pipes taken from the
// worker's pool only while bytes are in flight.
#include "relay.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace rootless {
namespace port {

void Worker::DropConn(Conn* c) {
  if (c->counted) engine->stats.connsActive--;
  c->counted = false;
  conns.erase(c);
  Bury(c);
}

void ConnEnd::OnEvent(uint32_t events) {
  Conn* c = conn;
  if (c->dead) return;
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    int which = this == &c->end[0] ? 0 : 1;
    if (getsockopt(c->fd[which], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      c->w->Finish(c, true);
      return;
    }
  }
  c->w->Pump(c);
}

bool Worker::GetPipe(Pipe* p) {
  if (!pipePool.empty()) {
    *p = pipePool.back();
    pipePool.pop_back();
    return true;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  p->r = fds[0];
  p->w = fds[1];
  // A larger pipe means fewer splices per megabyte. Refused (EPERM) when
  // the user's pipe pages are over /proc/sys/fs/pipe-user-pages-soft: keep
  // the default then.
  if (engine->pipeSize > 0) fcntl(p->w, F_SETPIPE_SZ, engine->pipeSize);
  int cap = fcntl(p->w, F_GETPIPE_SZ);
  p->cap = cap > 0 ? static_cast<size_t>(cap) : 65536;
  return true;
}

void Worker::PutPipe(Pipe* p, bool clean) {
  if (p->r < 0) return;
  if (clean && pipePool.size() < 64) {
    pipePool.push_back(*p);
  } else {
    close(p->r);
    close(p->w);
  }
  p->r = p->w = -1;
}

void Worker::Finish(Conn* c, bool reset) {
  if (c->dead) return;
  for (int i = 0; i < 2; i++) {
    if (reset)
      CloseReset(c->fd[i]);
    else if (c->fd[i] >= 0)
      close(c->fd[i]);
    c->fd[i] = -1;
    PutPipe(&c->dir[i].pipe, c->dir[i].buffered == 0);
  }
  if (reset) engine->stats.connsAborted++;
  DropConn(c);
}

// Moves bytes of one direction until the source has nothing, the
// destination is full, or the budget is spent. Returns -1 on error, 1 when
// the budget ran out, 0 otherwise. The direction holds a pipe only while
// bytes wait in it (the destination was full): a drained pipe goes back to
// the worker's pool, so an idle connection costs its two sockets, not six
// fds (pipes acquired on demand, as haproxy does).
int Worker::PumpDirection(Conn* c, int d, size_t* budget) {
  Direction& dir = c->dir[d];
  if (dir.shut) return 0;
  int r = MoveBytes(c, d, budget);
  if (dir.buffered == 0) PutPipe(&dir.pipe, true);
  return r;
}

int Worker::MoveBytes(Conn* c, int d, size_t* budget) {
  Direction& dir = c->dir[d];
  int src = c->fd[d == 0 ? 0 : 1];
  int dst = c->fd[d == 0 ? 1 : 0];
  for (;;) {
    bool progress = false;
    if (!dir.eof && (dir.pipe.r < 0 || dir.buffered < dir.pipe.cap)) {
      if (dir.pipe.r < 0 && !GetPipe(&dir.pipe)) return -1;
      ssize_t n = splice(src, nullptr, dir.pipe.w, nullptr, dir.pipe.cap - dir.buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        dir.buffered += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        dir.eof = true;
        progress = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN) {
        return -1;
      }
    }
    if (dir.buffered > 0) {
      ssize_t n = splice(dir.pipe.r, nullptr, dst, nullptr, dir.buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        dir.buffered -= static_cast<size_t>(n);
        moved += static_cast<size_t>(n);
        progress = true;
        if (*budget <= static_cast<size_t>(n)) {
          *budget = 0;
          return 1;
        }
        *budget -= static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno != EAGAIN) {
        return -1;
      }
    }
    if (dir.eof && dir.buffered == 0) {
      // Half-close: the peer reads EOF, and may still answer. When the
      // other direction is done already, the close that follows sends it.
      if (!c->dir[1 - d].shut) shutdown(dst, SHUT_WR);
      dir.shut = true;
      return 0;
    }
    if (!progress) return 0;
  }
}

void Worker::Pump(Conn* c) {
  if (c->dead) return;
  size_t budget = 4 << 20;  // then let other connections of this worker run
  bool again = false;
  for (int d = 0; d < 2; d++) {
    int r = PumpDirection(c, d, &budget);
    if (r < 0) {
      Finish(c, true);
      return;
    }
    if (r > 0) again = true;
  }
  if (c->dir[0].shut && c->dir[1].shut) {
    Finish(c, false);
    return;
  }
  if (again && !c->queued) {
    c->queued = true;
    ready.push_back(c);
  }
}

void Worker::Attach(Conn* c, int childFd) {
  // The child made it SOCK_NONBLOCK and TCP_NODELAY: the flags travel with it.
  c->fd[1] = childFd;
  for (int i = 0; i < 2; i++) {
    c->end[i].conn = c;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = static_cast<Handler*>(&c->end[i]);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd[i], &ev) != 0) {
      Finish(c, true);
      return;
    }
  }
  // The registration reports what is ready already; nothing to pump yet.
}

void Listener::OnEvent(uint32_t) {
  if (dead) return;
  for (int i = 0; i < 64; i++) {
    sockaddr_storage peer{};
    socklen_t peerLen = sizeof peer;
    int fd = accept4(this->fd, reinterpret_cast<sockaddr*>(&peer), &peerLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of fds: stop accepting until the next tick rather than spin.
        epoll_event ev{};
        ev.data.ptr = static_cast<Handler*>(this);
        epoll_ctl(w->epfd, EPOLL_CTL_MOD, this->fd, &ev);
        paused = true;
      }
      return;
    }
    SetNoDelay(fd);
    w->engine->stats.connsAccepted++;
    auto* c = new Conn();
    c->w = w;
    c->fd[0] = fd;
    c->counted = true;
    w->engine->stats.connsActive++;
    w->conns.insert(c);
    if (w->controlLost) {
      w->Finish(c, true);
      continue;
    }
    Pending p;
    p.conn = c;
    w->SendRequest(kProtoTcp, target, p, &peer);
  }
}

}  // namespace port
}  // namespace rootless
