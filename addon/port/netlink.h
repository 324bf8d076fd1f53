// rtnetlink requests for the source-address-keeping port relay (see
// addon/port/netlink.cc): policy rules and routes in the calling thread's
// network namespace, without the ip binary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rootless {
namespace nl {

// One FIB rule: "[fwmark M] [ipproto P sport S] lookup TABLE pref PRIORITY".
struct Rule {
  int family = 0;  // AF_INET / AF_INET6
  uint32_t priority = 0;
  uint32_t table = 0;
  uint32_t fwmark = 0;  // 0: no fwmark selector
  uint8_t ipproto = 0;  // 0: any
  uint16_t sport = 0;   // 0: any
};

// One route of type "local" through lo: "local DST/LEN dev lo [src PREFSRC] table T".
struct LocalRoute {
  int family = 0;
  uint32_t table = 0;
  uint8_t dst[16] = {};
  uint8_t dstLen = 0;  // 0: default
  bool hasPrefsrc = false;
  uint8_t prefsrc[16] = {};
  int oif = 1;  // lo is ifindex 1 in every namespace
};

// The request bytes (header + payload + attributes): RTM_NEWRULE or
// RTM_DELRULE, RTM_NEWROUTE or RTM_DELROUTE. Exposed for unit tests.
std::vector<uint8_t> EncodeRule(const Rule& r, bool add, uint32_t seq);
std::vector<uint8_t> EncodeRoute(const LocalRoute& r, bool add, uint32_t seq);

// A NETLINK_ROUTE socket of the namespace the creating thread is in.
class Socket {
 public:
  ~Socket();
  int Open();  // 0 or errno
  // Sends one request and waits for its ack: 0 or errno. EEXIST on a
  // create and ENOENT/ESRCH on a delete count as done.
  int Do(std::vector<uint8_t> req);
  uint32_t NextSeq() { return ++seq_; }

 private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

// Writes "value" to a /proc/sys path, resolved in the calling thread's
// network namespace: 0 or errno.
int WriteSysctl(const std::string& path, const std::string& value);

}  // namespace nl
}  // namespace rootless
