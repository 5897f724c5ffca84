// AresResolver: the Resolver on c-ares (Debian's libc-ares 1.18).
//
// Every resolve() call takes a c-ares channel (set) of its own from a small pool, sends the A
// and/or AAAA queries on it, runs the channels' event loop with poll() until both are
// answered, the deadline passes or the caller's stop_token fires, and gives the channel back.
// A channel is never shared by two calls at once, so concurrent calls need no locking on it.
// Channels are rebuilt after kChannelMaxLookups lookups or kChannelMaxAge, whichever comes
// first: the first gives queries a fresh random UDP source port regularly (c-ares 1.18 keeps
// one socket per channel and has no option for this), the second makes a changed
// /etc/resolv.conf apply within a minute without a restart. A channel whose call was cancelled
// or ran out of time is dropped, not reused. (Building a channel per call cost more CPU than the
// lookup itself at 1,000 names with a 5 s TTL; see bench/README.md.)
//
// c-ares itself retries a query `tries` times per server when it gets no answer (timeout,
// unreachable server), moving to the next server each time and doubling the per-try timeout
// each round (so 2 s and 2 tries on one server wait up to 2 + 4 s); `deadline` bounds the
// whole call regardless. A truncated (TC) UDP answer is retried over TCP by c-ares.
//
// A server that answers SERVFAIL, REFUSED or NOTIMP is passed over, as glibc and c-ares'
// default do: the query goes to the servers after it (issue 16 item 1). c-ares is not left to
// do that itself (ARES_FLAG_NOCHECKRESP hands such answers to us) because c-ares 1.18 then
// reports only "could not contact DNS servers" when every server fails. Instead the answer's
// server is known (the socket being read is connected to it), and the query is sent again on
// a channel of the pooled set that asks only the servers after it (built on first need). The
// message names each server's failure ("REFUSED from 10.0.0.2:53 (A); SERVFAIL from
// 10.0.0.3:53 (A)"); when no server answers with data or NXDOMAIN/NODATA, the status is the
// first failure's, which says more than a later timeout.
//
// Both families are asked at once; the outcome combines them (Resolver::resolve) and keeps
// each one's own outcome in perFamily, so a timed-out AAAA query does not hide the A answer.
//
// Thread-safety: resolve() is safe to call concurrently from any threads. create() and the
// destructor call ares_library_init / ares_library_cleanup, which are not thread-safe in
// c-ares 1.18: create and destroy resolvers from one thread (normally main).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/net.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/dns/resolver.h"

namespace endpointbinder::dns {

// A DNS server to ask: an IP address and a port (UDP and TCP alike).
struct ServerAddress {
  api::IpAddress address;
  int port = 53;

  // "10.0.0.2:53", "[fd00::2]:53".
  std::string toString() const;
  bool operator==(const ServerAddress&) const = default;
};

// Parses the CLI's `--dns-server HOST[:PORT]`: "10.0.0.2", "10.0.0.2:5353", "fd00::2",
// "[fd00::2]", "[fd00::2]:5353". HOST must be an IP address (a DNS server cannot be found by
// name); PORT 1..65535, default 53. On failure returns a kTerminal error saying why.
core::Result<ServerAddress> parseServerAddress(std::string_view text);

struct AresResolverOptions {
  // Servers to ask, in order. Empty: the nameservers of `resolvConfPath`.
  std::vector<ServerAddress> servers;
  // Read instead of /etc/resolv.conf when `servers` is empty; empty means the system file.
  std::string resolvConfPath;
  // The port of the nameservers read from resolv.conf (its lines carry none).
  int resolvConfPort = 53;
  // Timeout of the first try per server; c-ares doubles it on each later round.
  std::chrono::milliseconds timeout{2000};
  // Tries per server (c-ares' "tries"), at least 1.
  int tries = 2;
  // Hard bound on one resolve() call; exceeding it gives kTimeout.
  std::chrono::milliseconds deadline{5000};
};

class AresResolver final : public Resolver {
 public:
  // Validates `options` (timeout, deadline > 0; tries >= 1) and checks that a c-ares channel
  // can be built with them (e.g. the resolv.conf path is readable when given). On failure
  // returns a kTerminal error; the resolver is unusable then.
  // `clock` measures the deadline; it must outlive the resolver.
  static core::Result<std::unique_ptr<AresResolver>> create(AresResolverOptions options,
                                                            const core::Clock& clock);
  ~AresResolver() override;
  AresResolver(const AresResolver&) = delete;
  AresResolver& operator=(const AresResolver&) = delete;

  // See Resolver::resolve. Queries are not retried beyond c-ares' own tries; the watcher
  // decides when to look again.
  ResolveOutcome resolve(std::string_view hostname, AddressFamilies families,
                         std::stop_token stop) override;

  const AresResolverOptions& options() const { return options_; }

 private:
  AresResolver(AresResolverOptions options, const core::Clock& clock);

  struct PooledChannel;  // channels, their servers, a stop-wake eventfd, age and use count
  std::unique_ptr<PooledChannel> takeChannel(int& aresStatus);
  // Makes sure `pooled` has the channel that asks servers[first..] (built on first use);
  // false when there is no such server or the channel cannot be built.
  bool readyFailoverChannel(PooledChannel& pooled, size_t first);
  void giveBack(std::unique_ptr<PooledChannel> channel);

  AresResolverOptions options_;
  const core::Clock& clock_;
  std::mutex poolMutex_;
  std::vector<std::unique_ptr<PooledChannel>> idle_;  // guarded by poolMutex_
};

inline constexpr int kChannelMaxLookups = 64;
inline constexpr std::chrono::seconds kChannelMaxAge{60};

}  // namespace endpointbinder::dns
