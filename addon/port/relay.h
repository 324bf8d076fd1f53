// The parent's half of the builtin port driver: the relay engine, W worker
// threads that share nothing (see wire.h for the design). Its parts:
// tcp_relay.cc (splice), udp_relay.cc (flows, batches, GSO), control.cc (the
// requests to the child and its replies), worker.cc (the loop, commands).
#pragma once
#include <napi.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sockets.h"
#include "wire.h"

namespace rootless {
namespace port {

struct Worker;

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

// A published port's socket in one worker: a Listener (TCP) or a UdpPort.
struct PortSocket : Handler {
  Worker* w = nullptr;
  int fd = -1;
  int portId = 0;
  Target target;
};

struct Listener : PortSocket {
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

struct UdpPort : PortSocket {
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

// A promise resolved on the JS thread once every worker has run its part
// of a command: the wait is the workers', the JS thread goes on meanwhile.
// Shared by the commands, not the engine: it may outlive a relayStop.
struct Completion {
  std::atomic<size_t> left{0};
  Napi::ThreadSafeFunction tsfn;
  Napi::Promise::Deferred* deferred = nullptr;
  // One worker is done (or will never run it: it has ended).
  void Done();
};

struct Command {
  enum Kind { AddTcp, AddUdp, Remove, Stop } kind;
  int portId = 0;
  int fd = -1;  // AddTcp, AddUdp: the worker owns it
  Target target;
  // Remove: resolved once no worker accepts on the port any more.
  std::shared_ptr<Completion> done;
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
  bool exited = false;  // under mu: the loop has ended, commands are not run
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
  void ForgetFlow(Flow* f);
  void PrepareBatch(bool withAddrs);
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

// Sends m datagrams (one iovec each) on fd, to `to` if given; returns how
// many went out (udp_relay.cc).
int SendDatagrams(Worker* w, int fd, iovec* iov, int m, sockaddr_storage* to, socklen_t toLen);

// The worker's thread (worker.cc).
void* WorkerMain(void* arg);
// Queues a command for the worker and wakes it.
void Post(Worker* w, Command c);
// After the thread has ended: closes everything the worker owned.
void FreeWorker(Worker* w);

}  // namespace port
}  // namespace rootless
