// Descriptors over unix sockets (SCM_RIGHTS), for the session socket
// (src/session/): Node's net module can neither send nor receive them.
// The client connects and sends its first message with the fds in one
// synchronous call, so the agent, which reads that first message here
// before Node reads the connection, never waits on the client's event loop.
#include "common.h"
#include "cmsg.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace rootless {
namespace {

constexpr size_t kMaxFds = 8;

// connectUnix(path) -> fd: a blocking, close-on-exec SOCK_STREAM connection.
Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) ThrowErrno(env, ENAMETOOLONG, "connect", path);
  std::memcpy(a.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", path);
  int r;
  do r = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EISCONN) {
    int e = errno;
    close(fd);
    ThrowErrno(env, e, "connect", path);
  }
  return Napi::Number::New(env, fd);
}

// sendFds(sock, data, fds): all of data, the fds attached to its first byte.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgInt(info, 0, "sock");
  if (info.Length() < 3 || !info[1].IsBuffer() || !info[2].IsArray())
    throw Napi::TypeError::New(env, "sendFds(sock, data: Buffer, fds: number[])");
  auto data = info[1].As<Napi::Buffer<char>>();
  auto list = info[2].As<Napi::Array>();
  if (data.Length() == 0 || list.Length() > kMaxFds) throw Napi::TypeError::New(env, "sendFds: empty data or too many fds");
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "sendFds: fds must be numbers");
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  CmsgSpace<sizeof(int) * kMaxFds> ctl;
  size_t off = 0;
  while (off < data.Length()) {
    iovec iov{data.Data() + off, data.Length() - off};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (off == 0 && !fds.empty()) AttachCmsg(m, ctl.buf, SOL_SOCKET, SCM_RIGHTS, fds.data(), sizeof(int) * fds.size());
    ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{sock, POLLOUT, 0};
        poll(&p, 1, -1);
        continue;
      }
      ThrowErrno(env, errno, "sendmsg");
    }
    off += static_cast<size_t>(n);
  }
  return env.Undefined();
}

// recvFds(sock, maxBytes, timeoutMs) -> { data, fds } | null (nothing came
// in time). Waits for the first bytes, then takes what is there with the
// fds that came with them (close-on-exec). Empty data: the peer's EOF.
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgInt(info, 0, "sock");
  int max = ArgInt(info, 1, "maxBytes");
  int timeout = ArgInt(info, 2, "timeoutMs");
  if (max <= 0) throw Napi::TypeError::New(env, "maxBytes must be positive");
  pollfd p{sock, POLLIN, 0};
  int r;
  do r = poll(&p, 1, timeout);
  while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(env, errno, "poll");
  if (r == 0) return env.Null();
  std::vector<char> buf(static_cast<size_t>(max));
  CmsgSpace<sizeof(int) * kMaxFds> ctl;
  iovec iov{buf.data(), buf.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.buf;
  m.msg_controllen = sizeof ctl.buf;
  ssize_t n;
  do n = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "recvmsg");
  Napi::Array fds = Napi::Array::New(env);
  uint32_t k = 0;
  ForEachReceivedFd(m, [&](int f) { fds.Set(k++, f); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(n)));
  o.Set("fds", fds);
  return o;
}

}  // namespace

void InitFdPass(Napi::Env env, Napi::Object exports) {
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix, "connectUnix"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
}

}  // namespace rootless
