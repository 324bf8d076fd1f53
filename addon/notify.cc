// The NOTIFY_SOCKET relay (src/parent/notify.ts): a unix datagram socket in
// the session's state dir, read by one native thread that forwards each
// datagram to the service manager's socket (a path or an abstract name,
// which a new network namespace cannot reach).
//
// A thread, not the event loop: N-API has no fd watcher (libuv is not part
// of it), and a send to a busy service manager blocks until it reads (at
// most kSendTimeoutSec); the launcher's event loop must not wait on that.
// The thread owns both sockets once started; JavaScript only hears what
// was relayed (for the log).
//
// Each datagram is forwarded whole (its size is read first, nothing is
// truncated), with "MAINPID=" lines dropped and "MAINPID=<mainPid>"
// appended: the sender systemd sees is the launcher, its main process. When
// the line would push a datagram the manager accepts (<= limit) over the
// limit, it goes in a datagram of its own just before. File descriptors
// (FDSTORE=1) go along with the message, then are closed here.
#include "common.h"
#include "cmsg.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rootless {
namespace {

// SCM_MAX_FD in the kernel: the most fds one message carries.
constexpr size_t kMaxFds = 253;
constexpr time_t kSendTimeoutSec = 5;

struct Relayed {
  std::string message;  // the datagram as received
  int fds;              // descriptors that came with it
  int senderPid;        // as this process sees it (SO_PASSCRED), 0 if unknown
  int error;            // errno of the forward, 0 when it was sent
  bool fdsTruncated;    // MSG_CTRUNC: the kernel dropped some descriptors
  bool stopped;         // the last event: the relay is done
};

struct Relay {
  int sock = -1;     // bound in the state dir
  int out = -1;      // unbound, sends to the manager
  int stopFd = -1;   // eventfd
  sockaddr_un addr{};
  socklen_t addrLen = 0;
  std::string dropPrefix;
  std::string append;
  size_t limit = 0;
  Napi::ThreadSafeFunction onRelayed;
  // Closed by whoever lets go last: the thread, or NotifyRelayStop (which
  // writes to stopFd, so it must not be closed under it).
  ~Relay() {
    if (sock >= 0) close(sock);
    if (out >= 0) close(out);
    if (stopFd >= 0) close(stopFd);
  }
};

// Never destroyed (as procwatch.cc's): the relay threads are detached and
// may still run while exit() destroys static objects.
std::mutex& g_mutex = *new std::mutex;
std::unordered_map<int, std::shared_ptr<Relay>>& g_relays = *new std::unordered_map<int, std::shared_ptr<Relay>>;  // by stopFd
int g_next = 1;

void CloseFds(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

int SendOne(Relay& r, const std::string& data, const std::vector<int>& fds, int flags) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr mh{};
  mh.msg_name = &r.addr;
  mh.msg_namelen = r.addrLen;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    AttachCmsg(mh, control.data(), SOL_SOCKET, SCM_RIGHTS, fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (sendmsg(r.out, &mh, MSG_NOSIGNAL | flags) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// The message without the sender's MAINPID= lines.
std::string Strip(const std::string& msg, const std::string& prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < msg.size()) {
    size_t nl = msg.find('\n', pos);
    size_t end = nl == std::string::npos ? msg.size() : nl;
    bool drop = end - pos >= prefix.size() && msg.compare(pos, prefix.size(), prefix) == 0;
    if (!drop) {
      if (!out.empty()) out += '\n';
      out.append(msg, pos, end - pos);
    }
    pos = end + 1;
  }
  return out;
}

int Forward(Relay& r, const std::string& msg, const std::vector<int>& fds, int flags) {
  std::string body = Strip(msg, r.dropPrefix);
  std::string joined = body.empty() ? r.append : body + "\n" + r.append;
  if (joined.size() <= r.limit || body.empty()) return SendOne(r, joined, fds, flags);
  // Over the limit with our line: the line alone first, then the message
  // as the sender meant it (which the manager judges by its own limit).
  int err = SendOne(r, r.append, {}, flags);
  return err ? err : SendOne(r, body, fds, flags);
}

void Deliver(Relay& r, Relayed* ev) {
  napi_status s = r.onRelayed.NonBlockingCall(ev, [](Napi::Env env, Napi::Function cb, Relayed* e) {
    if (env != nullptr && cb != nullptr) {
      Napi::Object o = Napi::Object::New(env);
      if (e->stopped) o.Set("stopped", true);
      o.Set("message", Napi::String::New(env, e->message));
      o.Set("fds", e->fds);
      o.Set("senderPid", e->senderPid);
      if (e->error) o.Set("error", ErrnoName(e->error));
      if (e->fdsTruncated) o.Set("fdsTruncated", true);
      cb.Call({o});
    }
    delete e;
  });
  if (s != napi_ok) delete ev;
}

void Loop(std::shared_ptr<Relay> r) {
  std::vector<char> buf(4096);
  std::vector<char> control(CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kMaxFds));
  // Once stopped, what is queued still goes out (the target's last words,
  // e.g. STOPPING=1 or a STATUS, sent just before it exited), then the end.
  bool stopping = false;
  for (;;) {
    if (!stopping) {
      pollfd p[2] = {{r->sock, POLLIN, 0}, {r->stopFd, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (p[1].revents) stopping = true;
      else if (!(p[0].revents & POLLIN)) break;
    }
    // The size of the next datagram (unix sockets report exactly that).
    int next = 0;
    if (ioctl(r->sock, FIONREAD, &next) == 0 && static_cast<size_t>(next) > buf.size()) buf.resize(next);
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.data();
    mh.msg_controllen = control.size();
    ssize_t n = recvmsg(r->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || (errno == EAGAIN && !stopping)) continue;
      break;
    }
    std::vector<int> fds;
    int pid = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_RIGHTS) {
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        size_t at = fds.size();
        fds.resize(at + k);
        memcpy(fds.data() + at, CMSG_DATA(c), k * sizeof(int));
      } else if (c->cmsg_type == SCM_CREDENTIALS) {
        ucred uc;
        memcpy(&uc, CMSG_DATA(c), sizeof(uc));
        pid = uc.pid;
      }
    }
    auto* ev = new Relayed{std::string(buf.data(), static_cast<size_t>(n)), static_cast<int>(fds.size()), pid, 0,
                           (mh.msg_flags & MSG_CTRUNC) != 0, false};
    // Draining at the end: a manager whose queue is full loses the rest
    // (reported) rather than hold the launcher's exit.
    if (n > 0) ev->error = Forward(*r, ev->message, fds, stopping ? MSG_DONTWAIT : 0);
    CloseFds(fds);
    Deliver(*r, ev);
  }
  Deliver(*r, new Relayed{"", 0, 0, 0, false, true});
  r->onRelayed.Release();
}

bool ParseAddress(const std::string& a, sockaddr_un* sa, socklen_t* len) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (a.size() < 2 || a.size() > sizeof(sa->sun_path) - (a[0] == '/' ? 1 : 0)) return false;
  if (a[0] != '/' && a[0] != '@') return false;
  memcpy(sa->sun_path, a.data(), a.size());
  if (a[0] == '@') sa->sun_path[0] = '\0';
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.size() + (a[0] == '/' ? 1 : 0));
  return true;
}

// notifyRelayStart(listenPath, managerAddress, {dropPrefix, append, limit}, onRelayed) -> handle
Napi::Value NotifyRelayStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string listenPath = ArgString(info, 0, "listenPath");
  std::string manager = ArgString(info, 1, "managerAddress");
  if (info.Length() < 4 || !info[2].IsObject() || !info[3].IsFunction())
    throw Napi::TypeError::New(env, "notifyRelayStart(listenPath, managerAddress, options, onRelayed)");
  Napi::Object o = info[2].As<Napi::Object>();
  auto r = std::make_shared<Relay>();
  r->dropPrefix = o.Get("dropPrefix").As<Napi::String>().Utf8Value();
  r->append = o.Get("append").As<Napi::String>().Utf8Value();
  r->limit = o.Get("limit").As<Napi::Number>().Uint32Value();

  if (!ParseAddress(manager, &r->addr, &r->addrLen)) ThrowErrno(env, EINVAL, "notify socket", manager);
  sockaddr_un local{};
  socklen_t localLen;
  if (listenPath[0] != '/' || !ParseAddress(listenPath, &local, &localLen))
    ThrowErrno(env, ENAMETOOLONG, "bind", listenPath);

  r->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (r->sock < 0) ThrowErrno(env, errno, "socket");
  auto fail = [&](const char* what, const std::string& subject) { ThrowErrno(env, errno, what, subject); };
  // The socket file is made 0600 at bind (the mode of the socket inode,
  // minus the umask), never briefly wider.
  if (fchmod(r->sock, 0600) != 0) fail("fchmod", listenPath);
  if (bind(r->sock, reinterpret_cast<sockaddr*>(&local), localLen) != 0) fail("bind", listenPath);
  int one = 1;
  if (setsockopt(r->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) fail("setsockopt", "SO_PASSCRED");
  r->out = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (r->out < 0) fail("socket", "");
  // A manager that reads nothing for this long (its queue full) loses the
  // message (EAGAIN, reported): the launcher's exit waits for the relay
  // (what the target said last is relayed), so a send must end.
  timeval sndtimeo{kSendTimeoutSec, 0};
  if (setsockopt(r->out, SOL_SOCKET, SO_SNDTIMEO, &sndtimeo, sizeof(sndtimeo)) != 0) fail("setsockopt", "SO_SNDTIMEO");
  r->stopFd = eventfd(0, EFD_CLOEXEC);
  if (r->stopFd < 0) fail("eventfd", "");

  r->onRelayed = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "rootless:notify", 0, 1);
  // Referenced: the launcher awaits {stopped} at the end of a session.
  int handle;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    handle = g_next++;
    g_relays[handle] = r;
  }
  std::thread(Loop, r).detach();
  return Napi::Number::New(env, handle);
}

// Ends the relay: its thread forwards what is queued (without waiting on
// a full manager), reports {stopped}, and closes the sockets.
Napi::Value NotifyRelayStop(const Napi::CallbackInfo& info) {
  int handle = ArgInt(info, 0, "handle");
  std::shared_ptr<Relay> r;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_relays.find(handle);
    if (it == g_relays.end()) return info.Env().Undefined();
    r = it->second;
    g_relays.erase(it);
  }
  uint64_t one = 1;
  ssize_t w = write(r->stopFd, &one, sizeof(one));
  (void)w;
  return info.Env().Undefined();
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("notifyRelayStart", Napi::Function::New(env, NotifyRelayStart, "notifyRelayStart"));
  exports.Set("notifyRelayStop", Napi::Function::New(env, NotifyRelayStop, "notifyRelayStop"));
}

}  // namespace rootless
