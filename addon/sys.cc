// Thin wrappers over system calls Node does not expose. Each throws an
// Error carrying the errno name, the syscall and the object it was about.
#include "common.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace rootless {
namespace {

Napi::Value Pipe2(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) ThrowErrno(info.Env(), errno, "pipe2");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

// memfdCreate(name) -> fd (close-on-exec): an anonymous file, for data that
// must survive an execve but is too big for its argv or environment.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  int fd = static_cast<int>(syscall(SYS_memfd_create, name.c_str(), 1U /* MFD_CLOEXEC */));
  if (fd < 0) ThrowErrno(info.Env(), errno, "memfd_create", name);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  if (close(fd) != 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close", std::to_string(fd));
  return info.Env().Undefined();
}

// flock(fd, exclusive, nonblocking) -> true, or false when it would block.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  int op = info[1].ToBoolean() ? LOCK_EX : LOCK_SH;
  if (info[2].ToBoolean()) op |= LOCK_NB;
  int rc;
  do {
    rc = flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "flock", std::to_string(fd));
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Capget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) != 0) ThrowErrno(env, errno, "capget");
  auto join = [&](uint32_t lo, uint32_t hi) { return Napi::BigInt::New(env, (static_cast<uint64_t>(hi) << 32) | lo); };
  Napi::Object r = Napi::Object::New(env);
  r.Set("effective", join(data[0].effective, data[1].effective));
  r.Set("permitted", join(data[0].permitted, data[1].permitted));
  r.Set("inheritable", join(data[0].inheritable, data[1].inheritable));
  return r;
}

Napi::Value SetPdeathsig(const Napi::CallbackInfo& info) {
  int sig = ArgInt(info, 0, "signal");
  if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0) ThrowErrno(info.Env(), errno, "prctl(PR_SET_PDEATHSIG)");
  return info.Env().Undefined();
}

const char* OptString(const Napi::Value& v, std::string& store) {
  if (!v.IsString()) return nullptr;
  store = v.As<Napi::String>().Utf8Value();
  return store.c_str();
}

// mount(source|null, target, fstype|null, flags, data|null)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  std::string src, target = ArgString(info, 1, "target"), fstype, data;
  const char* s = OptString(info[0], src);
  const char* f = OptString(info[2], fstype);
  unsigned long flags = info[3].IsNumber() ? static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value()) : 0;
  const char* d = OptString(info[4], data);
  if (mount(s, target.c_str(), f, flags, d) != 0) ThrowErrno(info.Env(), errno, "mount", target);
  return info.Env().Undefined();
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = ArgInt(info, 0, "pid");
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "pidfd_open", std::to_string(pid));
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// pidfdSendSignal(pidfd, sig) -> false when the process is already gone.
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "pidfd");
  int sig = ArgInt(info, 1, "signal");
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "pidfd_send_signal", std::to_string(fd));
  }
  return Napi::Boolean::New(info.Env(), true);
}

// A pidfd polls readable once its process has exited.
Napi::Value PidfdExited(const Napi::CallbackInfo& info) {
  pollfd p{ArgInt(info, 0, "pidfd"), POLLIN, 0};
  int rc = poll(&p, 1, 0);
  if (rc < 0) ThrowErrno(info.Env(), errno, "poll");
  return Napi::Boolean::New(info.Env(), rc > 0);
}

// execve(file, argv, envp, keepFds): replaces this process; returns only by
// throwing. keepFds lose FD_CLOEXEC (libuv may have set it on fds it wraps).
Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file = BytesValue(env, info[0], "file");
  if (info.Length() > 3 && info[3].IsArray()) {
    Napi::Array keep = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < keep.Length(); i++) {
      int fd = keep.Get(i).As<Napi::Number>().Int32Value();
      int flags = fcntl(fd, F_GETFD);
      if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0) ThrowErrno(env, errno, "fcntl", std::to_string(fd));
    }
  }
  std::vector<std::string> argv, envp;
  for (auto* pair : {&argv, &envp}) {
    const char* name = pair == &argv ? "argv" : "envp";
    Napi::Value v = info[pair == &argv ? 1 : 2];
    if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(name) + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) pair->push_back(BytesValue(env, a.Get(i), name));
  }
  std::vector<char*> av, ev;
  for (auto& s : argv) av.push_back(const_cast<char*>(s.c_str()));
  av.push_back(nullptr);
  for (auto& s : envp) ev.push_back(const_cast<char*>(s.c_str()));
  ev.push_back(nullptr);
  execve(file.c_str(), av.data(), ev.data());
  ThrowErrno(env, errno, "execve", file);
}

// reapChild(pid, block) -> true when the child was reaped. For children
// this process inherited from the program it replaced (bin/rootless's
// here-document writer): node waits only for the children it started.
Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  pid_t pid = ArgInt(info, 0, "pid");
  int options = info[1].ToBoolean() ? 0 : WNOHANG;
  int status;
  pid_t got;
  do {
    got = waitpid(pid, &status, options);
  } while (got < 0 && errno == EINTR);
  if (got < 0) ThrowErrno(info.Env(), errno, "waitpid", std::to_string(pid));
  return Napi::Boolean::New(info.Env(), got == pid);
}

// pollFd(fd, wantWrite, timeoutMs) -> true when ready (or hung up), false on timeout.
Napi::Value PollFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  pollfd p{fd, static_cast<short>(info[1].ToBoolean() ? POLLOUT : POLLIN), 0};
  int timeout = ArgInt(info, 2, "timeoutMs");
  int rc;
  do {
    rc = poll(&p, 1, timeout);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) ThrowErrno(info.Env(), errno, "poll", std::to_string(fd));
  return Napi::Boolean::New(info.Env(), rc > 0);
}

Napi::Value Getpgrp(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpgrp()); }

// tcgetpgrp(fd) -> pgid, or -1 when fd is not a terminal we control.
Napi::Value Tcgetpgrp(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tcgetpgrp(ArgInt(info, 0, "fd")));
}

// tcsetpgrp with SIGTTOU blocked, so a background process group may take
// the terminal back (as shells do) instead of being stopped.
Napi::Value Tcsetpgrp(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  pid_t pgrp = ArgInt(info, 1, "pgrp");
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &old);
  int rc = tcsetpgrp(fd, pgrp);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) ThrowErrno(info.Env(), err, "tcsetpgrp", std::to_string(fd));
  return info.Env().Undefined();
}

}  // namespace

void InitSys(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe2", Napi::Function::New(env, Pipe2, "pipe2"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("capget", Napi::Function::New(env, Capget, "capget"));
  exports.Set("setPdeathsig", Napi::Function::New(env, SetPdeathsig, "setPdeathsig"));
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("pidfdExited", Napi::Function::New(env, PidfdExited, "pidfdExited"));
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  exports.Set("reapChild", Napi::Function::New(env, ReapChild, "reapChild"));
  exports.Set("pollFd", Napi::Function::New(env, PollFd, "pollFd"));
  exports.Set("getpgrp", Napi::Function::New(env, Getpgrp, "getpgrp"));
  exports.Set("tcgetpgrp", Napi::Function::New(env, Tcgetpgrp, "tcgetpgrp"));
  exports.Set("tcsetpgrp", Napi::Function::New(env, Tcsetpgrp, "tcsetpgrp"));

  Napi::Object ms = Napi::Object::New(env);
  ms.Set("MS_RDONLY", static_cast<double>(MS_RDONLY));
  ms.Set("MS_NOSUID", static_cast<double>(MS_NOSUID));
  ms.Set("MS_NODEV", static_cast<double>(MS_NODEV));
  ms.Set("MS_NOEXEC", static_cast<double>(MS_NOEXEC));
  ms.Set("MS_REMOUNT", static_cast<double>(MS_REMOUNT));
  ms.Set("MS_BIND", static_cast<double>(MS_BIND));
  ms.Set("MS_MOVE", static_cast<double>(MS_MOVE));
  ms.Set("MS_REC", static_cast<double>(MS_REC));
  ms.Set("MS_PRIVATE", static_cast<double>(MS_PRIVATE));
  ms.Set("MS_SLAVE", static_cast<double>(MS_SLAVE));
  ms.Set("MS_SHARED", static_cast<double>(MS_SHARED));
  ms.Set("MS_RELATIME", static_cast<double>(MS_RELATIME));
  exports.Set("mountFlags", ms);
}

}  // namespace rootless
