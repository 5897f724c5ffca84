#include "controller/dns/ares_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>

#include "controller/dns/answer_parser.h"

namespace endpointbinder::dns {
namespace {

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;

core::Error terminal(std::string message) {
  return core::Error{core::ErrorKind::kTerminal, std::move(message), {}, {}, 0};
}

// Owns one c-ares channel. Destroying the channel runs the callbacks of queries still
// pending (with ARES_EDESTRUCTION), so it must die before the query states it points at.
class Channel {
 public:
  Channel() = default;
  ~Channel() {
    if (channel_ != nullptr) ares_destroy(channel_);
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  ares_channel* out() { return &channel_; }
  ares_channel get() const { return channel_; }

 private:
  ares_channel channel_ = nullptr;
};

// Closes an eventfd (or any descriptor) at scope end.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Builds a channel for `options` that asks `servers` (when given; else options.servers, else
// resolv.conf's nameservers). On failure returns the c-ares status.
int initChannel(const AresResolverOptions& options, const std::vector<ServerAddress>* servers,
                Channel& channel) {
  ares_options init{};
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  // NOSEARCH: absolute names only (ares_query never searches; the flag states the intent).
  // NOCHECKRESP: hand SERVFAIL and REFUSED answers to the callback. Without it c-ares 1.18
  // moves on to the next server by itself, but when every server fails reports only "could
  // not contact DNS servers", losing the reason; resolve() moves on itself instead.
  init.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
  init.timeout = static_cast<int>(options.timeout.count());
  init.tries = options.tries;
  std::string path = options.resolvConfPath;
  if (!path.empty()) {
    mask |= ARES_OPT_RESOLVCONF;
    init.resolvconf_path = path.data();
  }
  if (servers == nullptr && !options.servers.empty()) servers = &options.servers;
  if (servers == nullptr) {
    // resolv.conf's nameserver lines carry no port (c-ares 1.18 ignores "ip:port" there).
    mask |= ARES_OPT_UDP_PORT | ARES_OPT_TCP_PORT;
    init.udp_port = static_cast<unsigned short>(options.resolvConfPort);
    init.tcp_port = static_cast<unsigned short>(options.resolvConfPort);
  }
  int status = ares_init_options(channel.out(), &init, mask);
  if (status != ARES_SUCCESS) return status;
  if (servers == nullptr) return ARES_SUCCESS;

  std::vector<ares_addr_port_node> nodes(servers->size());
  for (size_t i = 0; i < servers->size(); ++i) {
    const auto& server = (*servers)[i];
    auto& node = nodes[i];
    node.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    node.udp_port = server.port;
    node.tcp_port = server.port;
    if (server.address.isV4()) {
      node.family = AF_INET;
      std::memcpy(&node.addr.addr4, server.address.bytes().data(), 4);
    } else {
      node.family = AF_INET6;
      std::memcpy(&node.addr.addr6, server.address.bytes().data(), 16);
    }
  }
  return ares_set_servers_ports(channel.get(), nodes.empty() ? nullptr : nodes.data());
}

// The servers `channel` asks, in order. A port of 0 (resolv.conf's) is `defaultPort`.
std::vector<ServerAddress> channelServers(const Channel& channel, int defaultPort) {
  std::vector<ServerAddress> servers;
  ares_addr_port_node* list = nullptr;
  if (ares_get_servers_ports(channel.get(), &list) != ARES_SUCCESS) return servers;
  for (const ares_addr_port_node* node = list; node != nullptr; node = node->next) {
    std::array<uint8_t, 16> bytes{};
    api::AddressFamily family = api::AddressFamily::kIPv4;
    if (node->family == AF_INET) {
      std::memcpy(bytes.data(), &node->addr.addr4, 4);
    } else if (node->family == AF_INET6) {
      family = api::AddressFamily::kIPv6;
      std::memcpy(bytes.data(), &node->addr.addr6, 16);
    } else {
      continue;
    }
    servers.push_back(ServerAddress{api::IpAddress::fromBytes(family, bytes),
                                    node->udp_port > 0 ? node->udp_port : defaultPort});
  }
  ares_free_data(list);
  return servers;
}

// The index in `servers` of the peer `fd` is connected to (c-ares connects its UDP and TCP
// sockets to the server they ask), or -1.
int serverOfSocket(int fd, const std::vector<ServerAddress>& servers) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return -1;
  std::array<uint8_t, 16> bytes{};
  api::AddressFamily family = api::AddressFamily::kIPv4;
  int port = 0;
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    std::memcpy(bytes.data(), &in->sin_addr, 4);
    port = ntohs(in->sin_port);
  } else if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    family = api::AddressFamily::kIPv6;
    std::memcpy(bytes.data(), &in6->sin6_addr, 16);
    port = ntohs(in6->sin6_port);
  } else {
    return -1;
  }
  const ServerAddress answering{api::IpAddress::fromBytes(family, bytes), port};
  for (size_t i = 0; i < servers.size(); ++i) {
    if (servers[i] == answering) return static_cast<int>(i);
  }
  return -1;
}

// One query in flight, for one family, on one of a call's channels.
struct Query {
  api::AddressFamily family = api::AddressFamily::kIPv4;
  bool done = false;
  ResolveOutcome outcome;
  const int* answering = nullptr;       // the server whose socket is being read, -1 when unknown
  int channel = 0;                      // the channel it was sent on: servers[channel..]
  int answeredBy = -1;                  // the server that answered, when outcome is its answer
  bool serverFailed = false;            // a server answered SERVFAIL, REFUSED or NOTIMP
  std::vector<ResolveOutcome> earlier;  // failures of servers asked before, in order
};

const char* typeName(api::AddressFamily family) {
  return family == api::AddressFamily::kIPv4 ? "A" : "AAAA";
}

ResolveOutcome statusOutcome(int status, const char* type) {
  std::string suffix = std::string(" (") + type + ")";
  switch (status) {
    case ARES_ENOTFOUND:
      return ResolveOutcome::failure(ResolveStatus::kNxDomain, "NXDOMAIN" + suffix);
    case ARES_ENODATA:
      return ResolveOutcome::failure(ResolveStatus::kNoData,
                                     std::string("no ") + type + " records");
    case ARES_ESERVFAIL:
      return ResolveOutcome::failure(ResolveStatus::kServFail, "SERVFAIL" + suffix);
    case ARES_EREFUSED:
      return ResolveOutcome::failure(ResolveStatus::kRefused, "REFUSED" + suffix);
    case ARES_ETIMEOUT:
      return ResolveOutcome::failure(ResolveStatus::kTimeout, "no answer in time" + suffix);
    default:
      return ResolveOutcome::failure(ResolveStatus::kError, ares_strerror(status) + suffix);
  }
}

void onAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* query = static_cast<Query*>(arg);
  if (query->done) return;  // a result set by the deadline or a cancel already
  query->done = true;
  query->answeredBy = query->answering != nullptr ? *query->answering : -1;
  const char* type = typeName(query->family);
  if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
    query->outcome =
        ResolveOutcome::failure(ResolveStatus::kTimeout, std::string("cancelled (") + type + ")");
    return;
  }
  if ((status == ARES_SUCCESS || status == ARES_ENODATA) && abuf != nullptr && alen > 0) {
    query->outcome = parseAddressAnswer(std::span<const uint8_t>(abuf, static_cast<size_t>(alen)),
                                        query->family);
    if (!query->outcome.ok() && !query->outcome.message.empty()) {
      query->outcome.message += std::string(" (") + type + ")";
    }
    return;
  }
  query->serverFailed = abuf != nullptr && (status == ARES_ESERVFAIL || status == ARES_EREFUSED ||
                                            status == ARES_ENOTIMP);
  query->outcome = statusOutcome(status, type);
}

// A query's outcome after failing over: an answer (addresses, NXDOMAIN, NODATA) from the last
// server stands; when no server answered, the first failure is the status (a server that
// said SERVFAIL or REFUSED says more than a later timeout) and the message names every one.
ResolveOutcome withEarlierFailures(const Query& query) {
  const ResolveStatus last = query.outcome.status;
  if (query.earlier.empty() || last == ResolveStatus::kOk || last == ResolveStatus::kNxDomain ||
      last == ResolveStatus::kNoData) {
    return query.outcome;
  }
  ResolveOutcome outcome = query.earlier.front();
  for (size_t i = 1; i < query.earlier.size(); ++i) {
    outcome.message += "; " + query.earlier[i].message;
  }
  outcome.message += "; " + query.outcome.message;
  return outcome;
}

}  // namespace

std::string ServerAddress::toString() const {
  if (address.isV4()) return address.toString() + ":" + std::to_string(port);
  return "[" + address.toString() + "]:" + std::to_string(port);
}

core::Result<ServerAddress> parseServerAddress(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return std::unexpected(terminal("DNS server " + quoted + ": missing \"]\""));
    }
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return std::unexpected(
            terminal("DNS server " + quoted + ": expected \":PORT\" after \"]\""));
      }
      port = rest.substr(1);
      if (port.empty()) return std::unexpected(terminal("DNS server " + quoted + ": empty port"));
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return std::unexpected(terminal("DNS server " + quoted + ": empty port"));
  }
  auto address = api::IpAddress::parse(host);
  if (!address) {
    return std::unexpected(
        terminal("DNS server " + quoted + ": \"" + std::string(host) + "\" is not an IP address"));
  }
  ServerAddress server{*address, 53};
  if (!port.empty()) {
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return std::unexpected(terminal("DNS server " + quoted + ": port \"" + std::string(port) +
                                      "\" is not in 1..65535"));
    }
    server.port = value;
  }
  return server;
}

struct AresResolver::PooledChannel {
  // channels[k] asks servers[k..]: channels[0] every server; the others are built when a
  // failover first needs them (AresResolver's header).
  std::vector<std::unique_ptr<Channel>> channels;
  std::vector<ServerAddress> servers;                         // those of channels[0], in order
  Descriptor wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};  // written when a call is stopped
  core::MonoTime created{};
  int lookups = 0;
};

AresResolver::AresResolver(AresResolverOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

AresResolver::~AresResolver() {
  idle_.clear();  // every channel goes before the library does
  ares_library_cleanup();
}

std::unique_ptr<AresResolver::PooledChannel> AresResolver::takeChannel(int& aresStatus) {
  const core::MonoTime now = clock_.now();
  std::vector<std::unique_ptr<PooledChannel>> retired;  // destroyed after the lock is released
  {
    std::lock_guard lock(poolMutex_);
    while (!idle_.empty()) {
      auto pooled = std::move(idle_.back());
      idle_.pop_back();
      if (pooled->lookups < kChannelMaxLookups && now - pooled->created < kChannelMaxAge) {
        return pooled;
      }
      retired.push_back(std::move(pooled));
    }
  }
  auto fresh = std::make_unique<PooledChannel>();
  fresh->channels.push_back(std::make_unique<Channel>());
  aresStatus = initChannel(options_, nullptr, *fresh->channels[0]);
  if (aresStatus != ARES_SUCCESS) return nullptr;
  fresh->servers = channelServers(*fresh->channels[0], options_.resolvConfPort);
  fresh->channels.resize(std::max<size_t>(fresh->servers.size(), 1));
  fresh->created = now;
  return fresh;
}

void AresResolver::giveBack(std::unique_ptr<PooledChannel> channel) {
  std::lock_guard lock(poolMutex_);
  idle_.push_back(std::move(channel));
}

core::Result<std::unique_ptr<AresResolver>> AresResolver::create(AresResolverOptions options,
                                                                 const core::Clock& clock) {
  if (options.timeout.count() <= 0) return std::unexpected(terminal("DNS timeout must be > 0"));
  if (options.deadline.count() <= 0) return std::unexpected(terminal("DNS deadline must be > 0"));
  if (options.tries < 1) return std::unexpected(terminal("DNS tries must be >= 1"));
  if (options.resolvConfPort < 1 || options.resolvConfPort > 65535) {
    return std::unexpected(terminal("DNS resolv.conf port must be in 1..65535"));
  }
  if (options.servers.empty() && !options.resolvConfPath.empty() &&
      !std::ifstream(options.resolvConfPath).good()) {
    return std::unexpected(terminal("cannot read " + options.resolvConfPath));
  }
  const int initStatus = ares_library_init(ARES_LIB_INIT_ALL);
  if (initStatus != ARES_SUCCESS) {
    return std::unexpected(terminal(std::string("c-ares init: ") + ares_strerror(initStatus)));
  }
  // From here the destructor balances ares_library_init.
  std::unique_ptr<AresResolver> resolver(new AresResolver(std::move(options), clock));
  Channel probe;
  if (const int status = initChannel(resolver->options_, nullptr, probe); status != ARES_SUCCESS) {
    return std::unexpected(terminal(std::string("c-ares channel: ") + ares_strerror(status)));
  }
  return resolver;
}

bool AresResolver::readyFailoverChannel(PooledChannel& pooled, size_t first) {
  if (first >= pooled.servers.size()) return false;
  auto& slot = pooled.channels[first];
  if (!slot) {
    auto channel = std::make_unique<Channel>();
    const std::vector<ServerAddress> rest(pooled.servers.begin() + static_cast<long>(first),
                                          pooled.servers.end());
    if (initChannel(options_, &rest, *channel) != ARES_SUCCESS) return false;
    slot = std::move(channel);
  }
  return true;
}

ResolveOutcome AresResolver::resolve(std::string_view hostname, AddressFamilies families,
                                     std::stop_token stop) {
  const core::MonoTime deadline = clock_.now() + options_.deadline;
  if (!families.ipv4 && !families.ipv6) families.ipv4 = true;
  if (hostname.empty() || hostname.size() > 254) {
    return ResolveOutcome::failure(ResolveStatus::kError, "bad hostname");
  }
  const std::string name(hostname);

  // Queries before the channels: a dropped channel's destructor may still call back into them.
  int answering = -1;  // the server whose socket ares_process_fd is reading
  std::array<Query, 2> queries;
  queries[0].family = api::AddressFamily::kIPv4;
  queries[1].family = api::AddressFamily::kIPv6;
  queries[0].done = !families.ipv4;
  queries[1].done = !families.ipv6;
  for (auto& query : queries) query.answering = &answering;

  int initStatus = ARES_SUCCESS;
  std::unique_ptr<PooledChannel> pooled = takeChannel(initStatus);
  if (!pooled) {
    return ResolveOutcome::failure(ResolveStatus::kError,
                                   std::string("c-ares channel: ") + ares_strerror(initStatus));
  }
  pooled->lookups++;
  std::vector<bool> used(pooled->channels.size(), false);  // channels queried by this call
  bool reusable = true;  // false once the call was cancelled or ran out of time

  // Wakes poll() when the caller asks to stop.
  const Descriptor* wake = nullptr;
  std::optional<std::stop_callback<std::function<void()>>> onStop;
  if (stop.stop_possible() && pooled->wake.get() >= 0) {
    wake = &pooled->wake;
    const int fd = pooled->wake.get();
    onStop.emplace(stop, std::function<void()>([fd] {
                     const uint64_t one = 1;
                     [[maybe_unused]] auto written = ::write(fd, &one, sizeof one);
                   }));
  }

  auto send = [&](Query& query, size_t channel) {
    query.channel = static_cast<int>(channel);
    used[channel] = true;
    ares_query(pooled->channels[channel]->get(), name.c_str(), kClassIn,
               query.family == api::AddressFamily::kIPv4 ? kTypeA : kTypeAaaa, onAnswer, &query);
  };
  for (auto& query : queries) {
    if (!query.done) send(query, 0);
  }

  // A server that answered SERVFAIL, REFUSED or NOTIMP: name it in the message and ask the
  // servers after it, as glibc and c-ares' default do (c-ares' own timeouts and tries already
  // move on from a server that does not answer).
  auto failOver = [&](Query& query) {
    if (!query.done || !query.serverFailed) return;
    query.serverFailed = false;
    // The channel asks servers[channel..]: the answering server is at or after it (a server
    // listed twice matches its first place too), and the next channel is strictly later, so
    // failover ends after at most one channel per server.
    const int server = std::max(query.answeredBy, query.channel);
    if (static_cast<size_t>(server) < pooled->servers.size()) {
      const std::string from = " from " + pooled->servers[static_cast<size_t>(server)].toString();
      auto& message = query.outcome.message;
      const auto paren = message.rfind(" (");
      message.insert(paren == std::string::npos ? message.size() : paren, from);
    }
    if (!readyFailoverChannel(*pooled, static_cast<size_t>(server) + 1)) return;
    query.earlier.push_back(std::move(query.outcome));
    query.outcome = {};
    query.done = false;
    send(query, static_cast<size_t>(server) + 1);
  };

  auto pending = [&] { return !queries[0].done || !queries[1].done; };
  // Cancelling runs every pending callback with ARES_ECANCELLED; afterwards the reason is
  // written over the generic "cancelled" message.
  auto cancel = [&](const char* why) {
    reusable = false;
    std::array<bool, 2> wasPending{!queries[0].done, !queries[1].done};
    for (size_t k = 0; k < used.size(); ++k) {
      if (used[k]) ares_cancel(pooled->channels[k]->get());
    }
    for (size_t i = 0; i < queries.size(); ++i) {
      if (!wasPending[i]) continue;
      queries[i].done = true;
      queries[i].outcome = ResolveOutcome::failure(
          ResolveStatus::kTimeout, std::string(why) + " (" + typeName(queries[i].family) + ")");
    }
  };

  while (pending()) {
    if (stop.stop_requested()) {
      cancel("cancelled");
      break;
    }
    const core::MonoTime now = clock_.now();
    if (now >= deadline) {
      cancel("deadline exceeded");
      break;
    }
    // Every socket of every channel in use, each with the channel it belongs to.
    std::vector<pollfd> fds;
    std::vector<size_t> owners;
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    timeval wait{static_cast<time_t>(left.count() / 1'000'000),
                 static_cast<suseconds_t>(left.count() % 1'000'000)};
    for (size_t k = 0; k < used.size(); ++k) {
      if (!used[k]) continue;
      const ares_channel channel = pooled->channels[k]->get();
      std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};
      const int bits = ares_getsock(channel, sockets.data(), ARES_GETSOCK_MAXNUM);
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events == 0) continue;
        fds.push_back(pollfd{sockets[static_cast<size_t>(i)], events, 0});
        owners.push_back(k);
      }
      timeval buffer{};
      timeval limit = wait;
      wait = *ares_timeout(channel, &limit, &buffer);
    }
    const size_t socketCount = fds.size();
    if (wake && wake->get() >= 0) fds.push_back(pollfd{wake->get(), POLLIN, 0});

    // Round up so a sub-millisecond remainder does not spin.
    const long long waitMs = wait.tv_sec * 1000LL + (wait.tv_usec + 999) / 1000;
    const int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()),
                             static_cast<int>(std::clamp(waitMs, 0LL, 60'000LL)));
    if (ready < 0 && errno != EINTR) {
      cancel("poll failed");
      break;
    }
    std::vector<bool> processed(used.size(), false);
    for (size_t i = 0; ready > 0 && i < socketCount; ++i) {
      const short got = fds[i].revents;
      if (got == 0) continue;
      const bool readable = (got & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (got & (POLLOUT | POLLERR | POLLHUP)) != 0;
      // An answer read now comes from this socket's server: the callback records it.
      answering = serverOfSocket(fds[i].fd, pooled->servers);
      ares_process_fd(pooled->channels[owners[i]]->get(), readable ? fds[i].fd : ARES_SOCKET_BAD,
                      writable ? fds[i].fd : ARES_SOCKET_BAD);
      answering = -1;
      processed[owners[i]] = true;
    }
    // Timeouts are handled by every ares_process_fd call; a channel with no socket event gets
    // one with no descriptors for exactly that.
    for (size_t k = 0; k < used.size(); ++k) {
      if (used[k] && !processed[k]) {
        ares_process_fd(pooled->channels[k]->get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      }
    }
    for (auto& query : queries) failOver(query);
  }
  // Unregister the stop callback before the channel (and its eventfd) can serve another call.
  onStop.reset();
  if (reusable && !stop.stop_requested()) giveBack(std::move(pooled));

  const ResolveOutcome a = withEarlierFailures(queries[0]);
  const ResolveOutcome aaaa = withEarlierFailures(queries[1]);
  if (families.ipv4 && families.ipv6) return combineOutcomes(a, aaaa);
  return families.ipv4 ? a : aaaa;
}

}  // namespace endpointbinder::dns
