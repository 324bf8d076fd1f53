// Native parts of the network area (see src/sys/native-net.ts): what
// iproute2 would do, so rootless has no run-time dependency on it.
#include "common.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace rootless {
namespace {

// setLinkUp(ifname): IFF_UP on an interface of this network namespace.
Napi::Value SetLinkUp(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "ifname");
  if (name.empty() || name.size() >= IFNAMSIZ) ThrowErrno(info.Env(), EINVAL, "SIOCSIFFLAGS", name);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket");
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(info.Env(), err, "SIOCGIFFLAGS", name);
  }
  req.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &req) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(info.Env(), err, "SIOCSIFFLAGS", name);
  }
  close(fd);
  return info.Env().Undefined();
}

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("setLinkUp", Napi::Function::New(env, SetLinkUp, "setLinkUp"));
}

}  // namespace rootless
