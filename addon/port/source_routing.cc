// Source routing for the connector (see source_routing.h): the namespace's
// rules and routes, and which client addresses can be kept.
#include "source_routing.h"
#include "../common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rootless {
namespace port {
namespace {

std::string SetupStep(const char* what, int err) { return std::string(what) + ": " + ErrnoName(err); }

// "local CLIENT dev lo table T": the answers of the target to one client stay inside.
nl::LocalRoute ClientRoute(const WireRequest& req, const ClientSource& src, uint32_t table) {
  nl::LocalRoute r;
  r.family = req.family;
  r.table = table;
  size_t n = req.family == AF_INET6 ? 16 : 4;
  std::memcpy(r.dst, src.raw, n);
  r.dstLen = static_cast<uint8_t>(n * 8);
  return r;
}

}  // namespace

void SourceRouting::Setup() {
  if (mode == kSourceLoopbackOnly) {
    on = ipv6 = true;
    return;
  }
  if (int err = nl.Open()) {
    warning = SetupStep("rtnetlink socket", err);
    return;
  }
  if (int err = nl::WriteSysctl("/proc/sys/net/ipv4/tcp_fwmark_accept", "1")) {
    warning = SetupStep("net.ipv4.tcp_fwmark_accept", err);
    return;
  }
  // The kernel's own answers (a RST when nothing listens, ICMP port
  // unreachable) carry the mark of what they answer, so they come back too:
  // a refused connect is refused at once, not timed out.
  if (int err = nl::WriteSysctl("/proc/sys/net/ipv4/fwmark_reflect", "1")) {
    warning = SetupStep("net.ipv4.fwmark_reflect", err);
    return;
  }
  nl::WriteSysctl("/proc/sys/net/ipv6/fwmark_reflect", "1");  // absent without IPv6
  // Per family: the TCP table and rule, and a probe of a transparent socket.
  auto family = [&](int fam) -> std::string {
    nl::LocalRoute r;
    r.family = fam;
    r.table = kTcpTable;
    if (int err = nl.Do(nl::EncodeRoute(r, true, nl.NextSeq()))) return SetupStep("local route", err);
    nl::Rule rule;
    rule.family = fam;
    rule.priority = kTcpPriority;
    rule.table = kTcpTable;
    rule.fwmark = kMark;
    if (int err = nl.Do(nl::EncodeRule(rule, true, nl.NextSeq()))) return SetupStep("fwmark rule", err);
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SetupStep("socket", errno);
    int one = 1;
    uint32_t mark = kMark;
    std::string why;
    if (setsockopt(fd, fam == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP, fam == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof one) != 0)
      why = SetupStep(fam == AF_INET6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT", errno);
    else if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      why = SetupStep("SO_MARK", errno);
    close(fd);
    return why;
  };
  std::string v4 = family(AF_INET);
  if (!v4.empty()) {
    warning = v4;
    return;
  }
  on = true;
  std::string v6 = family(AF_INET6);
  ipv6 = v6.empty();
  // A namespace without IPv6 has no IPv6 clients to lose: no warning.
  if (!ipv6 && v6.find("EAFNOSUPPORT") == std::string::npos) warning = "IPv6: " + v6;
  // UDP needs rules keyed on the source port (Linux 4.17): probe one.
  nl::Rule probe;
  probe.family = AF_INET;
  probe.priority = kUdpPriority;
  probe.table = kUdpTableBase;
  probe.ipproto = IPPROTO_UDP;
  probe.sport = 65534;  // the kernel takes ports 1-65534 in a range
  int err = nl.Do(nl::EncodeRule(probe, true, nl.NextSeq()));
  if (err == 0) err = nl.Do(nl::EncodeRule(probe, false, nl.NextSeq()));
  udp = err == 0;
  if (!udp) warning = (warning.empty() ? "" : warning + "; ") + "UDP: " + SetupStep("ipproto/sport rule", err);
}

bool IsV4Mapped(const uint8_t* a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, prefix, 12) == 0;
}

// The client's address in the target's family, or false when the
// connection must come from the child's own address: none sent, another
// family (an IPv6 client of an IPv4 target), link-local, or not set up.
bool SourceRouting::Client(const WireRequest& req, ClientSource* out) const {
  if (!on || req.srcFamily == 0) return false;
  const uint8_t* a = req.srcAddr;
  int fam = req.srcFamily;
  if (fam == AF_INET6 && req.family == AF_INET && IsV4Mapped(a)) {
    fam = AF_INET;
    a += 12;
  }
  if (fam != req.family) return false;
  out->family = fam;
  out->raw = a;
  out->len = SockaddrOf(fam, a, req.srcPort, &out->addr);
  if (fam == AF_INET) {
    out->loopback = a[0] == 127;
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&out->addr);
    out->loopback = IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) return false;
  }
  if (out->loopback) return true;
  if (mode == kSourceLoopbackOnly) return false;
  if (fam == AF_INET6 && !ipv6) return false;
  if (req.proto == kProtoUdp && !udp) return false;
  return true;
}

std::string SourceRouting::RouteKey(const WireRequest& req, const ClientSource& src, uint32_t* table) {
  size_t n = req.family == AF_INET6 ? 16 : 4;
  std::string target(1, static_cast<char>(req.family));
  target.append(reinterpret_cast<const char*>(req.addr), n);
  auto it = udpTables.find(target);
  if (it == udpTables.end()) it = udpTables.emplace(target, kUdpTableBase + static_cast<uint32_t>(udpTables.size())).first;
  *table = it->second;
  std::string key = target;
  key.append(reinterpret_cast<const char*>(src.raw), n);
  return key;
}

// Routes this flow's answers to lo: the port's rule (once) and the client's
// local route in the target's table (counted per flow). 0 or errno.
int SourceRouting::AcquireUdp(const WireRequest& req, const ClientSource& src) {
  uint32_t table;
  std::string key = RouteKey(req, src, &table);
  std::string ruleKey = std::string(1, static_cast<char>(req.family)) + std::to_string(req.port) + "/" + std::to_string(table);
  if (udpRules.count(ruleKey) == 0) {
    nl::Rule r;
    r.family = req.family;
    r.priority = kUdpPriority;
    r.table = table;
    r.ipproto = IPPROTO_UDP;
    r.sport = req.port;
    if (int err = nl.Do(nl::EncodeRule(r, true, nl.NextSeq()))) return err;
    udpRules.insert(ruleKey);
  }
  int& count = udpRoutes[key];
  if (count == 0) {
    // src: a wildcard-bound server answers from the address the flow is connected to.
    nl::LocalRoute r = ClientRoute(req, src, table);
    r.hasPrefsrc = true;
    std::memcpy(r.prefsrc, req.addr, req.family == AF_INET6 ? 16 : 4);
    if (int err = nl.Do(nl::EncodeRoute(r, true, nl.NextSeq()))) {
      udpRoutes.erase(key);
      return err;
    }
  }
  count++;
  return 0;
}

void SourceRouting::ReleaseUdp(const WireRequest& req) {
  ClientSource src;
  if (!Client(req, &src) || src.loopback) return;
  uint32_t table;
  std::string key = RouteKey(req, src, &table);
  auto it = udpRoutes.find(key);
  if (it == udpRoutes.end() || --it->second > 0) return;
  udpRoutes.erase(it);
  nl.Do(nl::EncodeRoute(ClientRoute(req, src, table), false, nl.NextSeq()));
}

}  // namespace port
}  // namespace rootless
