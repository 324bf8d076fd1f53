// The builtin port driver's data plane (declared in src/sys/native.ts;
// the N-API side is bindings.cc), and the wire format its two halves speak.
//
// The parent cannot enter the child's network namespace, so the
// child connects inside it and passes the connected socket over a unix
// socket (SCM_RIGHTS). Nothing of that per-connection path runs in
// JavaScript:
//
//  - Parent: a relay engine of W worker threads, each with its own epoll,
//    its own SOCK_SEQPACKET control socket to the child, its own listening
//    sockets (SO_REUSEPORT when W > 1, so the kernel spreads connections)
//    and UDP sockets. A worker accepts, sends the child a fixed-size
//    request, receives the reply with the connected socket, and relays the
//    two sockets with splice(2) through a pipe per direction (the bytes stay
//    in the kernel), edge-triggered. A direction takes a pipe from the
//    worker's pool only while bytes are in flight and returns it drained, so
//    an idle connection holds two fds. A direction whose source reached EOF
//    and whose pipe is empty shuts down writing on its destination
//    (half-close); the connection is closed when both directions are done,
//    or at once (RST to the survivor) on an error. Workers share nothing;
//    JavaScript reaches a worker only through its command queue (eventfd).
//  - Child: one connector thread, epoll over the control sockets and the
//    non-blocking connects in progress; each finished connect is answered
//    with the socket (or the errno, e.g. ECONNREFUSED, and the parent then
//    resets the host connection at once).
//  - UDP: per client address the parent asks the child for a socket
//    connected to the target inside; datagrams are moved in batches
//    (recvmmsg, then sendmmsg or, for runs of equal-sized datagrams, one
//    UDP GSO send) both ways, and flows idle for udpIdleMs are closed.
//
// JavaScript only creates the host sockets (so bind errors like EADDRINUSE
// come back synchronously, naming the address) and adds/removes ports.
//
// Files: wire (this format), relay.h with tcp_relay, udp_relay, control
// (the parent's end of the control socket) and worker (the loop, commands);
// connector (the child's half) with source_routing and netlink (keeping the
// client's address); bindings (what JavaScript calls).
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace rootless {
namespace port {

enum : uint8_t { kProtoTcp = 1, kProtoUdp = 2 };

struct Target {
  uint8_t family = 0;  // AF_INET / AF_INET6
  uint16_t port = 0;   // host order
  uint8_t addr[16] = {};
};

// Parent -> child: connect (TCP) or make a flow socket (UDP) to the target
// addr:port, from the client's address if the child keeps it. kProtoRelease:
// the parent closed a UDP flow the child made with the client's address (the
// request it was made for, proto aside); no reply.
struct WireRequest {
  uint32_t id;
  uint8_t proto;
  uint8_t family;
  uint16_t port;
  uint8_t addr[16];
  uint8_t srcFamily;  // 0: no client address (the child connects from its own)
  uint8_t pad = 0;
  uint16_t srcPort;   // host order
  uint8_t srcAddr[16];
};
static_assert(sizeof(WireRequest) == 44, "wire format");

enum : uint8_t { kProtoRelease = 3 };

// Child -> parent. id 0 is the connector's status, sent first on every
// control socket: flags say whether client addresses are kept.
struct WireReply {
  uint32_t id;
  int32_t err;     // 0: the socket is attached
  uint32_t flags;  // kReplyKept: the socket's source is the client's address
};
static_assert(sizeof(WireReply) == 12, "wire format");

enum : uint32_t { kReplyKept = 1 };
// Status flags (reply id 0).
enum : uint32_t { kStatusOn = 1, kStatusIPv6 = 2, kStatusUdp = 4, kStatusKnown = 1u << 31 };

// The socket address of an address as the wire carries it (family, 4 or 16
// bytes, port in host order); returns its length.
socklen_t SockaddrOf(int family, const uint8_t* addr, uint16_t port, sockaddr_storage* out);

// The client's address, as the wire carries it (srcFamily 0 if unknown).
void PutClient(WireRequest* req, const sockaddr_storage* client);

// sendmsg with an optional fd attached. Returns 0, or errno.
int SendWithFd(int sock, const void* data, size_t len, int fd);

// Receives up to `max` messages of `size` bytes into buf (message i at
// buf + i*size), each with at most one fd (fds[i], -1 if none); lens[i] is
// its length. Returns the count; 0 with *eof at the peer's EOF; -errno. A
// count below max means the queue was empty: an edge-triggered reader
// needs no further call to find EAGAIN.
int RecvBatch(int sock, void* buf, size_t size, int max, int* fds, size_t* lens, bool* eof);

}  // namespace port
}  // namespace rootless
