// Native parts of the port area (declared in src/sys/native.ts): the builtin
// port driver's data plane.
//
// Design. The parent cannot enter the child's network namespace, so the
// child connects inside it and passes the connected socket over a unix
// socket (SCM_RIGHTS). Nothing of that per-connection path runs in
// JavaScript:
//
//  - Parent: a relay engine of W worker threads, each with its own epoll,
//    its own SOCK_SEQPACKET control socket to the child, its own listening
//    sockets (SO_REUSEPORT when W > 1, so the kernel spreads connections)
//    and UDP sockets. A worker accepts, sends the child a fixed-size
//    request, receives the reply with the connected socket, and relays the
//    two sockets with splice(2) through a pipe per direction (the bytes stay
//    in the kernel), edge-triggered. A direction takes a pipe from the
//    worker's pool only while bytes are in flight and returns it drained, so
//    an idle connection holds two fds. A direction whose source reached EOF
//    and whose pipe is empty shuts down writing on its destination
//    (half-close); the connection is closed when both directions are done,
//    or at once (RST to the survivor) on an error. Workers share nothing;
//    JavaScript reaches a worker only through its command queue (eventfd).
//  - Child: one connector thread, epoll over the control sockets and the
//    non-blocking connects in progress; each finished connect is answered
//    with the socket (or the errno, e.g. ECONNREFUSED, and the parent then
//    resets the host connection at once).
//  - UDP: per client address the parent asks the child for a socket
//    connected to the target inside; datagrams are moved in batches
//    (recvmmsg, then sendmmsg or, for runs of equal-sized datagrams, one
//    UDP GSO send) both ways, and flows idle for udpIdleMs are closed.
//
// JavaScript only creates the host sockets (so bind errors like EADDRINUSE
// come back synchronously, naming the address) and adds/removes ports.
#include "common.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rootless {
namespace {

// ---- wire format of the control sockets ------------------------------------

enum : uint8_t { kProtoTcp = 1, kProtoUdp = 2 };

struct Target {
  uint8_t family = 0;  // AF_INET / AF_INET6
  uint16_t port = 0;   // host order
  uint8_t addr[16] = {};
};

// Parent -> child: connect (TCP) or make a flow socket (UDP) to the target
// addr:port, from the client's address if the child keeps it. kProtoRelease:
// the parent closed a UDP flow the child made with the client's address (the
// request it was made for, proto aside); no reply.
struct WireRequest {
  uint32_t id;
  uint8_t proto;
  uint8_t family;
  uint16_t port;
  uint8_t addr[16];
  uint8_t srcFamily;  // 0: no client address (the child connects from its own)
  uint8_t pad = 0;
  uint16_t srcPort;   // host order
  uint8_t srcAddr[16];
};
static_assert(sizeof(WireRequest) == 44, "wire format");

enum : uint8_t { kProtoRelease = 3 };

// Child -> parent. id 0 is the connector's status, sent first on every
// control socket: flags say whether client addresses are kept.
struct WireReply {
  uint32_t id;
  int32_t err;     // 0: the socket is attached
  uint32_t flags;  // kReplyKept: the socket's source is the client's address
};
static_assert(sizeof(WireReply) == 12, "wire format");

enum : uint32_t { kReplyKept = 1 };
// Status flags (reply id 0).
enum : uint32_t { kStatusOn = 1, kStatusIPv6 = 2, kStatusUdp = 4, kStatusKnown = 1u << 31 };

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void CloseReset(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

// (Un)subscribes EPOLLOUT of an edge-triggered reader: only while there is
// something queued to write, or every read by the peer would wake us.
void WantWrite(int epfd, int fd, void* handler, bool* state, bool want) {
  if (*state == want) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET | (want ? EPOLLOUT : 0u);
  ev.data.ptr = handler;
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
  *state = want;
}

// sendmsg with an optional fd attached. Returns 0, or errno.
int SendWithFd(int sock, const void* data, size_t len, int fd) {
  iovec iov{const_cast<void*>(data), len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
  } u;
  if (fd >= 0) {
    std::memset(&u, 0, sizeof u);
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// Receives up to `max` messages of `size` bytes into buf (message i at
// buf + i*size), each with at most one fd (fds[i], -1 if none); lens[i] is
// its length. Returns the count; 0 with *eof at the peer's EOF; -errno. A
// count below max means the queue was empty: an edge-triggered reader
// needs no further call to find EAGAIN.
int RecvBatch(int sock, void* buf, size_t size, int max, int* fds, size_t* lens, bool* eof) {
  constexpr int kMax = 32;
  if (max > kMax) max = kMax;
  *eof = false;
  mmsghdr mm[kMax];
  iovec iov[kMax];
  union Ctl {
    char buf[CMSG_SPACE(sizeof(int) * 4)];
    cmsghdr align;
  };
  Ctl ctl[kMax];
  for (int i = 0; i < max; i++) {
    iov[i] = {static_cast<char*>(buf) + static_cast<size_t>(i) * size, size};
    std::memset(&mm[i], 0, sizeof mm[i]);
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
    mm[i].msg_hdr.msg_control = ctl[i].buf;
    mm[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
  }
  int n;
  do {
    n = recvmmsg(sock, mm, static_cast<unsigned>(max), MSG_DONTWAIT | MSG_CMSG_CLOEXEC, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  int got = 0;
  for (int i = 0; i < n; i++) {
    fds[i] = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&mm[i].msg_hdr, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; k++) {
        int f;
        std::memcpy(&f, CMSG_DATA(c) + k * sizeof(int), sizeof f);
        if (fds[i] < 0)
          fds[i] = f;
        else
          close(f);  // never more than one is sent
      }
    }
    lens[i] = mm[i].msg_len;
    if (mm[i].msg_len == 0 && fds[i] < 0) {
      // A zero-length read on a SEQPACKET socket is the peer's EOF.
      *eof = true;
      break;
    }
    got++;
  }
  return got;
}

// ---- parent: the relay engine ---------------------------------------------

struct Worker;

// Everything registered in a worker's epoll. Objects are freed only after
// the epoll batch that may still name them (graveyard).
struct Handler {
  virtual ~Handler() = default;
  virtual void OnEvent(uint32_t events) = 0;
  bool dead = false;
};

struct Pipe {
  int r = -1, w = -1;
  size_t cap = 0;
};

struct Direction {
  Pipe pipe;
  size_t buffered = 0;
  bool eof = false;   // source said EOF
  bool shut = false;  // destination shut down for writing
};

struct Conn;
struct ConnEnd : Handler {
  Conn* conn = nullptr;
  void OnEvent(uint32_t events) override;
};

struct Conn : Handler {
  Worker* w = nullptr;
  int fd[2] = {-1, -1};  // 0: host side, 1: child side
  ConnEnd end[2];
  Direction dir[2];  // 0: host -> child, 1: child -> host
  bool queued = false;
  bool counted = false;
  void OnEvent(uint32_t) override {}
};

struct Flow;

struct Listener : Handler {
  Worker* w = nullptr;
  int fd = -1;
  int portId = 0;
  Target target;
  bool paused = false;
  void OnEvent(uint32_t events) override;
};

struct FlowKey {
  std::string bytes;
  bool operator==(const FlowKey& o) const { return bytes == o.bytes; }
};
struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const { return std::hash<std::string>()(k.bytes); }
};

struct UdpPort : Handler {
  Worker* w = nullptr;
  int fd = -1;
  int portId = 0;
  Target target;
  std::unordered_map<FlowKey, Flow*, FlowKeyHash> flows;
  void OnEvent(uint32_t events) override;
};

struct Flow : Handler {
  UdpPort* port = nullptr;
  int fd = -1;  // -1 while the child's socket is on its way
  FlowKey key;
  sockaddr_storage client{};
  socklen_t clientLen = 0;
  int64_t lastActive = 0;
  bool kept = false;  // the child made it from the client's address
  WireRequest req{};  // what it was made for (for the release)
  std::deque<std::string> queued;  // datagrams that came before the socket
  void OnEvent(uint32_t events) override;
};

struct Pending {
  Conn* conn = nullptr;
  Flow* flow = nullptr;
  WireRequest req{};
};

struct ControlEnd : Handler {
  Worker* w = nullptr;
  void OnEvent(uint32_t events) override;
};

struct InboxEnd : Handler {
  Worker* w = nullptr;
  void OnEvent(uint32_t events) override;
};

struct Command {
  enum Kind { AddTcp, AddUdp, Remove, Stop } kind;
  int portId = 0;
  int fd = -1;
  Target target;
  // Remove waits for the worker: afterwards no new connection is accepted.
  std::shared_ptr<std::pair<std::mutex, std::condition_variable>> sync;
  std::shared_ptr<bool> done;
};

struct Stats {
  std::atomic<uint64_t> connsAccepted{0}, connsActive{0}, connsRefused{0}, connsAborted{0};
  std::atomic<uint64_t> flowsActive{0}, flowsExpired{0}, udpDropped{0}, udpIn{0}, udpOut{0};
  // Connections and flows made inside from the client's address, or not.
  std::atomic<uint64_t> sourceKept{0}, sourceNotKept{0};
  std::atomic<uint32_t> sourceStatus{0};  // the child's status flags
};

struct Engine;

struct Worker {
  Engine* engine = nullptr;
  int index = 0;
  int epfd = -1;
  int ctl = -1;
  int inbox = -1;  // eventfd
  pthread_t thread{};
  bool running = true;
  ControlEnd ctlEnd;
  InboxEnd inboxEnd;
  std::mutex mu;
  std::deque<Command> commands;
  std::unordered_map<int, Handler*> ports;  // portId -> Listener / UdpPort
  std::unordered_set<Conn*> conns;          // accepted, not finished
  std::unordered_map<uint32_t, Pending> pending;
  std::deque<std::pair<WireRequest, Pending>> outbox;  // control socket full
  uint32_t nextId = 1;
  std::vector<Conn*> ready;
  std::vector<Handler*> graveyard;
  std::vector<Pipe> pipePool;
  bool controlLost = false;
  bool ctlWantsWrite = false;
  bool gso = true;  // UDP_SEGMENT works (until the kernel says otherwise)
  size_t moved = 0;  // bytes spliced out since the last epoll_wait
  static constexpr size_t kBulkBytes = 256 << 10;
  static constexpr int kSpins = 200;
  int64_t lastTick = 0;
  // UDP batches
  static constexpr int kBatch = 32;
  static constexpr size_t kDatagram = 65536;
  std::vector<char> udpBuf;
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_storage addrs[kBatch];

  void Run();
  void Tick(int64_t now);
  void HandleCommands();
  void SendRequest(uint8_t proto, const Target& t, Pending p, const sockaddr_storage* client);
  void SendRelease(WireRequest req);
  void FlushOutbox();
  void OnReply(const WireReply& rep, int fd);
  void OnControlLost(const std::string& why);
  void Pump(Conn* c);
  int PumpDirection(Conn* c, int d, size_t* budget);
  int MoveBytes(Conn* c, int d, size_t* budget);
  void Attach(Conn* c, int childFd);
  void Finish(Conn* c, bool reset);
  bool GetPipe(Pipe* p);
  void PutPipe(Pipe* p, bool clean);
  void RemovePort(int portId);
  void CloseFlow(Flow* f);
  void EnsureUdpBuffers();
  void Bury(Handler* h) {
    h->dead = true;
    graveyard.push_back(h);
  }
  void DropConn(Conn* c);
};

struct Engine {
  std::vector<std::unique_ptr<Worker>> workers;
  Stats stats;
  int64_t udpIdleMs = 60000;
  int pipeSize = 0;
  size_t maxFlows = 4096;
  Napi::ThreadSafeFunction onError;
  std::atomic<bool> errorReported{false};
  bool stopped = false;

  void ReportError(const std::string& msg) {
    bool expected = false;
    if (!errorReported.compare_exchange_strong(expected, true)) return;
    auto* copy = new std::string(msg);
    napi_status s = onError.BlockingCall(copy, [](Napi::Env env, Napi::Function cb, std::string* m) {
      if (env != nullptr && cb != nullptr) cb.Call({Napi::String::New(env, *m)});
      delete m;
    });
    if (s != napi_ok) delete copy;
  }
};

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

// The client's address, as the wire carries it (srcFamily 0 if unknown).
void PutClient(WireRequest* req, const sockaddr_storage* client) {
  if (client == nullptr) return;
  if (client->ss_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(client);
    req->srcFamily = AF_INET;
    req->srcPort = ntohs(s->sin_port);
    std::memcpy(req->srcAddr, &s->sin_addr, 4);
  } else if (client->ss_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(client);
    req->srcFamily = AF_INET6;
    req->srcPort = ntohs(s->sin6_port);
    std::memcpy(req->srcAddr, &s->sin6_addr, 16);
  }
}

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
      if (!f->dead) {
        if (!f->port->dead) f->port->flows.erase(f->key);
        engine->stats.flowsActive--;
        Bury(f);
      }
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
      f->port->flows.erase(f->key);
      engine->stats.flowsActive--;
      Bury(f);
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

void Worker::CloseFlow(Flow* f) {
  if (f->dead) return;
  if (f->kept) SendRelease(f->req);
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (!f->port->dead) f->port->flows.erase(f->key);
  engine->stats.flowsActive--;
  Bury(f);
}

void Worker::EnsureUdpBuffers() {
  if (!udpBuf.empty()) return;
  udpBuf.resize(static_cast<size_t>(kBatch) * kDatagram);
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
      union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        cmsghdr align;
      } u;
      std::memset(&u, 0, sizeof u);
      mh.msg_control = u.buf;
      mh.msg_controllen = sizeof u.buf;
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t gsoSize = static_cast<uint16_t>(seg);
      std::memcpy(CMSG_DATA(c), &gsoSize, sizeof gsoSize);
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
  w->EnsureUdpBuffers();
  Engine* e = w->engine;
  for (int round = 0; round < 8; round++) {
    for (int i = 0; i < Worker::kBatch; i++) {
      w->iovs[i] = {w->udpBuf.data() + static_cast<size_t>(i) * Worker::kDatagram, Worker::kDatagram};
      std::memset(&w->msgs[i], 0, sizeof w->msgs[i]);
      w->msgs[i].msg_hdr.msg_iov = &w->iovs[i];
      w->msgs[i].msg_hdr.msg_iovlen = 1;
      w->msgs[i].msg_hdr.msg_name = &w->addrs[i];
      w->msgs[i].msg_hdr.msg_namelen = sizeof w->addrs[i];
    }
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
  w->EnsureUdpBuffers();
  Engine* e = w->engine;
  for (int round = 0; round < 8; round++) {
    for (int i = 0; i < Worker::kBatch; i++) {
      w->iovs[i] = {w->udpBuf.data() + static_cast<size_t>(i) * Worker::kDatagram, Worker::kDatagram};
      std::memset(&w->msgs[i], 0, sizeof w->msgs[i]);
      w->msgs[i].msg_hdr.msg_iov = &w->iovs[i];
      w->msgs[i].msg_hdr.msg_iovlen = 1;
    }
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

void InboxEnd::OnEvent(uint32_t) {
  uint64_t v;
  while (read(w->inbox, &v, sizeof v) > 0) {
  }
  w->HandleCommands();
}

void Worker::RemovePort(int portId) {
  auto it = ports.find(portId);
  if (it == ports.end()) return;
  Handler* h = it->second;
  ports.erase(it);
  if (auto* l = dynamic_cast<Listener*>(h)) {
    // Established connections are independent of the listener: they finish.
    close(l->fd);
    l->fd = -1;
    Bury(l);
  } else if (auto* u = dynamic_cast<UdpPort*>(h)) {
    // A flow answers through the port's socket: it ends with it.
    std::vector<Flow*> fs;
    for (auto& kv : u->flows) fs.push_back(kv.second);
    for (Flow* f : fs) {
      if (f->fd >= 0) {
        CloseFlow(f);
      } else {
        // Its socket is on the way: OnReply frees it.
        u->flows.erase(f->key);
        engine->stats.flowsActive--;
        f->dead = true;
        graveyard.push_back(f);
        for (auto& kv : pending)
          if (kv.second.flow == f) kv.second.flow = nullptr;
      }
    }
    close(u->fd);
    u->fd = -1;
    Bury(u);
  }
}

void Worker::HandleCommands() {
  std::deque<Command> cmds;
  {
    std::lock_guard<std::mutex> lock(mu);
    cmds.swap(commands);
  }
  for (Command& c : cmds) {
    switch (c.kind) {
      case Command::AddTcp: {
        auto* l = new Listener();
        l->w = this;
        l->fd = c.fd;
        l->portId = c.portId;
        l->target = c.target;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = static_cast<Handler*>(l);
        epoll_ctl(epfd, EPOLL_CTL_ADD, l->fd, &ev);
        ports[c.portId] = l;
        break;
      }
      case Command::AddUdp: {
        auto* u = new UdpPort();
        u->w = this;
        u->fd = c.fd;
        u->portId = c.portId;
        u->target = c.target;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = static_cast<Handler*>(u);
        epoll_ctl(epfd, EPOLL_CTL_ADD, u->fd, &ev);
        ports[c.portId] = u;
        break;
      }
      case Command::Remove:
        RemovePort(c.portId);
        break;
      case Command::Stop:
        running = false;
        break;
    }
    if (c.sync) {
      std::lock_guard<std::mutex> lock(c.sync->first);
      *c.done = true;
      c.sync->second.notify_all();
    }
  }
}

void Worker::Tick(int64_t now) {
  for (auto& kv : ports) {
    if (auto* l = dynamic_cast<Listener*>(kv.second)) {
      if (l->paused) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = static_cast<Handler*>(l);
        epoll_ctl(epfd, EPOLL_CTL_MOD, l->fd, &ev);
        l->paused = false;
      }
    } else if (auto* u = dynamic_cast<UdpPort*>(kv.second)) {
      std::vector<Flow*> idle;
      for (auto& f : u->flows)
        if (f.second->fd >= 0 && now - f.second->lastActive >= engine->udpIdleMs) idle.push_back(f.second);
      for (Flow* f : idle) {
        CloseFlow(f);
        engine->stats.flowsExpired++;
      }
    }
  }
}

void Worker::Run() {
  epoll_event events[128];
  while (running) {
    int64_t now = NowMs();
    int64_t tickMs = engine->udpIdleMs < 1000 ? (engine->udpIdleMs > 10 ? engine->udpIdleMs / 2 : 5) : 1000;
    int timeout = ready.empty() ? static_cast<int>(tickMs) : 0;
    int n = 0;
    // During a bulk transfer, data comes back within microseconds: poll a
    // little before sleeping, since waking a sleeping thread (an IPI, a VM
    // exit) costs more than that. Short exchanges never spin.
    if (timeout != 0 && moved >= kBulkBytes) {
      for (int spin = 0; spin < kSpins && n == 0; spin++) n = epoll_wait(epfd, events, 128, 0);
    }
    moved = 0;
    if (n == 0) n = epoll_wait(epfd, events, 128, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      auto* h = static_cast<Handler*>(events[i].data.ptr);
      if (!h->dead) h->OnEvent(events[i].events);
    }
    // Connections that spent their budget: another round each.
    if (!ready.empty()) {
      std::vector<Conn*> again;
      again.swap(ready);
      for (Conn* c : again) {
        c->queued = false;
        Pump(c);
      }
    }
    now = NowMs();
    if (now - lastTick >= tickMs) {
      lastTick = now;
      Tick(now);
    }
    // A ready connection may be in the graveyard now: drop it from `ready`.
    if (!graveyard.empty()) {
      std::vector<Conn*> keep;
      for (Conn* c : ready)
        if (!c->dead) keep.push_back(c);
      ready.swap(keep);
      for (Handler* h : graveyard) delete h;
      graveyard.clear();
    }
  }
}

void* WorkerMain(void* arg) {
  static_cast<Worker*>(arg)->Run();
  return nullptr;
}

std::mutex g_enginesMu;
std::unordered_map<int, Engine*> g_engines;
int g_nextEngine = 1;

bool ParseTarget(const std::string& ip, int port, Target* t) {
  t->port = static_cast<uint16_t>(port);
  if (inet_pton(AF_INET, ip.c_str(), t->addr) == 1) {
    t->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), t->addr) == 1) {
    t->family = AF_INET6;
    return true;
  }
  return false;
}

Engine* GetEngine(const Napi::CallbackInfo& info) {
  int h = ArgInt(info, 0, "relay");
  std::lock_guard<std::mutex> lock(g_enginesMu);
  auto it = g_engines.find(h);
  if (it == g_engines.end()) throw Napi::Error::New(info.Env(), "relay: unknown or stopped handle");
  return it->second;
}

void Post(Worker* w, Command c, bool wait) {
  std::shared_ptr<std::pair<std::mutex, std::condition_variable>> sync;
  std::shared_ptr<bool> done;
  if (wait) {
    sync = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
    done = std::make_shared<bool>(false);
    c.sync = sync;
    c.done = done;
  }
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->commands.push_back(std::move(c));
  }
  uint64_t one = 1;
  ssize_t ignored = write(w->inbox, &one, sizeof one);
  (void)ignored;
  if (wait) {
    std::unique_lock<std::mutex> lock(sync->first);
    sync->second.wait_for(lock, std::chrono::seconds(5), [&] { return *done; });
  }
}

// createRelay(controlFds: number[], opts: {udpIdleMs, pipeSize}, onError(msg)): handle
Napi::Value CreateRelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsObject() || !info[2].IsFunction())
    throw Napi::TypeError::New(env, "createRelay(controlFds, options, onError)");
  Napi::Array fds = info[0].As<Napi::Array>();
  Napi::Object opts = info[1].As<Napi::Object>();
  if (fds.Length() == 0) throw Napi::TypeError::New(env, "controlFds must not be empty");
  auto* e = new Engine();
  if (opts.Has("udpIdleMs") && opts.Get("udpIdleMs").IsNumber())
    e->udpIdleMs = opts.Get("udpIdleMs").As<Napi::Number>().Int64Value();
  if (opts.Has("pipeSize") && opts.Get("pipeSize").IsNumber())
    e->pipeSize = opts.Get("pipeSize").As<Napi::Number>().Int32Value();
  e->onError = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "rootless:relay", 0, 1);
  e->onError.Unref(env);
  for (uint32_t i = 0; i < fds.Length(); i++) {
    auto w = std::make_unique<Worker>();
    w->engine = e;
    w->index = static_cast<int>(i);
    w->ctl = fds.Get(i).As<Napi::Number>().Int32Value();
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->inbox = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->epfd < 0 || w->inbox < 0) {
      int err = errno;
      ThrowErrno(env, err, w->epfd < 0 ? "epoll_create1" : "eventfd");
    }
    SetNonBlocking(w->ctl);
    w->ctlEnd.w = w.get();
    w->inboxEnd.w = w.get();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = static_cast<Handler*>(&w->ctlEnd);
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ctl, &ev) != 0) ThrowErrno(env, errno, "epoll_ctl", "control socket");
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<Handler*>(&w->inboxEnd);
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inbox, &ev);
    e->workers.push_back(std::move(w));
  }
  for (auto& w : e->workers) {
    int rc = pthread_create(&w->thread, nullptr, WorkerMain, w.get());
    if (rc != 0) ThrowErrno(env, rc, "pthread_create");
  }
  std::lock_guard<std::mutex> lock(g_enginesMu);
  int h = g_nextEngine++;
  g_engines[h] = e;
  return Napi::Number::New(env, h);
}

// relayAdd(handle, portId, proto 'tcp'|'udp', fds: number[] (one per worker), childIP, childPort)
Napi::Value RelayAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* e = GetEngine(info);
  int portId = ArgInt(info, 1, "portId");
  std::string proto = ArgString(info, 2, "proto");
  if (info.Length() < 4 || !info[3].IsArray()) throw Napi::TypeError::New(env, "fds must be an array");
  Napi::Array fds = info[3].As<Napi::Array>();
  std::string ip = ArgString(info, 4, "childIP");
  int port = ArgInt(info, 5, "childPort");
  Target t;
  if (!ParseTarget(ip, port, &t)) throw Napi::TypeError::New(env, "childIP is not an IP address: " + ip);
  if (fds.Length() != e->workers.size()) throw Napi::TypeError::New(env, "one fd per worker");
  for (uint32_t i = 0; i < fds.Length(); i++) {
    Command c;
    c.kind = proto == "udp" ? Command::AddUdp : Command::AddTcp;
    c.portId = portId;
    c.fd = fds.Get(i).As<Napi::Number>().Int32Value();
    c.target = t;
    Post(e->workers[i].get(), std::move(c), false);
  }
  return env.Undefined();
}

// relayRemove(handle, portId): returns once no worker accepts on it any more.
Napi::Value RelayRemove(const Napi::CallbackInfo& info) {
  Engine* e = GetEngine(info);
  int portId = ArgInt(info, 1, "portId");
  for (auto& w : e->workers) {
    Command c;
    c.kind = Command::Remove;
    c.portId = portId;
    Post(w.get(), std::move(c), true);
  }
  return info.Env().Undefined();
}

Napi::Value RelayStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* e = GetEngine(info);
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<uint64_t>& v) { o.Set(k, static_cast<double>(v.load())); };
  set("connsAccepted", e->stats.connsAccepted);
  set("connsActive", e->stats.connsActive);
  set("connsRefused", e->stats.connsRefused);
  set("connsAborted", e->stats.connsAborted);
  set("flowsActive", e->stats.flowsActive);
  set("flowsExpired", e->stats.flowsExpired);
  set("udpIn", e->stats.udpIn);
  set("udpOut", e->stats.udpOut);
  set("udpDropped", e->stats.udpDropped);
  set("sourceKept", e->stats.sourceKept);
  set("sourceNotKept", e->stats.sourceNotKept);
  uint32_t st = e->stats.sourceStatus.load();
  if (st & kStatusKnown) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("on", (st & kStatusOn) != 0);
    s.Set("ipv6", (st & kStatusIPv6) != 0);
    s.Set("udp", (st & kStatusUdp) != 0);
    o.Set("source", s);
  }
  return o;
}

void FreeWorker(Worker* w) {
  // After the thread has ended: close everything it owned.
  for (auto& kv : w->ports) {
    if (auto* l = dynamic_cast<Listener*>(kv.second)) {
      close(l->fd);
      delete l;
    } else if (auto* u = dynamic_cast<UdpPort*>(kv.second)) {
      for (auto& f : u->flows) {
        if (f.second->fd >= 0) close(f.second->fd);
        f.second->dead = true;
        w->graveyard.push_back(f.second);
      }
      close(u->fd);
      delete u;
    }
  }
  // Connections still open (relaying, or waiting for the child): reset.
  for (Conn* c : w->conns) {
    for (int i = 0; i < 2; i++) {
      CloseReset(c->fd[i]);
      w->PutPipe(&c->dir[i].pipe, false);
    }
    c->dead = true;
    w->graveyard.push_back(c);
  }
  w->conns.clear();
  for (Handler* h : w->graveyard) delete h;
  for (Pipe& p : w->pipePool) {
    close(p.r);
    close(p.w);
  }
  close(w->epfd);
  close(w->inbox);
  close(w->ctl);
}

// relayStop(handle): ends the workers; open connections are reset.
Napi::Value RelayStop(const Napi::CallbackInfo& info) {
  int h = ArgInt(info, 0, "relay");
  Engine* e;
  {
    std::lock_guard<std::mutex> lock(g_enginesMu);
    auto it = g_engines.find(h);
    if (it == g_engines.end()) return info.Env().Undefined();
    e = it->second;
    g_engines.erase(it);
  }
  for (auto& w : e->workers) {
    Command c;
    c.kind = Command::Stop;
    Post(w.get(), std::move(c), false);
  }
  for (auto& w : e->workers) pthread_join(w->thread, nullptr);
  for (auto& w : e->workers) FreeWorker(w.get());
  e->onError.Release();
  delete e;
  return info.Env().Undefined();
}

// ---- sockets made by JavaScript's request ----------------------------------

// listenSocket(proto 'tcp'|'udp', ip, port, v6only: -1|0|1, reusePort): fd
Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string proto = ArgString(info, 0, "proto");
  std::string ip = ArgString(info, 1, "ip");
  int port = ArgInt(info, 2, "port");
  int v6only = ArgInt(info, 3, "v6only");
  bool reusePort = info.Length() > 4 && info[4].ToBoolean().Value();
  bool udp = proto == "udp";
  std::string subject = (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port) + "/" + proto;
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
    family = AF_INET;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *s4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
    family = AF_INET6;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *s6;
  } else {
    ThrowErrno(env, EINVAL, "bind", subject);
  }
  int fd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", subject);
  int one = 1;
  if (!udp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reusePort) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (family == AF_INET6 && v6only >= 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  if (udp) {
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind", subject);
  }
  if (!udp && listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "listen", subject);
  }
  return Napi::Number::New(env, fd);
}

// socketpairSeqpacket(): [fd, fd], both close-on-exec.
Napi::Value SocketpairSeqpacket(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) ThrowErrno(info.Env(), errno, "socketpair");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, sv[0]);
  a.Set(1u, sv[1]);
  return a;
}

// ---- child: the connector --------------------------------------------------

struct Connector;

struct OutReply {
  WireReply rep;
  int fd;
};

struct CtlSock : Handler {
  Connector* c = nullptr;
  int fd = -1;
  std::deque<OutReply> out;
  bool wantsWrite = false;
  void OnEvent(uint32_t events) override;
  void Reply(uint32_t id, int err, int sock, uint32_t flags = 0);
  void Flush();
};

struct Connecting : Handler {
  Connector* c = nullptr;
  CtlSock* ctl = nullptr;
  uint32_t id = 0;
  int fd = -1;
  uint32_t flags = 0;
  int64_t deadline = 0;
  void OnEvent(uint32_t events) override;
};

// ---- child: source addresses ------------------------------------------------
//
// The connector makes each connection (TCP) or flow socket (UDP) inside
// from the client's own address and port: IP_TRANSPARENT / IPV6_TRANSPARENT
// lets it bind an address that is not local. The target answers to that
// address, which the namespace would route out of its default route (or
// find unreachable); rules send the answers to lo, where they reach the
// transparent socket:
//  - TCP: the socket carries SO_MARK kMark; with net.ipv4.tcp_fwmark_accept
//    the accepted socket inherits it from the SYN, so everything the target
//    sends on that connection matches "fwmark kMark lookup kTcpTable", a
//    table with "local default dev lo". Only our sockets carry the mark;
//    with net.ipv{4,6}.fwmark_reflect the kernel's RST or ICMP error for
//    one of our packets carries it too.
//  - UDP: the target answers from its one unconnected socket, which no mark
//    reaches. A rule per published port ("ipproto udp sport PORT lookup T")
//    points at a table per target address holding "local CLIENT dev lo src
//    TARGET" for each client with a live flow (src: a wildcard-bound server
//    then answers from the address the flow is connected to). Datagrams the
//    service sends from PORT to any other address find no route in T and
//    fall through to the main table as before.
// Loopback clients (127.0.0.0/8, ::1) need none of it: their addresses are
// local inside too.
constexpr uint32_t kMark = 0x72730001;
constexpr uint32_t kTcpTable = 7273;
constexpr uint32_t kUdpTableBase = 7274;
constexpr uint32_t kTcpPriority = 7273;
constexpr uint32_t kUdpPriority = 7274;

enum SourceMode { kSourceOff = 0, kSourceKeep = 1, kSourceLoopbackOnly = 2 };

struct ClientSource {
  int family = 0;
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool loopback = false;
  const uint8_t* raw = nullptr;  // the address bytes (4 or 16)
};

struct SourceRouting {
  int mode = kSourceOff;
  bool on = false, ipv6 = false, udp = false;
  std::string warning;
  nl::Socket nl;
  std::map<std::string, uint32_t> udpTables;  // family + target address -> table
  std::set<std::string> udpRules;             // family + port + table
  std::map<std::string, int> udpRoutes;       // family + table + client -> flows

  void Setup();
  bool Client(const WireRequest& req, ClientSource* out) const;
  int AcquireUdp(const WireRequest& req, const ClientSource& src);
  void ReleaseUdp(const WireRequest& req);
  std::string RouteKey(const WireRequest& req, const ClientSource& src, uint32_t* table);
};

struct Connector {
  int epfd = -1;
  std::vector<CtlSock*> ctls;
  std::vector<Connecting*> connecting;
  std::vector<Handler*> graveyard;
  int open = 0;
  int64_t connectTimeoutMs = 30000;
  // --detach-netns: the namespace to connect in (this thread only), and
  // the errno if entering it failed (every request then gets it).
  int netnsFd = -1;
  int netnsErr = 0;
  SourceRouting source;
  // Set once the thread is in its namespace and routing is set up.
  std::mutex readyMu;
  std::condition_variable readyCv;
  bool ready = false;
  void Run();
  void Request(CtlSock* ctl, const WireRequest& req);
  int KeptSocket(const WireRequest& req, const ClientSource& src, int type);
};

std::string SetupStep(const char* what, int err) { return std::string(what) + ": " + ErrnoName(err); }

void SourceRouting::Setup() {
  if (mode == kSourceLoopbackOnly) {
    on = ipv6 = true;
    return;
  }
  if (int err = nl.Open()) {
    warning = SetupStep("rtnetlink socket", err);
    return;
  }
  if (int err = nl::WriteSysctl("/proc/sys/net/ipv4/tcp_fwmark_accept", "1")) {
    warning = SetupStep("net.ipv4.tcp_fwmark_accept", err);
    return;
  }
  // The kernel's own answers (a RST when nothing listens, ICMP port
  // unreachable) carry the mark of what they answer, so they come back too:
  // a refused connect is refused at once, not timed out.
  if (int err = nl::WriteSysctl("/proc/sys/net/ipv4/fwmark_reflect", "1")) {
    warning = SetupStep("net.ipv4.fwmark_reflect", err);
    return;
  }
  nl::WriteSysctl("/proc/sys/net/ipv6/fwmark_reflect", "1");  // absent without IPv6
  // Per family: the TCP table and rule, and a probe of a transparent socket.
  auto family = [&](int fam) -> std::string {
    nl::LocalRoute r;
    r.family = fam;
    r.table = kTcpTable;
    if (int err = nl.Do(nl::EncodeRoute(r, true, nl.NextSeq()))) return SetupStep("local route", err);
    nl::Rule rule;
    rule.family = fam;
    rule.priority = kTcpPriority;
    rule.table = kTcpTable;
    rule.fwmark = kMark;
    if (int err = nl.Do(nl::EncodeRule(rule, true, nl.NextSeq()))) return SetupStep("fwmark rule", err);
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SetupStep("socket", errno);
    int one = 1;
    uint32_t mark = kMark;
    std::string why;
    if (setsockopt(fd, fam == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP, fam == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof one) != 0)
      why = SetupStep(fam == AF_INET6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT", errno);
    else if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      why = SetupStep("SO_MARK", errno);
    close(fd);
    return why;
  };
  std::string v4 = family(AF_INET);
  if (!v4.empty()) {
    warning = v4;
    return;
  }
  on = true;
  std::string v6 = family(AF_INET6);
  ipv6 = v6.empty();
  // A namespace without IPv6 has no IPv6 clients to lose: no warning.
  if (!ipv6 && v6.find("EAFNOSUPPORT") == std::string::npos) warning = "IPv6: " + v6;
  // UDP needs rules keyed on the source port (Linux 4.17): probe one.
  nl::Rule probe;
  probe.family = AF_INET;
  probe.priority = kUdpPriority;
  probe.table = kUdpTableBase;
  probe.ipproto = IPPROTO_UDP;
  probe.sport = 65534;  // the kernel takes ports 1-65534 in a range
  int err = nl.Do(nl::EncodeRule(probe, true, nl.NextSeq()));
  if (err == 0) err = nl.Do(nl::EncodeRule(probe, false, nl.NextSeq()));
  udp = err == 0;
  if (!udp) warning = (warning.empty() ? "" : warning + "; ") + "UDP: " + SetupStep("ipproto/sport rule", err);
}

bool IsV4Mapped(const uint8_t* a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, prefix, 12) == 0;
}

// The client's address in the target's family, or false when the
// connection must come from the child's own address: none sent, another
// family (an IPv6 client of an IPv4 target), link-local, or not set up.
bool SourceRouting::Client(const WireRequest& req, ClientSource* out) const {
  if (!on || req.srcFamily == 0) return false;
  const uint8_t* a = req.srcAddr;
  int fam = req.srcFamily;
  if (fam == AF_INET6 && req.family == AF_INET && IsV4Mapped(a)) {
    fam = AF_INET;
    a += 12;
  }
  if (fam != req.family) return false;
  out->family = fam;
  out->raw = a;
  if (fam == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&out->addr);
    s->sin_family = AF_INET;
    s->sin_port = htons(req.srcPort);
    std::memcpy(&s->sin_addr, a, 4);
    out->len = sizeof *s;
    out->loopback = a[0] == 127;
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&out->addr);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(req.srcPort);
    std::memcpy(&s->sin6_addr, a, 16);
    out->len = sizeof *s;
    out->loopback = IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) return false;
  }
  if (out->loopback) return true;
  if (mode == kSourceLoopbackOnly) return false;
  if (fam == AF_INET6 && !ipv6) return false;
  if (req.proto == kProtoUdp && !udp) return false;
  return true;
}

std::string SourceRouting::RouteKey(const WireRequest& req, const ClientSource& src, uint32_t* table) {
  size_t n = req.family == AF_INET6 ? 16 : 4;
  std::string target(1, static_cast<char>(req.family));
  target.append(reinterpret_cast<const char*>(req.addr), n);
  auto it = udpTables.find(target);
  if (it == udpTables.end()) it = udpTables.emplace(target, kUdpTableBase + static_cast<uint32_t>(udpTables.size())).first;
  *table = it->second;
  std::string key = target;
  key.append(reinterpret_cast<const char*>(src.raw), n);
  return key;
}

// Routes this flow's answers to lo: the port's rule (once) and the client's
// local route in the target's table (counted per flow). 0 or errno.
int SourceRouting::AcquireUdp(const WireRequest& req, const ClientSource& src) {
  uint32_t table;
  std::string key = RouteKey(req, src, &table);
  std::string ruleKey = std::string(1, static_cast<char>(req.family)) + std::to_string(req.port) + "/" + std::to_string(table);
  if (udpRules.count(ruleKey) == 0) {
    nl::Rule r;
    r.family = req.family;
    r.priority = kUdpPriority;
    r.table = table;
    r.ipproto = IPPROTO_UDP;
    r.sport = req.port;
    if (int err = nl.Do(nl::EncodeRule(r, true, nl.NextSeq()))) return err;
    udpRules.insert(ruleKey);
  }
  int& count = udpRoutes[key];
  if (count == 0) {
    nl::LocalRoute r;
    r.family = req.family;
    r.table = table;
    size_t n = req.family == AF_INET6 ? 16 : 4;
    std::memcpy(r.dst, src.raw, n);
    r.dstLen = static_cast<uint8_t>(n * 8);
    r.hasPrefsrc = true;
    std::memcpy(r.prefsrc, req.addr, n);
    if (int err = nl.Do(nl::EncodeRoute(r, true, nl.NextSeq()))) {
      udpRoutes.erase(key);
      return err;
    }
  }
  count++;
  return 0;
}

void SourceRouting::ReleaseUdp(const WireRequest& req) {
  ClientSource src;
  if (!Client(req, &src) || src.loopback) return;
  uint32_t table;
  std::string key = RouteKey(req, src, &table);
  auto it = udpRoutes.find(key);
  if (it == udpRoutes.end() || --it->second > 0) return;
  udpRoutes.erase(it);
  nl::LocalRoute r;
  r.family = req.family;
  r.table = table;
  size_t n = req.family == AF_INET6 ? 16 : 4;
  std::memcpy(r.dst, src.raw, n);
  r.dstLen = static_cast<uint8_t>(n * 8);
  nl.Do(nl::EncodeRoute(r, false, nl.NextSeq()));
}

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
  sockaddr_storage ss{};
  socklen_t len;
  if (req.family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(req.port);
    std::memcpy(&s->sin_addr, req.addr, 4);
    len = sizeof *s;
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(req.port);
    std::memcpy(&s->sin6_addr, req.addr, 16);
    len = sizeof *s;
  }
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

// startConnector(controlFds: number[], connectTimeoutMs, netnsPath?,
// sourceMode?): runs until every control socket is closed by the parent.
// sourceMode 1 keeps client addresses (sets up the namespace's routing
// first), 2 keeps only loopback ones (no routing: for tests outside a
// namespace). Returns {on, ipv6, udp, warning?} once set up.
Napi::Value StartConnector(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "startConnector(controlFds)");
  Napi::Array fds = info[0].As<Napi::Array>();
  auto* c = new Connector();  // lives as long as the process
  if (info.Length() > 1 && info[1].IsNumber()) c->connectTimeoutMs = info[1].As<Napi::Number>().Int64Value();
  if (info.Length() > 2 && info[2].IsString()) {
    std::string ns = info[2].As<Napi::String>().Utf8Value();
    c->netnsFd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (c->netnsFd < 0) ThrowErrno(env, errno, "open", ns);
  }
  if (info.Length() > 3 && info[3].IsNumber()) {
    int mode = info[3].As<Napi::Number>().Int32Value();
    if (mode < kSourceOff || mode > kSourceLoopbackOnly) throw Napi::TypeError::New(env, "sourceMode must be 0, 1 or 2");
    c->source.mode = mode;
  }
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->epfd < 0) ThrowErrno(env, errno, "epoll_create1");
  for (uint32_t i = 0; i < fds.Length(); i++) {
    auto* s = new CtlSock();
    s->c = c;
    s->fd = fds.Get(i).As<Napi::Number>().Int32Value();
    SetNonBlocking(s->fd);
    fcntl(s->fd, F_SETFD, FD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = static_cast<Handler*>(s);
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) ThrowErrno(env, errno, "epoll_ctl", "port control socket");
    c->ctls.push_back(s);
    c->open++;
  }
  pthread_t t;
  int rc = pthread_create(&t, nullptr, ConnectorMain, c);
  if (rc != 0) ThrowErrno(env, rc, "pthread_create");
  pthread_detach(t);
  {
    // Setup is a few netlink round trips; the child starts the target after.
    std::unique_lock<std::mutex> lock(c->readyMu);
    c->readyCv.wait(lock, [&] { return c->ready; });
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("on", c->source.on);
  o.Set("ipv6", c->source.on && c->source.ipv6);
  o.Set("udp", c->source.on && c->source.udp);
  if (!c->source.warning.empty()) o.Set("warning", c->source.warning);
  return o;
}

// encodeNetlink('rule' | 'route', add, {family: 4|6, table, priority?,
// fwmark?, ipproto?, sport?, dst?, prefsrc?}): the request bytes the
// connector would send (unit tests decode them).
Napi::Value EncodeNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = ArgString(info, 0, "kind");
  bool add = info.Length() > 1 && info[1].ToBoolean().Value();
  if (info.Length() < 3 || !info[2].IsObject()) throw Napi::TypeError::New(env, "spec must be an object");
  Napi::Object o = info[2].As<Napi::Object>();
  auto num = [&](const char* k) -> uint32_t {
    return o.Has(k) && o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().Uint32Value() : 0;
  };
  int family = num("family") == 6 ? AF_INET6 : AF_INET;
  auto addr = [&](const char* k, uint8_t* out) -> bool {
    if (!o.Has(k) || !o.Get(k).IsString()) return false;
    std::string s = o.Get(k).As<Napi::String>().Utf8Value();
    if (inet_pton(family, s.c_str(), out) != 1) throw Napi::TypeError::New(env, std::string(k) + " is not an address: " + s);
    return true;
  };
  std::vector<uint8_t> b;
  if (kind == "rule") {
    nl::Rule r;
    r.family = family;
    r.table = num("table");
    r.priority = num("priority");
    r.fwmark = num("fwmark");
    r.ipproto = static_cast<uint8_t>(num("ipproto"));
    r.sport = static_cast<uint16_t>(num("sport"));
    b = nl::EncodeRule(r, add, 1);
  } else if (kind == "route") {
    nl::LocalRoute r;
    r.family = family;
    r.table = num("table");
    if (addr("dst", r.dst)) r.dstLen = family == AF_INET6 ? 128 : 32;
    r.hasPrefsrc = addr("prefsrc", r.prefsrc);
    b = nl::EncodeRoute(r, add, 1);
  } else {
    throw Napi::TypeError::New(env, "kind must be rule or route");
  }
  return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size());
}

}  // namespace

void InitPort(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeNetlink", Napi::Function::New(env, EncodeNetlink, "encodeNetlink"));
  exports.Set("createRelay", Napi::Function::New(env, CreateRelay, "createRelay"));
  exports.Set("relayAdd", Napi::Function::New(env, RelayAdd, "relayAdd"));
  exports.Set("relayRemove", Napi::Function::New(env, RelayRemove, "relayRemove"));
  exports.Set("relayStats", Napi::Function::New(env, RelayStats, "relayStats"));
  exports.Set("relayStop", Napi::Function::New(env, RelayStop, "relayStop"));
  exports.Set("listenSocket", Napi::Function::New(env, ListenSocket, "listenSocket"));
  exports.Set("socketpairSeqpacket", Napi::Function::New(env, SocketpairSeqpacket, "socketpairSeqpacket"));
  exports.Set("startConnector", Napi::Function::New(env, StartConnector, "startConnector"));
}

}  // namespace rootless
