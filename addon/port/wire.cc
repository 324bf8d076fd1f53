// The control sockets' messages: one request or reply a message, with at
// most one socket attached (SCM_RIGHTS).
#include "wire.h"
#include "../cmsg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rootless {
namespace port {

socklen_t SockaddrOf(int family, const uint8_t* addr, uint16_t port, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  if (family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(out);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    std::memcpy(&s->sin_addr, addr, 4);
    return sizeof *s;
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(out);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  std::memcpy(&s->sin6_addr, addr, 16);
  return sizeof *s;
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

int SendWithFd(int sock, const void* data, size_t len, int fd) {
  iovec iov{const_cast<void*>(data), len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  CmsgSpace<sizeof(int)> ctl;
  if (fd >= 0) AttachCmsg(m, ctl.buf, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd);
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
  CmsgSpace<sizeof(int) * 4> ctl[kMax];
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
    ForEachReceivedFd(mm[i].msg_hdr, [&](int f) {
      if (fds[i] < 0)
        fds[i] = f;
      else
        close(f);  // never more than one is sent
    });
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

}  // namespace port
}  // namespace rootless
