// AresResolver: the Resolver on c-ares (Debian's libc-ares 1.18).
//
// One event-loop thread owns every c-ares channel and multiplexes every lookup: resolve() and
// resolveAsync() hand the lookup to it (a queue and, when the loop sleeps, an eventfd), the
// loop sends the A and/or AAAA queries, runs one poll() over the sockets of all channels and
// calls back when both are answered, the deadline passes or the caller's stop_token fires.
// resolve() waits for that callback; resolveAsync() returns at once (asynchronous() is true),
// so the DNS watcher keeps its lookups in flight without a thread each. (Before, each call ran
// its own poll loop on its own channel: at 1,000 names with a 5 s TTL, 200 lookups a second,
// that was a socket set up and torn down per lookup and several thread hand-overs;
// bench/README.md has the profiles.)
//
// Channels keep their sockets open between queries (ARES_FLAG_STAYOPEN), and the loop builds a
// new channel set after kChannelMaxLookups lookups or kChannelMaxAge, whichever comes first:
// the first gives queries a fresh random UDP source port regularly (c-ares 1.18 keeps one
// socket per server and channel and has no option for this), the second makes a changed
// /etc/resolv.conf apply within seconds without a restart. The old set lives on until its
// last query ends. The trade-off, deliberate: a source port serves up to 256 lookups or 10 s
// (before, a port per lookup), so an off-path spoofer has only the 16-bit query id to guess
// within that time. Answers must still match name, type and id, the VPC resolver is reached
// inside the VPC (whose network drops spoofed sources), and an address outside allowedCIDRs is
// never registered; a port per lookup cost more CPU than the lookup itself at this rate.
// Kept-open TCP connections (after a truncated answer) that the server closes while idle make
// c-ares 1.18 move that server's in-flight queries to the next server: nothing is lost.
// c-ares 1.18 cannot cancel one query of a shared channel, so a lookup that is cancelled or
// runs out of time completes at once (after the loop's batchPause at most) and its queries
// are left to end on their own (within c-ares' timeouts and tries), their answers ignored.
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
// a channel of the set that asks only the servers after it (built on first need). The
// message names each server's failure ("REFUSED from 10.0.0.2:53 (A); SERVFAIL from
// 10.0.0.3:53 (A)"); when no server answers with data or NXDOMAIN/NODATA, the status is the
// first failure's, which says more than a later timeout.
//
// Woken from its sleep, the loop pauses batchPause (2 ms) before it handles what woke it: the
// answers to queries sent together arrive within a few milliseconds of each other, and one
// poll() then finds them all (c-ares reads every datagram queued on a socket at once). At 1,000
// names and a 5 s TTL the loop used to wake once per answer, 190 times a second, and those
// wake-ups were most of its CPU (bench/README.md). The queries a pass of the loop writes, and
// the answers queued on a socket, cross the kernel together too (BatchedSockets: sendmmsg and
// recvmmsg instead of a system call per datagram).
//
// Both families are asked at once; the outcome combines them (Resolver::resolve) and keeps
// each one's own outcome in perFamily, so a timed-out AAAA query does not hide the A answer.
//
// Thread-safety: resolve() and resolveAsync() are safe to call concurrently from any threads
// (resolveAsync() also from a `done` callback; resolve() never from one: it would wait for the
// loop it blocks). create() and the destructor call ares_library_init / ares_library_cleanup,
// which are not thread-safe in c-ares 1.18: create and destroy resolvers from one thread
// (normally main). The destructor completes lookups still in flight as cancelled.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/net.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/dns/batched_sockets.h"
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
  // Bound on one resolve() call (overshot by batchPause at most); exceeding it gives kTimeout.
  std::chrono::milliseconds deadline{5000};
  // How long the loop waits, once woken, before handling what woke it, so that what comes
  // together (the answers to queries sent together, a refresh round's lookups) is handled in
  // one pass (see above). Each step of a lookup that wakes the loop (the answer; a TCP connect
  // and write after a truncated answer; a failover) waits it once. 0 turns it off; the loop
  // never pauses longer than a quarter of `timeout`.
  std::chrono::microseconds batchPause{2000};
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
  bool asynchronous() const override { return true; }
  void resolveAsync(std::string_view hostname, AddressFamilies families, std::stop_token stop,
                    Done done) override;

  const AresResolverOptions& options() const { return options_; }

  // Channel sets built so far (the first one at the first lookup): for tests of the rotation.
  uint64_t channelSetsBuilt() const;
  // Times the loop was woken from a sleep (by an answer, a submission, a cancellation): for
  // tests of batchPause.
  uint64_t wakeUps() const;
  // The loop's UDP traffic: datagrams and the system calls that moved them.
  BatchedSockets::Stats datagramStats() const;

 private:
  AresResolver(AresResolverOptions options, const core::Clock& clock);

  class Loop;  // the event-loop thread and everything it owns (ares_resolver.cc)

  AresResolverOptions options_;
  const core::Clock& clock_;
  std::unique_ptr<Loop> loop_;
};

inline constexpr int kChannelMaxLookups = 256;
inline constexpr std::chrono::seconds kChannelMaxAge{10};

}  // namespace endpointbinder::dns
