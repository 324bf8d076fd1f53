// Control messages of sendmsg/recvmsg (SCM_RIGHTS descriptors,
// UDP_SEGMENT), built and read in one place: the buffer's alignment and the
// CMSG_SPACE/CMSG_LEN lengths are easy to get subtly wrong in each copy.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace rootless {

// Room for one control message of up to N bytes of data, aligned as
// cmsghdr needs.
template <size_t N>
union CmsgSpace {
  char buf[CMSG_SPACE(N)];
  cmsghdr align;
};

// Makes `len` bytes of `data` m's one control message (level, type), in
// `space`: cmsghdr-aligned, at least CMSG_SPACE(len) bytes, zeroed here.
inline void AttachCmsg(msghdr& m, void* space, int level, int type, const void* data, size_t len) {
  std::memset(space, 0, CMSG_SPACE(len));
  m.msg_control = space;
  m.msg_controllen = CMSG_SPACE(len);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  std::memcpy(CMSG_DATA(c), data, len);
}

// Calls f(fd) for each descriptor that came with m (SCM_RIGHTS), in order.
template <typename F>
void ForEachReceivedFd(msghdr& m, F f) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      f(fd);
    }
  }
}

}  // namespace rootless
