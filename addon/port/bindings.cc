// What JavaScript calls of the builtin port driver (declared in
// src/sys/native.ts): the relay engine's handles, the host sockets (so bind
// errors like EADDRINUSE come back synchronously, naming the address), the
// child's connector, and the netlink encoder for unit tests.
#include "../common.h"
#include "connector.h"
#include "netlink.h"
#include "relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace rootless {
namespace port {
namespace {

// Never destroyed (as procwatch.cc's): the worker threads may still run
// while exit() destroys static objects.
std::mutex& g_enginesMu = *new std::mutex;
std::unordered_map<int, Engine*>& g_engines = *new std::unordered_map<int, Engine*>;
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
  // "relay-HANDLE.WORKER" in ps -L, top -H and /proc/PID/task/*/comm.
  for (auto& w : e->workers) pthread_setname_np(w->thread, ("relay-" + std::to_string(h) + "." + std::to_string(w->index)).substr(0, 15).c_str());
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
    Post(e->workers[i].get(), std::move(c));
  }
  return env.Undefined();
}

// relayRemove(handle, portId): Promise, resolved once no worker accepts on
// the port any more. A busy worker delays it, not the JS thread.
Napi::Value RelayRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* e = GetEngine(info);
  int portId = ArgInt(info, 1, "portId");
  auto done = std::make_shared<Completion>();
  done->deferred = new Napi::Promise::Deferred(env);
  Napi::Promise promise = done->deferred->Promise();
  done->left = e->workers.size();
  done->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "rootless:relayRemove", 0, 1);
  for (auto& w : e->workers) {
    Command c;
    c.kind = Command::Remove;
    c.portId = portId;
    c.done = done;
    Post(w.get(), std::move(c));
  }
  return promise;
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
    Post(w.get(), std::move(c));
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
  Target t;
  if (!ParseTarget(ip, port, &t)) ThrowErrno(env, EINVAL, "bind", subject);
  int family = t.family;
  sockaddr_storage ss;
  socklen_t len = SockaddrOf(t.family, t.addr, t.port, &ss);
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
  pthread_setname_np(t, "port-connector");
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
}  // namespace port

void InitPort(Napi::Env env, Napi::Object exports) {
  using namespace port;
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
