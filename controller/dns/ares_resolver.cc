#include "controller/dns/ares_resolver.h"

#include <ares.h>
#include <poll.h>
#include <sys/eventfd.h>
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

// Builds a channel for `options`. On failure returns the c-ares status.
int initChannel(const AresResolverOptions& options, Channel& channel) {
  ares_options init{};
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  // NOSEARCH: absolute names only (ares_query never searches; the flag states the intent).
  // NOCHECKRESP: hand SERVFAIL and REFUSED answers to the callback. Without it c-ares 1.18
  // retries them and then reports only "could not contact DNS servers", losing the reason.
  init.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
  init.timeout = static_cast<int>(options.timeout.count());
  init.tries = options.tries;
  std::string path = options.resolvConfPath;
  if (!path.empty()) {
    mask |= ARES_OPT_RESOLVCONF;
    init.resolvconf_path = path.data();
  }
  if (options.servers.empty()) {
    // resolv.conf's nameserver lines carry no port (c-ares 1.18 ignores "ip:port" there).
    mask |= ARES_OPT_UDP_PORT | ARES_OPT_TCP_PORT;
    init.udp_port = static_cast<unsigned short>(options.resolvConfPort);
    init.tcp_port = static_cast<unsigned short>(options.resolvConfPort);
  }
  int status = ares_init_options(channel.out(), &init, mask);
  if (status != ARES_SUCCESS) return status;
  if (options.servers.empty()) return ARES_SUCCESS;

  std::vector<ares_addr_port_node> nodes(options.servers.size());
  for (size_t i = 0; i < options.servers.size(); ++i) {
    const auto& server = options.servers[i];
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
  return ares_set_servers_ports(channel.get(), nodes.data());
}

// One query in flight on a channel.
struct Query {
  api::AddressFamily family = api::AddressFamily::kIPv4;
  bool done = false;
  ResolveOutcome outcome;
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
  query->outcome = statusOutcome(status, type);
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
  Channel channel;
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
  aresStatus = initChannel(options_, fresh->channel);
  if (aresStatus != ARES_SUCCESS) return nullptr;
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
  if (const int status = initChannel(resolver->options_, probe); status != ARES_SUCCESS) {
    return std::unexpected(terminal(std::string("c-ares channel: ") + ares_strerror(status)));
  }
  return resolver;
}

ResolveOutcome AresResolver::resolve(std::string_view hostname, AddressFamilies families,
                                     std::stop_token stop) {
  const core::MonoTime deadline = clock_.now() + options_.deadline;
  if (!families.ipv4 && !families.ipv6) families.ipv4 = true;
  if (hostname.empty() || hostname.size() > 254) {
    return ResolveOutcome::failure(ResolveStatus::kError, "bad hostname");
  }
  const std::string name(hostname);

  // Queries before the channel: the channel's destructor may still call back into them.
  std::array<Query, 2> queries;
  queries[0].family = api::AddressFamily::kIPv4;
  queries[1].family = api::AddressFamily::kIPv6;
  queries[0].done = !families.ipv4;
  queries[1].done = !families.ipv6;

  // After the queries: a dropped channel's destructor may still call back into them.
  int initStatus = ARES_SUCCESS;
  std::unique_ptr<PooledChannel> pooled = takeChannel(initStatus);
  if (!pooled) {
    return ResolveOutcome::failure(ResolveStatus::kError,
                                   std::string("c-ares channel: ") + ares_strerror(initStatus));
  }
  pooled->lookups++;
  Channel& channel = pooled->channel;
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

  if (families.ipv4)
    ares_query(channel.get(), name.c_str(), kClassIn, kTypeA, onAnswer, &queries[0]);
  if (families.ipv6) {
    ares_query(channel.get(), name.c_str(), kClassIn, kTypeAaaa, onAnswer, &queries[1]);
  }

  auto pending = [&] { return !queries[0].done || !queries[1].done; };
  // Cancelling runs every pending callback with ARES_ECANCELLED; afterwards the reason is
  // written over the generic "cancelled" message.
  auto cancel = [&](const char* why) {
    reusable = false;
    std::array<bool, 2> wasPending{!queries[0].done, !queries[1].done};
    ares_cancel(channel.get());
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
    std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};
    const int bits = ares_getsock(channel.get(), sockets.data(), ARES_GETSOCK_MAXNUM);
    std::array<pollfd, ARES_GETSOCK_MAXNUM + 1> fds{};
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events == 0) continue;
      fds[count++] = pollfd{sockets[static_cast<size_t>(i)], events, 0};
    }
    const nfds_t socketCount = count;
    if (wake && wake->get() >= 0) fds[count++] = pollfd{wake->get(), POLLIN, 0};

    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    timeval maxWait{static_cast<time_t>(left.count() / 1'000'000),
                    static_cast<suseconds_t>(left.count() % 1'000'000)};
    timeval buffer{};
    const timeval* wait = ares_timeout(channel.get(), &maxWait, &buffer);
    // Round up so a sub-millisecond remainder does not spin.
    const long long waitMs = wait->tv_sec * 1000LL + (wait->tv_usec + 999) / 1000;
    const int ready =
        ::poll(fds.data(), count, static_cast<int>(std::clamp(waitMs, 0LL, 60'000LL)));
    if (ready < 0 && errno != EINTR) {
      cancel("poll failed");
      break;
    }
    bool processed = false;
    for (nfds_t i = 0; ready > 0 && i < socketCount; ++i) {
      const short got = fds[i].revents;
      if (got == 0) continue;
      const bool readable = (got & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (got & (POLLOUT | POLLERR | POLLHUP)) != 0;
      ares_process_fd(channel.get(), readable ? fds[i].fd : ARES_SOCKET_BAD,
                      writable ? fds[i].fd : ARES_SOCKET_BAD);
      processed = true;
    }
    // Timeouts are handled by every ares_process_fd call; with no socket event, call it once
    // with no descriptors for exactly that.
    if (!processed) ares_process_fd(channel.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  }
  // Unregister the stop callback before the channel (and its eventfd) can serve another call.
  onStop.reset();
  if (reusable && !stop.stop_requested()) giveBack(std::move(pooled));

  if (families.ipv4 && families.ipv6)
    return combineOutcomes(queries[0].outcome, queries[1].outcome);
  return families.ipv4 ? queries[0].outcome : queries[1].outcome;
}

}  // namespace endpointbinder::dns
