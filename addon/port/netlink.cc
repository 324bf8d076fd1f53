// rtnetlink, the small part the port relay needs to keep client addresses
// (see addon/port/source_routing.h): FIB rules and local
// routes in the calling thread's network namespace. Written here rather
// than run through iproute2: no run-time dependency, and the connector
// thread adds rules on its own as UDP flows appear.
#include "netlink.h"

#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rootless {
namespace nl {
namespace {

void Put(std::vector<uint8_t>* b, const void* p, size_t n) {
  const auto* c = static_cast<const uint8_t*>(p);
  b->insert(b->end(), c, c + n);
  while (b->size() % 4 != 0) b->push_back(0);
}

void Attr(std::vector<uint8_t>* b, uint16_t type, const void* p, size_t n) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + n);
  a.nla_type = type;
  b->insert(b->end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + NLA_HDRLEN);
  Put(b, p, n);
}

void Header(std::vector<uint8_t>* b, uint16_t type, uint32_t seq) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  if (type == RTM_NEWRULE || type == RTM_NEWROUTE) h.nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  h.nlmsg_seq = seq;
  b->insert(b->end(), reinterpret_cast<uint8_t*>(&h), reinterpret_cast<uint8_t*>(&h) + NLMSG_HDRLEN);
}

void Finish(std::vector<uint8_t>* b) {
  uint32_t len = static_cast<uint32_t>(b->size());
  std::memcpy(b->data(), &len, sizeof len);  // nlmsg_len comes first
}

size_t AddrLen(int family) { return family == AF_INET6 ? 16 : 4; }

}  // namespace

std::vector<uint8_t> EncodeRule(const Rule& r, bool add, uint32_t seq) {
  std::vector<uint8_t> b;
  Header(&b, add ? RTM_NEWRULE : RTM_DELRULE, seq);
  fib_rule_hdr h{};
  h.family = static_cast<uint8_t>(r.family);
  h.action = FR_ACT_TO_TBL;
  h.table = static_cast<uint8_t>(r.table < 256 ? r.table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  Put(&b, &h, sizeof h);
  Attr(&b, FRA_PRIORITY, &r.priority, sizeof r.priority);
  Attr(&b, FRA_TABLE, &r.table, sizeof r.table);
  if (r.fwmark != 0) {
    uint32_t mask = 0xffffffff;
    Attr(&b, FRA_FWMARK, &r.fwmark, sizeof r.fwmark);
    Attr(&b, FRA_FWMASK, &mask, sizeof mask);
  }
  if (r.ipproto != 0) Attr(&b, FRA_IP_PROTO, &r.ipproto, sizeof r.ipproto);
  if (r.sport != 0) {
    fib_rule_port_range range{r.sport, r.sport};
    Attr(&b, FRA_SPORT_RANGE, &range, sizeof range);
  }
  Finish(&b);
  return b;
}

std::vector<uint8_t> EncodeRoute(const LocalRoute& r, bool add, uint32_t seq) {
  std::vector<uint8_t> b;
  Header(&b, add ? RTM_NEWROUTE : RTM_DELROUTE, seq);
  rtmsg m{};
  m.rtm_family = static_cast<uint8_t>(r.family);
  m.rtm_dst_len = r.dstLen;
  m.rtm_table = static_cast<uint8_t>(r.table < 256 ? r.table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  m.rtm_protocol = RTPROT_STATIC;
  m.rtm_scope = RT_SCOPE_HOST;
  m.rtm_type = RTN_LOCAL;
  Put(&b, &m, sizeof m);
  Attr(&b, RTA_TABLE, &r.table, sizeof r.table);
  if (r.dstLen > 0) Attr(&b, RTA_DST, r.dst, AddrLen(r.family));
  if (r.hasPrefsrc) Attr(&b, RTA_PREFSRC, r.prefsrc, AddrLen(r.family));
  uint32_t oif = static_cast<uint32_t>(r.oif);
  Attr(&b, RTA_OIF, &oif, sizeof oif);
  Finish(&b);
  return b;
}

Socket::~Socket() {
  if (fd_ >= 0) close(fd_);
}

int Socket::Open() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return errno;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return errno;
  return 0;
}

int Socket::Do(std::vector<uint8_t> req) {
  if (fd_ < 0) return EBADF;
  nlmsghdr h;
  std::memcpy(&h, req.data(), sizeof h);
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd_, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    do {
      n = recv(fd_, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(m, static_cast<size_t>(n)); m = NLMSG_NEXT(m, n)) {
      if (m->nlmsg_seq != h.nlmsg_seq || m->nlmsg_type != NLMSG_ERROR) continue;
      int err = -static_cast<nlmsgerr*>(NLMSG_DATA(m))->error;
      bool create = h.nlmsg_type == RTM_NEWRULE || h.nlmsg_type == RTM_NEWROUTE;
      if ((create && err == EEXIST) || (!create && (err == ENOENT || err == ESRCH))) err = 0;
      return err;
    }
  }
}

int WriteSysctl(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno;
  int err = 0;
  if (write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) err = errno != 0 ? errno : EIO;
  close(fd);
  return err;
}

}  // namespace nl
}  // namespace rootless
