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
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "controller/core/thread_name.h"
#include "controller/dns/answer_parser.h"

namespace endpointbinder::dns {
namespace {

constexpr int kQueryClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;

core::Error terminal(std::string message) {
  return core::Error{core::ErrorKind::kTerminal, std::move(message), {}, {}, 0};
}

// The outcome of a lookup cancelled before a query was sent: the contract's kTimeout
// "cancelled", named after the first family asked.
ResolveOutcome cancelledBeforeSending(AddressFamilies families) {
  return ResolveOutcome::failure(ResolveStatus::kTimeout,
                                 families.ipv4 ? "cancelled (A)" : "cancelled (AAAA)");
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
  // Destroys the channel now (its pending queries are called back with ARES_EDESTRUCTION).
  void destroy() {
    if (channel_ != nullptr) ares_destroy(channel_);
    channel_ = nullptr;
  }

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
// `onSocket` (with `data`), when given, hears of every socket the channel opens, closes or
// wants written (ARES_OPT_SOCK_STATE_CB); `sockets`, when given, makes its socket calls.
int initChannel(const AresResolverOptions& options, const std::vector<ServerAddress>* servers,
                Channel& channel, ares_sock_state_cb onSocket = nullptr, void* data = nullptr,
                BatchedSockets* sockets = nullptr) {
  ares_options init{};
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  // NOSEARCH: absolute names only (ares_query never searches; the flag states the intent).
  // NOCHECKRESP: hand SERVFAIL and REFUSED answers to the callback. Without it c-ares 1.18
  // moves on to the next server by itself, but when every server fails reports only "could
  // not contact DNS servers", losing the reason; the loop moves on itself instead.
  // STAYOPEN: keep the sockets when no query is pending. Without it c-ares 1.18 closes them
  // after every answer, and each lookup paid socket(), connect() and close().
  init.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN;
  if (onSocket != nullptr) {
    mask |= ARES_OPT_SOCK_STATE_CB;
    init.sock_state_cb = onSocket;
    init.sock_state_cb_data = data;
  }
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
  // Before the first query: c-ares opens its sockets when it first sends.
  if (sockets != nullptr) {
    ares_set_socket_functions(channel.get(), &BatchedSockets::functions(), sockets);
  }
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

// ---------------------------------------------------------------------------------------------
// The event loop. Everything below the submission queue is touched by the loop thread only.

class AresResolver::Loop {
 public:
  Loop(const AresResolverOptions& options, const core::Clock& clock)
      : options_(options),
        clock_(clock),
        // A quarter of the first try's timeout at most, so the pause never eats into it.
        batchPause_(std::min<std::chrono::microseconds>(
            options.batchPause,
            std::chrono::duration_cast<std::chrono::microseconds>(options.timeout / 4))) {
    if (ready()) thread_ = std::thread([this] { run(); });
  }
  ~Loop() { stop(); }
  // Ends every lookup in flight as cancelled and joins the thread; from here submit() cancels
  // at once. Idempotent. The callbacks of those lookups may call submit() (chain another).
  void stop() {
    {
      std::lock_guard lock(submitMutex_);
      stopping_ = true;
    }
    if (!thread_.joinable()) return;
    wake();
    thread_.join();
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  bool ready() const { return wake_.get() >= 0; }
  uint64_t channelSetsBuilt() const { return setsBuilt_.load(); }
  uint64_t wakeUps() const { return wakeUps_.load(); }
  BatchedSockets::Stats datagramStats() const { return datagrams_.stats(); }

  void submit(std::string name, AddressFamilies families, std::stop_token stop, Done done);

 private:
  struct Lookup;
  struct Generation;

  // Names one channel of a generation to the socket-state callback.
  struct ChannelTag {
    Loop* loop = nullptr;
    Generation* generation = nullptr;
    size_t index = 0;
  };
  struct TaggedChannel {
    ChannelTag tag;
    int pending = 0;  // c-ares queries not yet called back
    Channel channel;  // last: destroying it calls back into `tag` and `pending`
  };
  // One channel set: channels[k] asks servers[k..]; channels[0] every server, the others
  // built when a failover first needs them.
  struct Generation {
    std::vector<std::unique_ptr<TaggedChannel>> channels;
    std::vector<ServerAddress> servers;
    core::MonoTime created{};
    int lookups = 0;
    int pending = 0;  // over every channel
  };
  // One c-ares query. Owned by c-ares (freed in its callback, whatever the status); `lookup`
  // is cleared when the lookup completed without it (deadline, cancel).
  struct Query {
    Loop* loop = nullptr;
    Lookup* lookup = nullptr;
    size_t slot = 0;  // 0 A, 1 AAAA
    std::shared_ptr<Generation> generation;
    size_t channel = 0;
  };
  // One family of a lookup.
  struct FamilyState {
    bool done = true;
    ResolveOutcome outcome;
    Query* inFlight = nullptr;
    size_t channel = 0;                   // the channel it was last sent on: servers[channel..]
    int answeredBy = -1;                  // the server that answered, when outcome is its answer
    bool serverFailed = false;            // a server answered SERVFAIL, REFUSED or NOTIMP
    std::vector<ResolveOutcome> earlier;  // failures of servers asked before, in order
  };
  // Runs on the thread that requests stop: asks the loop to cancel lookup `id`.
  struct StopPoster {
    Loop* loop;
    uint64_t id;
    void operator()() const noexcept { loop->postCancel(id); }
  };
  struct Lookup {
    uint64_t id = 0;
    std::string name;
    AddressFamilies families;
    core::MonoTime deadline{};
    Done done;
    std::stop_token stop;
    std::array<FamilyState, 2> family;
    std::shared_ptr<Generation> generation;
    std::optional<std::stop_callback<StopPoster>> onStop;
  };
  struct Socket {
    ChannelTag* tag = nullptr;
    bool read = false;
    bool write = false;
    int server = -2;  // index in the generation's servers; -2 not looked up yet, -1 unknown
  };

  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void onAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  void wake();
  void postCancel(uint64_t id);
  void run();
  // Takes what the other threads queued; false once the resolver is being destroyed.
  bool drain(std::vector<std::unique_ptr<Lookup>>& started, std::vector<uint64_t>& cancelled);
  void start(std::unique_ptr<Lookup> lookup);
  std::shared_ptr<Generation> currentGeneration(core::MonoTime now, int& status);
  bool readyChannel(Generation& generation, size_t first);
  void send(Lookup& lookup, size_t slot, size_t channel);
  // Fails over or completes the lookups whose queries were answered.
  void settleTouched();
  void failOver(Lookup& lookup, FamilyState& state);
  // Ends every family still pending with `why`, then completes the lookup.
  void abandon(uint64_t id, const char* why);
  void complete(uint64_t id);
  void retireIdleGenerations();
  int pollTimeoutMs(core::MonoTime now);
  void processEvents(const std::vector<pollfd>& fds, size_t socketCount);
  // Lets c-ares read socket `fd` now (readable: a datagram, or an error, waits for it), the
  // answer attributed to the socket's server. False when the socket is not the channels' any
  // more.
  bool readSocket(int fd);
  // Hands c-ares the answers read from `fd` in the last batch and not handed over yet (c-ares
  // 1.18 reads until the socket is drained; later versions read one datagram per call when the
  // socket calls are ours). poll() would not report them.
  void handOverBuffered(int fd);
  // Sends what this pass wrote; errors the sends took from the kernel are read by c-ares now,
  // and what that moves to other servers is sent too. Then hands over any answer still
  // buffered: the loop is about to sleep.
  void flushSends();

  const AresResolverOptions& options_;
  const core::Clock& clock_;
  const std::chrono::microseconds batchPause_;  // options_.batchPause, bounded (constructor)
  Descriptor wake_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::atomic<uint64_t> setsBuilt_{0};
  std::atomic<uint64_t> wakeUps_{0};
  // Every channel's socket calls. Declared before the channels (in lookups_, current_,
  // retired_), so it outlives them: destroying a channel closes its sockets through it.
  BatchedSockets datagrams_;

  std::mutex submitMutex_;
  std::vector<std::unique_ptr<Lookup>> submitted_;  // guarded by submitMutex_
  std::vector<uint64_t> cancelled_;                 // guarded by submitMutex_
  bool sleeping_ = false;  // guarded by submitMutex_; the loop is (about to be) in poll()
  bool stopping_ = false;  // guarded by submitMutex_
  std::atomic<uint64_t> nextId_{1};

  // Loop thread only.
  std::map<uint64_t, std::unique_ptr<Lookup>> lookups_;
  std::shared_ptr<Generation> current_;
  std::vector<std::shared_ptr<Generation>> retired_;  // ending their last queries
  std::map<int, Socket> sockets_;
  std::vector<uint64_t> touched_;  // lookups with a family answered since the last settle
  int answering_ = -1;             // the server whose socket ares_process_fd is reading

  std::thread thread_;
};

void AresResolver::Loop::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_.get(), &one, sizeof one);
}

void AresResolver::Loop::postCancel(uint64_t id) {
  bool wakeLoop = false;
  {
    std::lock_guard lock(submitMutex_);
    cancelled_.push_back(id);
    wakeLoop = std::exchange(sleeping_, false);
  }
  if (wakeLoop) wake();
}

void AresResolver::Loop::submit(std::string name, AddressFamilies families, std::stop_token stop,
                                Done done) {
  auto lookup = std::make_unique<Lookup>();
  lookup->id = nextId_++;
  lookup->name = std::move(name);
  lookup->families = families;
  lookup->deadline = clock_.now() + options_.deadline;
  lookup->done = std::move(done);
  // A stop requested from here on posts the id; one that comes before the loop has started the
  // lookup (its post then finds nothing) is seen by start() through the token.
  lookup->stop = stop;
  if (stop.stop_possible()) lookup->onStop.emplace(stop, StopPoster{this, lookup->id});
  bool wakeLoop = false;
  {
    std::lock_guard lock(submitMutex_);
    if (!stopping_) {
      submitted_.push_back(std::move(lookup));
      wakeLoop = std::exchange(sleeping_, false);
    }
  }
  // Stopping (the resolver is being destroyed; perhaps this is a callback of a cancelled
  // lookup chaining another): nothing would ever run it, so it ends now, exactly once.
  if (lookup) {
    lookup->onStop.reset();
    auto finish = std::move(lookup->done);
    finish(cancelledBeforeSending(families));
    return;
  }
  if (wakeLoop) wake();
}

bool AresResolver::Loop::drain(std::vector<std::unique_ptr<Lookup>>& started,
                               std::vector<uint64_t>& cancelled) {
  std::lock_guard lock(submitMutex_);
  sleeping_ = false;
  started.swap(submitted_);
  cancelled.swap(cancelled_);
  return !stopping_;
}

void AresResolver::Loop::onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* tag = static_cast<ChannelTag*>(data);
  auto& sockets = tag->loop->sockets_;
  if (readable == 0 && writable == 0) {
    if (auto it = sockets.find(fd); it != sockets.end() && it->second.tag == tag) {
      sockets.erase(it);
    }
    return;
  }
  Socket& socket = sockets[fd];
  if (socket.tag != tag) socket = Socket{tag};
  socket.read = readable != 0;
  socket.write = writable != 0;
}

std::shared_ptr<AresResolver::Loop::Generation> AresResolver::Loop::currentGeneration(
    core::MonoTime now, int& status) {
  if (current_ && current_->lookups < kChannelMaxLookups &&
      now - current_->created < kChannelMaxAge) {
    return current_;
  }
  auto fresh = std::make_shared<Generation>();
  fresh->created = now;
  auto first = std::make_unique<TaggedChannel>();
  first->tag = ChannelTag{this, fresh.get(), 0};
  status = initChannel(options_, nullptr, first->channel, onSocketState, &first->tag, &datagrams_);
  if (status != ARES_SUCCESS) return nullptr;
  fresh->servers = channelServers(first->channel, options_.resolvConfPort);
  fresh->channels.resize(std::max<size_t>(fresh->servers.size(), 1));
  fresh->channels[0] = std::move(first);
  setsBuilt_++;
  if (current_) retired_.push_back(std::move(current_));
  current_ = fresh;
  return fresh;
}

bool AresResolver::Loop::readyChannel(Generation& generation, size_t first) {
  if (first >= generation.servers.size() && first > 0) return false;
  if (first >= generation.channels.size()) return false;
  auto& slot = generation.channels[first];
  if (!slot) {
    auto channel = std::make_unique<TaggedChannel>();
    channel->tag = ChannelTag{this, &generation, first};
    const std::vector<ServerAddress> rest(generation.servers.begin() + static_cast<long>(first),
                                          generation.servers.end());
    if (initChannel(options_, &rest, channel->channel, onSocketState, &channel->tag, &datagrams_) !=
        ARES_SUCCESS) {
      return false;
    }
    slot = std::move(channel);
  }
  return true;
}

void AresResolver::Loop::send(Lookup& lookup, size_t slot, size_t channel) {
  FamilyState& state = lookup.family[slot];
  auto* query = new Query{this, &lookup, slot, lookup.generation, channel};
  state.done = false;
  state.channel = channel;
  state.inFlight = query;
  TaggedChannel& tagged = *lookup.generation->channels[channel];
  tagged.pending++;
  lookup.generation->pending++;
  ares_query(tagged.channel.get(), lookup.name.c_str(), kQueryClassIn,
             slot == 0 ? kTypeA : kTypeAaaa, onAnswer, query);
}

void AresResolver::Loop::start(std::unique_ptr<Lookup> lookup) {
  int status = ARES_SUCCESS;
  auto generation = currentGeneration(clock_.now(), status);
  Lookup& ref = *lookup;
  lookups_.emplace(ref.id, std::move(lookup));
  if (!generation) {
    const ResolveOutcome failure = ResolveOutcome::failure(
        ResolveStatus::kError, std::string("c-ares channel: ") + ares_strerror(status));
    for (size_t slot = 0; slot < 2; ++slot) ref.family[slot].outcome = failure;
    complete(ref.id);
    return;
  }
  generation->lookups++;
  ref.generation = std::move(generation);
  if (ref.stop.stop_requested()) {
    ref.family[0].done = !ref.families.ipv4;
    ref.family[1].done = !ref.families.ipv6;
    abandon(ref.id, "cancelled");
    return;
  }
  if (ref.families.ipv4) send(ref, 0, 0);
  if (ref.families.ipv6) send(ref, 1, 0);
}

void AresResolver::Loop::onAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                                  int alen) {
  std::unique_ptr<Query> query(static_cast<Query*>(arg));
  Loop& loop = *query->loop;
  query->generation->channels[query->channel]->pending--;
  query->generation->pending--;
  Lookup* lookup = query->lookup;
  if (lookup == nullptr) return;  // completed without it (deadline, cancel): nobody waits
  FamilyState& state = lookup->family[query->slot];
  state.inFlight = nullptr;
  state.done = true;
  state.answeredBy = loop.answering_;
  loop.touched_.push_back(lookup->id);
  const char* type =
      typeName(query->slot == 0 ? api::AddressFamily::kIPv4 : api::AddressFamily::kIPv6);
  if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
    state.outcome =
        ResolveOutcome::failure(ResolveStatus::kTimeout, std::string("cancelled (") + type + ")");
    return;
  }
  if ((status == ARES_SUCCESS || status == ARES_ENODATA) && abuf != nullptr && alen > 0) {
    state.outcome = parseAddressAnswer(
        std::span<const uint8_t>(abuf, static_cast<size_t>(alen)),
        query->slot == 0 ? api::AddressFamily::kIPv4 : api::AddressFamily::kIPv6);
    if (!state.outcome.ok() && !state.outcome.message.empty()) {
      state.outcome.message += std::string(" (") + type + ")";
    }
    return;
  }
  state.serverFailed = abuf != nullptr && (status == ARES_ESERVFAIL || status == ARES_EREFUSED ||
                                           status == ARES_ENOTIMP);
  state.outcome = statusOutcome(status, type);
}

// A server that answered SERVFAIL, REFUSED or NOTIMP: name it in the message and ask the
// servers after it, as glibc and c-ares' default do (c-ares' own timeouts and tries already
// move on from a server that does not answer).
void AresResolver::Loop::failOver(Lookup& lookup, FamilyState& state) {
  if (!state.done || !state.serverFailed) return;
  state.serverFailed = false;
  Generation& generation = *lookup.generation;
  // The channel asks servers[channel..]: the answering server is at or after it (a server
  // listed twice matches its first place too), and the next channel is strictly later, so
  // failover ends after at most one channel per server.
  const size_t server = std::max(static_cast<size_t>(std::max(state.answeredBy, 0)), state.channel);
  if (server < generation.servers.size()) {
    const std::string from = " from " + generation.servers[server].toString();
    auto& message = state.outcome.message;
    const auto paren = message.rfind(" (");
    message.insert(paren == std::string::npos ? message.size() : paren, from);
  }
  if (server + 1 >= generation.servers.size() || !readyChannel(generation, server + 1)) return;
  state.earlier.push_back(std::move(state.outcome));
  state.outcome = {};
  send(lookup, static_cast<size_t>(&state - lookup.family.data()), server + 1);
}

void AresResolver::Loop::settleTouched() {
  while (!touched_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(touched_);
    for (const uint64_t id : ids) {
      auto it = lookups_.find(id);
      if (it == lookups_.end()) continue;  // completed already (listed twice)
      Lookup& lookup = *it->second;
      for (auto& state : lookup.family) failOver(lookup, state);
      if (lookup.family[0].done && lookup.family[1].done) complete(id);
    }
  }
}

void AresResolver::Loop::abandon(uint64_t id, const char* why) {
  auto it = lookups_.find(id);
  if (it == lookups_.end()) return;
  Lookup& lookup = *it->second;
  for (size_t slot = 0; slot < 2; ++slot) {
    FamilyState& state = lookup.family[slot];
    if (state.done) continue;
    state.done = true;
    state.outcome = ResolveOutcome::failure(
        ResolveStatus::kTimeout, std::string(why) + " (" + (slot == 0 ? "A" : "AAAA") + ")");
  }
  complete(id);
}

// A family's outcome after failing over: an answer (addresses, NXDOMAIN, NODATA) from the last
// server stands; when no server answered, the first failure is the status (a server that
// said SERVFAIL or REFUSED says more than a later timeout) and the message names every one.
static ResolveOutcome withEarlierFailures(ResolveOutcome last,
                                          const std::vector<ResolveOutcome>& earlier) {
  const ResolveStatus status = last.status;
  if (earlier.empty() || status == ResolveStatus::kOk || status == ResolveStatus::kNxDomain ||
      status == ResolveStatus::kNoData) {
    return last;
  }
  ResolveOutcome outcome = earlier.front();
  for (size_t i = 1; i < earlier.size(); ++i) outcome.message += "; " + earlier[i].message;
  outcome.message += "; " + last.message;
  return outcome;
}

void AresResolver::Loop::complete(uint64_t id) {
  auto node = lookups_.extract(id);
  if (node.empty()) return;
  std::unique_ptr<Lookup> lookup = std::move(node.mapped());
  for (auto& state : lookup->family) {
    if (state.inFlight != nullptr) state.inFlight->lookup = nullptr;  // left to end by itself
  }
  ResolveOutcome a =
      withEarlierFailures(std::move(lookup->family[0].outcome), lookup->family[0].earlier);
  ResolveOutcome aaaa =
      withEarlierFailures(std::move(lookup->family[1].outcome), lookup->family[1].earlier);
  ResolveOutcome outcome;
  if (lookup->families.ipv4 && lookup->families.ipv6) {
    outcome = combineOutcomes(std::move(a), std::move(aaaa));
  } else {
    outcome = lookup->families.ipv4 ? std::move(a) : std::move(aaaa);
  }
  Done done = std::move(lookup->done);
  // The stop callback goes first (its destructor waits for a concurrent run of it, which takes
  // submitMutex_, never held here), so it never outlives the lookup it names.
  lookup.reset();
  done(std::move(outcome));
}

void AresResolver::Loop::retireIdleGenerations() {
  std::erase_if(retired_, [](const std::shared_ptr<Generation>& generation) {
    // Lookups and queries hold shared_ptrs too; pending counts the queries.
    return generation->pending == 0 && generation.use_count() == 1;
  });
}

int AresResolver::Loop::pollTimeoutMs(core::MonoTime now) {
  std::optional<core::MonoTime> until;
  for (const auto& [id, lookup] : lookups_) {
    if (!until || lookup->deadline < *until) until = lookup->deadline;
  }
  long long waitMs = -1;
  if (until) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*until - now);
    waitMs = std::max<long long>(left.count(), 0);
  }
  auto aresTimeout = [&](const Generation& generation) {
    for (const auto& tagged : generation.channels) {
      if (!tagged || tagged->pending == 0) continue;
      timeval buffer{};
      const timeval* next = ares_timeout(tagged->channel.get(), nullptr, &buffer);
      if (next == nullptr) continue;
      // Round up so a sub-millisecond remainder does not spin.
      const long long ms = next->tv_sec * 1000LL + (next->tv_usec + 999) / 1000;
      waitMs = waitMs < 0 ? ms : std::min(waitMs, ms);
    }
  };
  if (current_) aresTimeout(*current_);
  for (const auto& generation : retired_) aresTimeout(*generation);
  return static_cast<int>(std::min<long long>(waitMs, 60'000));
}

void AresResolver::Loop::processEvents(const std::vector<pollfd>& fds, size_t socketCount) {
  std::vector<TaggedChannel*> processed;
  for (size_t i = 0; i < socketCount; ++i) {
    const short got = fds[i].revents;
    if (got == 0) continue;
    auto it = sockets_.find(fds[i].fd);
    if (it == sockets_.end()) continue;  // closed while an earlier one was processed
    Socket& socket = it->second;
    ChannelTag* tag = socket.tag;
    TaggedChannel& tagged = *tag->generation->channels[tag->index];
    if (socket.server == -2) {
      socket.server = serverOfSocket(fds[i].fd, tag->generation->servers);
    }
    const bool readable = (got & (POLLIN | POLLERR | POLLHUP)) != 0;
    const bool writable = (got & (POLLOUT | POLLERR | POLLHUP)) != 0;
    // An answer read now comes from this socket's server: the callback records it.
    answering_ = socket.server;
    ares_process_fd(tagged.channel.get(), readable ? fds[i].fd : ARES_SOCKET_BAD,
                    writable ? fds[i].fd : ARES_SOCKET_BAD);
    answering_ = -1;
    if (readable) handOverBuffered(fds[i].fd);
    processed.push_back(&tagged);
  }
  // Timeouts are handled by every ares_process_fd call; a channel with queries pending and no
  // socket event gets one with no descriptors for exactly that.
  auto timeouts = [&](Generation& generation) {
    for (auto& tagged : generation.channels) {
      if (!tagged || tagged->pending == 0) continue;
      if (std::find(processed.begin(), processed.end(), tagged.get()) != processed.end()) continue;
      ares_process_fd(tagged->channel.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
  };
  if (current_) timeouts(*current_);
  // By index: a callback may not add generations, but be safe against reallocation anyway.
  for (size_t i = 0; i < retired_.size(); ++i) timeouts(*retired_[i]);
}

bool AresResolver::Loop::readSocket(int fd) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return false;
  Socket& socket = it->second;
  ChannelTag* tag = socket.tag;
  if (socket.server == -2) socket.server = serverOfSocket(fd, tag->generation->servers);
  answering_ = socket.server;
  ares_process_fd(tag->generation->channels[tag->index]->channel.get(), fd, ARES_SOCKET_BAD);
  answering_ = -1;
  return true;
}

void AresResolver::Loop::handOverBuffered(int fd) {
  for (size_t left = datagrams_.buffered(fd); left > 0;) {
    if (!readSocket(fd)) break;
    const size_t after = datagrams_.buffered(fd);
    if (after >= left) break;  // c-ares did not read it: never loop
    left = after;
  }
}

void AresResolver::Loop::flushSends() {
  datagrams_.flush();
  // Bounded: each round moves queries off a failing server, and c-ares runs out of servers.
  for (int round = 0; round < 8; ++round) {
    const std::vector<int> failed = datagrams_.socketsWithErrors();
    if (failed.empty()) break;
    for (const int fd : failed) readSocket(fd);
    settleTouched();
    datagrams_.flush();
  }
  if (const int fd = datagrams_.bufferedSocket(); fd >= 0) {
    handOverBuffered(fd);
    settleTouched();
    datagrams_.discardBuffered();  // c-ares would not read them (never seen): not kept
    datagrams_.flush();
  }
}

void AresResolver::Loop::run() {
  core::nameThisThread("eb-dns-loop");
  std::vector<std::unique_ptr<Lookup>> started;
  std::vector<uint64_t> cancelled;
  std::vector<pollfd> fds;
  while (true) {
    const bool running = drain(started, cancelled);
    for (auto& lookup : started) start(std::move(lookup));
    started.clear();
    for (const uint64_t id : cancelled) abandon(id, "cancelled");
    cancelled.clear();
    if (!running) break;
    settleTouched();
    const core::MonoTime now = clock_.now();
    std::vector<uint64_t> late;
    for (const auto& [id, lookup] : lookups_) {
      if (lookup->deadline <= now) late.push_back(id);
    }
    for (const uint64_t id : late) abandon(id, "deadline exceeded");
    retireIdleGenerations();
    flushSends();  // the queries this pass wrote, in one call per socket

    fds.clear();
    for (const auto& [fd, socket] : sockets_) {
      short events = 0;
      if (socket.read) events |= POLLIN;
      if (socket.write) events |= POLLOUT;
      fds.push_back(pollfd{fd, events, 0});
    }
    const size_t socketCount = fds.size();
    fds.push_back(pollfd{wake_.get(), POLLIN, 0});
    int timeoutMs = pollTimeoutMs(now);
    {
      // Sleep only when nothing was queued meanwhile; from here submit() writes the eventfd.
      std::lock_guard lock(submitMutex_);
      if (!submitted_.empty() || !cancelled_.empty() || stopping_) {
        timeoutMs = 0;
      } else {
        sleeping_ = true;
      }
    }
    int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeoutMs);
    if (ready > 0 && timeoutMs != 0) {
      wakeUps_++;
      // Woken from a sleep. What woke the loop seldom comes alone: the answers to queries sent
      // together arrive within a millisecond or two of each other, and a refresh round submits
      // its lookups one after another. Handled as they come, each answer costs a wake-up and a
      // poll() of its own, which at 1,000 names and a 5 s TTL was most of the loop's CPU
      // (bench/README.md); after a short pause one poll() finds them all and c-ares reads every
      // datagram queued on a socket in one go. The pause delays each wake-up's work by
      // batchPause_.
      if (batchPause_.count() > 0) {
        std::this_thread::sleep_for(batchPause_);
        for (auto& fd : fds) fd.revents = 0;
        ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), 0);
      }
    }
    if (ready < 0 && errno != EINTR) {
      // Cannot wait: fail what is in flight rather than spin (never seen; EBADF, ENOMEM).
      std::vector<uint64_t> ids;
      for (const auto& [id, lookup] : lookups_) ids.push_back(id);
      for (const uint64_t id : ids) abandon(id, "poll failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (fds.back().revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] auto got = ::read(wake_.get(), &count, sizeof count);
    }
    processEvents(fds, socketCount);
    settleTouched();
  }
  // Stopping: every lookup in flight ends as cancelled, then the channels go (their pending
  // queries are called back with ARES_EDESTRUCTION and freed).
  std::vector<uint64_t> ids;
  for (const auto& [id, lookup] : lookups_) ids.push_back(id);
  for (const uint64_t id : ids) abandon(id, "cancelled");
  std::vector<std::shared_ptr<Generation>> all = std::move(retired_);
  if (current_) all.push_back(std::move(current_));
  for (auto& generation : all) {
    for (auto& tagged : generation->channels) {
      if (tagged) tagged->channel.destroy();  // in place: the callbacks still reach `pending`
    }
  }
}

// ---------------------------------------------------------------------------------------------

AresResolver::AresResolver(AresResolverOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

AresResolver::~AresResolver() {
  // Stopped while loop_ is still set: the cancelled lookups' callbacks may call resolveAsync(),
  // which then ends at once (reset() would null loop_ before ~Loop runs them).
  if (loop_) loop_->stop();
  loop_.reset();  // every channel goes before the library does
  ares_library_cleanup();
}

uint64_t AresResolver::channelSetsBuilt() const { return loop_->channelSetsBuilt(); }
uint64_t AresResolver::wakeUps() const { return loop_->wakeUps(); }
BatchedSockets::Stats AresResolver::datagramStats() const { return loop_->datagramStats(); }

core::Result<std::unique_ptr<AresResolver>> AresResolver::create(AresResolverOptions options,
                                                                 const core::Clock& clock) {
  if (options.timeout.count() <= 0) return std::unexpected(terminal("DNS timeout must be > 0"));
  if (options.deadline.count() <= 0) return std::unexpected(terminal("DNS deadline must be > 0"));
  if (options.tries < 1) return std::unexpected(terminal("DNS tries must be >= 1"));
  if (options.batchPause.count() < 0) return std::unexpected(terminal("DNS batch pause < 0"));
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
  {
    Channel probe;
    if (const int status = initChannel(resolver->options_, nullptr, probe);
        status != ARES_SUCCESS) {
      return std::unexpected(terminal(std::string("c-ares channel: ") + ares_strerror(status)));
    }
  }
  try {
    resolver->loop_ = std::make_unique<Loop>(resolver->options_, resolver->clock_);
  } catch (const std::system_error& e) {
    return std::unexpected(terminal(std::string("DNS resolver thread: ") + e.what()));
  }
  if (!resolver->loop_->ready()) {
    return std::unexpected(terminal(std::string("DNS resolver eventfd: ") + std::strerror(errno)));
  }
  return resolver;
}

void AresResolver::resolveAsync(std::string_view hostname, AddressFamilies families,
                                std::stop_token stop, Done done) {
  if (!families.ipv4 && !families.ipv6) families.ipv4 = true;
  if (hostname.empty() || hostname.size() > 254) {
    done(ResolveOutcome::failure(ResolveStatus::kError, "bad hostname"));
    return;
  }
  if (stop.stop_requested()) {
    done(cancelledBeforeSending(families));
    return;
  }
  loop_->submit(std::string(hostname), families, std::move(stop), std::move(done));
}

ResolveOutcome AresResolver::resolve(std::string_view hostname, AddressFamilies families,
                                     std::stop_token stop) {
  struct Waiter {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    ResolveOutcome outcome;
  };
  auto waiter = std::make_shared<Waiter>();
  resolveAsync(hostname, families, std::move(stop), [waiter](ResolveOutcome outcome) {
    std::lock_guard lock(waiter->mutex);
    waiter->outcome = std::move(outcome);
    waiter->done = true;
    waiter->cv.notify_one();
  });
  std::unique_lock lock(waiter->mutex);
  waiter->cv.wait(lock, [&] { return waiter->done; });
  return std::move(waiter->outcome);
}

}  // namespace endpointbinder::dns
