// The child's half of the builtin port driver: one connector thread, epoll
// over the control sockets and the non-blocking connects in progress (see
// wire.h for the design).
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "sockets.h"
#include "source_routing.h"
#include "wire.h"

namespace rootless {
namespace port {

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

// The connector's thread: enters the namespace, sets up source routing,
// reports ready, then serves until every control socket is closed.
void* ConnectorMain(void* arg);

}  // namespace port
}  // namespace rootless
