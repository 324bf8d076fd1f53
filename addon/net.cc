// Native parts of the network area (declared in src/sys/native.ts): what
// iproute2 would do, so rootless has no run-time dependency on it.
#include "common.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace rootless {
namespace {

// IFF_UP on an interface of the calling thread's network namespace; 0 or
// errno, with the failing request in *what.
int LinkUp(const std::string& name, const char** what) {
  *what = "SIOCSIFFLAGS";
  if (name.empty() || name.size() >= IFNAMSIZ) return EINVAL;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *what = "socket";
    return errno;
  }
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int err = 0;
  if (ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    err = errno;
    *what = "SIOCGIFFLAGS";
  } else {
    req.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &req) != 0) err = errno;
  }
  close(fd);
  return err;
}

// setLinkUp(ifname): IFF_UP on an interface of this network namespace.
Napi::Value SetLinkUp(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "ifname");
  const char* what = nullptr;
  if (int err = LinkUp(name, &what)) ThrowErrno(info.Env(), err, what, name);
  return info.Env().Undefined();
}

// createDetachedNetns(path): a new network namespace with lo up, bound on
// `path` (an existing file), while this process stays where it is.
// unshare(CLONE_NEWNET) moves only the calling thread, so a short-lived
// thread does it and takes the namespace away with it when it ends: no fork,
// no child to reap (a reaper thread could steal its status), and no setns
// back, which would need CAP_SYS_ADMIN over the host's namespace.
Napi::Value CreateDetachedNetns(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int err = 0;
  const char* what = nullptr;
  std::string subject = path;
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      err = errno;
      what = "unshare(CLONE_NEWNET)";
      return;
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      err = errno;
      what = "mount";
      return;
    }
    err = LinkUp("lo", &what);
    if (err) subject = "lo";
  });
  worker.join();
  if (err) ThrowErrno(info.Env(), err, what, subject);
  return info.Env().Undefined();
}

// mkfifo(path, mode): pasta writes its pid there once the network is
// configured, which is how its readiness is known without polling.
Napi::Value Mkfifo(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int mode = ArgInt(info, 1, "mode");
  if (mkfifo(path.c_str(), static_cast<mode_t>(mode)) != 0) ThrowErrno(info.Env(), errno, "mkfifo", path);
  return info.Env().Undefined();
}

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("setLinkUp", Napi::Function::New(env, SetLinkUp, "setLinkUp"));
  exports.Set("createDetachedNetns", Napi::Function::New(env, CreateDetachedNetns, "createDetachedNetns"));
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo, "mkfifo"));
}

}  // namespace rootless
