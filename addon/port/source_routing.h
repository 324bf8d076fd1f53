// The child's half of keeping the client's address (--source-ip-transparent).
//
// The connector makes each connection (TCP) or flow socket (UDP) inside
// from the client's own address and port: IP_TRANSPARENT / IPV6_TRANSPARENT
// lets it bind an address that is not local. The target answers to that
// address, which the namespace would route out of its default route (or
// find unreachable); rules send the answers to lo, where they reach the
// transparent socket:
//  - TCP: the socket carries SO_MARK kMark; with net.ipv4.tcp_fwmark_accept
//    the accepted socket inherits it from the SYN, so everything the target
//    sends on that connection matches "fwmark kMark lookup kTcpTable", a
//    table with "local default dev lo". Only our sockets carry the mark;
//    with net.ipv{4,6}.fwmark_reflect the kernel's RST or ICMP error for
//    one of our packets carries it too.
//  - UDP: the target answers from its one unconnected socket, which no mark
//    reaches. A rule per published port ("ipproto udp sport PORT lookup T")
//    points at a table per target address holding "local CLIENT dev lo src
//    TARGET" for each client with a live flow (src: a wildcard-bound server
//    then answers from the address the flow is connected to). Datagrams the
//    service sends from PORT to any other address find no route in T and
//    fall through to the main table as before.
// Loopback clients (127.0.0.0/8, ::1) need none of it: their addresses are
// local inside too.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "netlink.h"
#include "wire.h"

namespace rootless {
namespace port {

constexpr uint32_t kMark = 0x72730001;
constexpr uint32_t kTcpTable = 7273;
constexpr uint32_t kUdpTableBase = 7274;
constexpr uint32_t kTcpPriority = 7273;
constexpr uint32_t kUdpPriority = 7274;

enum SourceMode { kSourceOff = 0, kSourceKeep = 1, kSourceLoopbackOnly = 2 };

struct ClientSource {
  int family = 0;
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool loopback = false;
  const uint8_t* raw = nullptr;  // the address bytes (4 or 16)
};

struct SourceRouting {
  int mode = kSourceOff;
  bool on = false, ipv6 = false, udp = false;
  std::string warning;
  nl::Socket nl;
  std::map<std::string, uint32_t> udpTables;  // family + target address -> table
  std::set<std::string> udpRules;             // family + port + table
  std::map<std::string, int> udpRoutes;       // family + table + client -> flows

  void Setup();
  bool Client(const WireRequest& req, ClientSource* out) const;
  int AcquireUdp(const WireRequest& req, const ClientSource& src);
  void ReleaseUdp(const WireRequest& req);
  std::string RouteKey(const WireRequest& req, const ClientSource& src, uint32_t* table);
};

}  // namespace port
}  // namespace rootless
