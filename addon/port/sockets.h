// What both halves of the builtin port driver share besides the wire
// format: the epoll handler base and small socket helpers.
#pragma once
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

namespace rootless {
namespace port {

// Everything registered in a worker's epoll. Objects are freed only after
// the epoll batch that may still name them (graveyard).
struct Handler {
  virtual ~Handler() = default;
  virtual void OnEvent(uint32_t events) = 0;
  bool dead = false;
};

inline int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline void CloseReset(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

inline void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

inline bool SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

// (Un)subscribes EPOLLOUT of an edge-triggered reader: only while there is
// something queued to write, or every read by the peer would wake us.
inline void WantWrite(int epfd, int fd, void* handler, bool* state, bool want) {
  if (*state == want) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET | (want ? EPOLLOUT : 0u);
  ev.data.ptr = handler;
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
  *state = want;
}

}  // namespace port
}  // namespace rootless
