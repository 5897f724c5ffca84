// AresResolver against the scriptable DNS server (tests/dns/dns_server.py) on loopback:
// every answer kind and failure mode, CNAME TTLs, rotation, truncation to TCP, timeouts
// bounded by the options, cancellation, resolv.conf and concurrent use; the event loop:
// sockets kept and rotated, many lookups multiplexed, one cancelled or failing over while
// others are in flight, destruction with lookups in flight.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "controller/dns/ares_resolver.h"
#include "tests/support/dns_fake_resolver.h"
#include "tests/support/dns_test_server.h"

namespace endpointbinder::dns {
namespace {

using namespace std::chrono_literals;
using testing::DnsTestServer;

std::vector<std::string> texts(const Answer& answer) {
  std::vector<std::string> out;
  for (const auto& address : answer.addresses) out.push_back(address.toString());
  return out;
}

// Distinct UDP source ports the server saw queries from since its log was cleared; -1 when
// the control API did not say.
int udpClientPorts(DnsTestServer& server) {
  const auto reply = server.request("GET", "/queries");
  std::smatch match;
  static const std::regex field(R"re("udpClientPorts":\s*(\d+))re");
  if (reply.status != 200 || !std::regex_search(reply.body, match, field)) return -1;
  return std::stoi(match[1].str());
}

// A UDP socket bound to 127.0.0.1 on a port the kernel picks, and that port (0 when binding
// failed; the socket is -1 when it could not be made).
struct LoopbackUdp {
  int socket = -1;
  int port = 0;
};
LoopbackUdp loopbackUdpSocket() {
  LoopbackUdp out;
  out.socket = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(out.socket, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(out.socket, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    out.port = ntohs(address.sin_port);
  }
  return out;
}

// Collects resolveAsync() outcomes by index and waits for them.
class Outcomes {
 public:
  explicit Outcomes(size_t count) : outcomes_(count), seen_(count, false) {}
  Resolver::Done slot(size_t i) {
    return [this, i](ResolveOutcome outcome) {
      std::lock_guard lock(mutex_);
      outcomes_[i] = std::move(outcome);
      seen_[i] = true;
      threads_.insert(std::this_thread::get_id());
      cv_.notify_all();
    };
  }
  bool waitAll(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] {
      return std::all_of(seen_.begin(), seen_.end(), [](bool s) { return s; });
    });
  }
  bool wait(size_t i, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return static_cast<bool>(seen_[i]); });
  }
  ResolveOutcome at(size_t i) {
    std::lock_guard lock(mutex_);
    return outcomes_.at(i);
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<ResolveOutcome> outcomes_;
  std::vector<bool> seen_;
  std::set<std::thread::id> threads_;
};

class AresResolverIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    server_ = DnsTestServer::start({"--seed", "1"}, &error).release();
    ASSERT_NE(server_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->reset());
  }

  std::unique_ptr<AresResolver> makeResolver(std::chrono::milliseconds timeout = 300ms,
                                             int tries = 2,
                                             std::chrono::milliseconds deadline = 5s) {
    AresResolverOptions options;
    options.servers = {server_->serverAddress()};
    options.timeout = timeout;
    options.tries = tries;
    options.deadline = deadline;
    auto resolver = AresResolver::create(options, clock_);
    EXPECT_TRUE(resolver.has_value()) << resolver.error().message;
    return resolver ? std::move(*resolver) : nullptr;
  }

  ResolveOutcome resolve(const std::string& name, AddressFamilies families = {true, false}) {
    return makeResolver()->resolve(name, families, {});
  }

  static DnsTestServer* server_;
  core::RealClock clock_;
};

DnsTestServer* AresResolverIntegrationTest::server_ = nullptr;

TEST_F(AresResolverIntegrationTest, AAnswer) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.2","10.0.0.1"],"ttl":42})"));
  auto outcome = resolve("db.test");
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(outcome.answer.ttl, 42s);
  EXPECT_TRUE(outcome.answer.cnameChain.empty());
  EXPECT_EQ(server_->nameCount("db.test"), 1);  // one query: no search list, no AAAA
  // Absolute spelling and case make no difference.
  auto absolute = resolve("DB.Test.");
  ASSERT_EQ(absolute.status, ResolveStatus::kOk) << absolute.message;
  EXPECT_EQ(absolute.answer, outcome.answer);
}

TEST_F(AresResolverIntegrationTest, AaaaAnswer) {
  ASSERT_TRUE(server_->putRecord("v6.test", R"({"aaaa":["fd00::1","fd00:0::2"],"ttl":20})"));
  auto outcome = resolve("v6.test", {false, true});
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"fd00::1", "fd00::2"}));
  EXPECT_EQ(outcome.answer.ttl, 20s);
}

TEST_F(AresResolverIntegrationTest, BothFamiliesUnionWithMinimumTtl) {
  ASSERT_TRUE(server_->putRecord("dual.test", R"({"a":["10.0.0.1"],"aaaa":["fd00::1"],"ttl":15})"));
  ASSERT_TRUE(server_->putRecord("v4only.test", R"({"a":["10.0.0.5"],"ttl":15})"));
  auto outcome = resolve("dual.test", {true, true});
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  auto partial = resolve("v4only.test", {true, true});
  ASSERT_EQ(partial.status, ResolveStatus::kOk) << partial.message;
  EXPECT_EQ(texts(partial.answer), (std::vector<std::string>{"10.0.0.5"}));
}

TEST_F(AresResolverIntegrationTest, CnameChainWithMinimumTtl) {
  ASSERT_TRUE(server_->putRecord("alias.test", R"({"cname":"middle.test","ttl":9})"));
  ASSERT_TRUE(server_->putRecord("middle.test", R"({"cname":"final.test","ttl":3})"));
  ASSERT_TRUE(
      server_->putRecord("final.test", R"({"a":["10.0.0.7"],"aaaa":["fd00::7"],"ttl":60})"));
  for (AddressFamilies families :
       {AddressFamilies{true, false}, AddressFamilies{false, true}, AddressFamilies{true, true}}) {
    auto outcome = resolve("alias.test", families);
    ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
    EXPECT_EQ(outcome.answer.ttl, 3s);
    EXPECT_EQ(outcome.answer.cnameChain, (std::vector<std::string>{"middle.test", "final.test"}));
  }
}

TEST_F(AresResolverIntegrationTest, RotatingNameAnswersASubsetEachTime) {
  std::string pool;
  std::set<std::string> all;
  for (int i = 1; i <= 12; ++i) {
    const std::string address = "10.2.0." + std::to_string(i);
    pool += (pool.empty() ? "\"" : ",\"") + address + "\"";
    all.insert(address);
  }
  ASSERT_TRUE(server_->putRecord("alb.test", R"({"a":[)" + pool + R"(],"rotate":8,"ttl":60})"));
  auto resolver = makeResolver();
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    auto outcome = resolver->resolve("alb.test", {true, false}, {});
    ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
    auto got = texts(outcome.answer);
    EXPECT_EQ(got.size(), 8u);
    for (const auto& address : got) {
      EXPECT_TRUE(all.contains(address)) << address;
      seen.insert(address);
    }
  }
  EXPECT_EQ(seen, all);  // seeded rotation: 10 answers of 8 cover all 12
}

TEST_F(AresResolverIntegrationTest, FailureKinds) {
  ASSERT_TRUE(server_->putRecord("servfail.test", R"({"a":["10.0.0.1"],"mode":"servfail"})"));
  ASSERT_TRUE(server_->putRecord("refused.test", R"({"a":["10.0.0.1"],"mode":"refused"})"));
  ASSERT_TRUE(server_->putRecord("nx.test", R"({"a":["10.0.0.1"],"mode":"nxdomain"})"));
  ASSERT_TRUE(server_->putRecord("empty.test", R"({"a":["10.0.0.1"],"mode":"empty"})"));
  ASSERT_TRUE(server_->putRecord("v4only.test", R"({"a":["10.0.0.1"]})"));
  struct Case {
    const char* name;
    AddressFamilies families;
    ResolveStatus expected;
  };
  for (const Case& c : {Case{"unknown.test", {true, false}, ResolveStatus::kNxDomain},
                        Case{"nx.test", {true, false}, ResolveStatus::kNxDomain},
                        Case{"servfail.test", {true, false}, ResolveStatus::kServFail},
                        Case{"refused.test", {true, false}, ResolveStatus::kRefused},
                        Case{"empty.test", {true, false}, ResolveStatus::kNoData},
                        Case{"v4only.test", {false, true}, ResolveStatus::kNoData},
                        Case{"servfail.test", {true, true}, ResolveStatus::kServFail},
                        Case{"unknown.test", {true, true}, ResolveStatus::kNxDomain}}) {
    SCOPED_TRACE(c.name);
    auto outcome = resolve(c.name, c.families);
    EXPECT_EQ(outcome.status, c.expected) << outcome.message;
    EXPECT_FALSE(outcome.message.empty());
    EXPECT_TRUE(outcome.answer.addresses.empty());
  }
}

TEST_F(AresResolverIntegrationTest, TimeoutIsBoundedByTheConfiguredTimeouts) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  // c-ares: 200 ms, then 400 ms on the second round.
  auto resolver = makeResolver(200ms, 2, 5s);
  const auto started = std::chrono::steady_clock::now();
  auto outcome = resolver->resolve("slow.test", {true, false}, {});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcome.status, ResolveStatus::kTimeout) << outcome.message;
  EXPECT_GE(took, 550ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(server_->nameCount("slow.test"), 2);  // one query per try
}

TEST_F(AresResolverIntegrationTest, DeadlineCutsLongRetrySequencesShort) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  // Five tries would take 0.2+0.4+0.8+1.6+3.2 s; the deadline stops it at 1 s.
  auto resolver = makeResolver(200ms, 5, 1s);
  const auto started = std::chrono::steady_clock::now();
  auto outcome = resolver->resolve("slow.test", {true, true}, {});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcome.status, ResolveStatus::kTimeout);
  EXPECT_NE(outcome.message.find("deadline"), std::string::npos) << outcome.message;
  EXPECT_GE(took, 950ms);
  EXPECT_LT(took, 1500ms);
}

TEST_F(AresResolverIntegrationTest, StopTokenCancelsPromptly) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  auto resolver = makeResolver(2s, 3, 30s);
  std::stop_source stop;
  ResolveOutcome outcome;
  const auto started = std::chrono::steady_clock::now();
  std::thread caller([&] {
    outcome = resolver->resolve("slow.test", {true, false}, stop.get_token());
  });
  // Cancel once the query has reached the server, so the lookup is really in flight.
  for (int i = 0; i < 500 && server_->nameCount("slow.test") < 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  stop.request_stop();
  caller.join();
  EXPECT_EQ(outcome.status, ResolveStatus::kTimeout);
  EXPECT_NE(outcome.message.find("cancelled"), std::string::npos) << outcome.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(AresResolverIntegrationTest, TruncatedUdpAnswerIsRetriedOverTcp) {
  ASSERT_TRUE(
      server_->putRecord("trunc.test", R"({"a":["10.0.0.1","10.0.0.2"],"mode":"truncate"})"));
  ASSERT_TRUE(server_->clearQueries());
  auto outcome = resolve("trunc.test");
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(server_->transportCount("udp"), 1);
  EXPECT_EQ(server_->transportCount("tcp"), 1);
}

TEST_F(AresResolverIntegrationTest, AnswerLargerThan512BytesComesOverTcp) {
  std::string pool;
  for (int i = 1; i <= 60; ++i)
    pool += (i == 1 ? "\"" : ",\"") + ("10.3.0." + std::to_string(i)) + "\"";
  ASSERT_TRUE(server_->putRecord("big.test", R"({"a":[)" + pool + "]}"));
  auto outcome = resolve("big.test");
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(outcome.answer.addresses.size(), 60u);
  EXPECT_GE(server_->transportCount("tcp"), 1);
}

TEST_F(AresResolverIntegrationTest, ServersComeFromResolvConfByDefault) {
  ASSERT_TRUE(server_->putRecord("conf.test", R"({"a":["10.0.0.8"]})"));
  char path[] = "/tmp/eb-resolv-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream conf(path);
    conf << "# test\nnameserver 127.0.0.1\n";
  }
  AresResolverOptions options;
  options.resolvConfPath = path;
  options.resolvConfPort = server_->port();
  options.timeout = 300ms;
  auto resolver = AresResolver::create(options, clock_);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto outcome = (*resolver)->resolve("conf.test", {true, false}, {});
  std::remove(path);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.8"}));
}

TEST_F(AresResolverIntegrationTest, NoServerListeningIsAFailureNotAHang) {
  // A port that was just free: nothing answers there.
  const auto probe = loopbackUdpSocket();
  ASSERT_NE(probe.port, 0);
  const int port = probe.port;
  ::close(probe.socket);

  AresResolverOptions options;
  options.servers = {ServerAddress{*api::IpAddress::parse("127.0.0.1"), port}};
  options.timeout = 200ms;
  options.deadline = 2s;
  auto resolver = AresResolver::create(options, clock_);
  ASSERT_TRUE(resolver.has_value());
  auto outcome = (*resolver)->resolve("db.test", {true, false}, {});
  EXPECT_FALSE(outcome.ok());
  EXPECT_TRUE(outcome.status == ResolveStatus::kError || outcome.status == ResolveStatus::kTimeout)
      << resolveStatusName(outcome.status) << ": " << outcome.message;
}

TEST_F(AresResolverIntegrationTest, ASilentServerFailsOverToTheNext) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"]})"));
  // A UDP socket that reads nothing: queries to it time out.
  const auto silent = loopbackUdpSocket();
  ASSERT_NE(silent.port, 0);

  AresResolverOptions options;
  options.servers = {ServerAddress{*api::IpAddress::parse("127.0.0.1"), silent.port},
                     server_->serverAddress()};
  options.timeout = 200ms;
  options.tries = 1;
  auto resolver = AresResolver::create(options, clock_);
  ASSERT_TRUE(resolver.has_value());
  auto outcome = (*resolver)->resolve("db.test", {true, false}, {});
  ::close(silent.socket);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1"}));
}

// Issue 16 item 1: with ARES_FLAG_NOCHECKRESP a first server answering SERVFAIL or REFUSED
// ended the lookup and the second server was never asked. It is asked now, as glibc and
// c-ares' default do, and the failure is kept in the message only if every server fails.
class AresFailoverTest : public AresResolverIntegrationTest {
 protected:
  void SetUp() override {
    AresResolverIntegrationTest::SetUp();
    std::string error;
    second_ = DnsTestServer::start({"--seed", "2"}, &error);
    ASSERT_NE(second_, nullptr) << error;
  }

  std::unique_ptr<AresResolver> bothServers() {
    AresResolverOptions options;
    options.servers = {server_->serverAddress(), second_->serverAddress()};
    options.timeout = 200ms;
    options.tries = 2;
    options.deadline = 2s;
    auto resolver = AresResolver::create(options, clock_);
    EXPECT_TRUE(resolver.has_value()) << resolver.error().message;
    return resolver ? std::move(*resolver) : nullptr;
  }

  std::unique_ptr<DnsTestServer> second_;
};

TEST_F(AresFailoverTest, AServerThatRefusesOrFailsIsPassedOver) {
  for (const std::string mode : {"refused", "servfail"}) {
    SCOPED_TRACE(mode);
    ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"mode":")" + mode + "\"}"));
    ASSERT_TRUE(second_->putRecord("db.test", R"({"a":["10.0.0.2"],"aaaa":["fd00::2"]})"));
    auto outcome = bothServers()->resolve("db.test", {true, true}, {});
    ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
    EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.2", "fd00::2"}));
    EXPECT_EQ(second_->nameCount("db.test"), 2);  // A and AAAA
    ASSERT_TRUE(second_->clearQueries());
  }
}

TEST_F(AresFailoverTest, WhenEveryServerFailsTheFirstReasonIsKeptAndEachServerNamed) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"mode":"refused"})"));
  ASSERT_TRUE(second_->putRecord("db.test", R"({"a":["10.0.0.2"],"mode":"servfail"})"));
  auto outcome = bothServers()->resolve("db.test", {true, false}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kRefused) << outcome.message;
  EXPECT_EQ(outcome.message, "REFUSED from " + server_->serverAddress().toString() +
                                 " (A); SERVFAIL from " + second_->serverAddress().toString() +
                                 " (A)");

  // A server that does not answer after one that failed: the answered failure says more.
  ASSERT_TRUE(second_->putRecord("db.test", R"({"a":["10.0.0.2"],"mode":"timeout"})"));
  outcome = bothServers()->resolve("db.test", {true, false}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kRefused) << outcome.message;
  EXPECT_NE(outcome.message.find("REFUSED from " + server_->serverAddress().toString()),
            std::string::npos)
      << outcome.message;
  EXPECT_NE(outcome.message.find("(A); "), std::string::npos) << outcome.message;

  // NXDOMAIN from the second server is an answer: it stands.
  ASSERT_TRUE(second_->deleteRecord("db.test"));
  outcome = bothServers()->resolve("db.test", {true, false}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kNxDomain) << outcome.message;
}

TEST_F(AresFailoverTest, AServerListedTwiceIsAskedOncePerPlace) {
  // Old: the answering server was looked up from the first place it is listed, so after the
  // second place refused, the lookup failed over to that same second place again and again
  // until the deadline, flooding the server and growing the message without end.
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"mode":"refused"})"));
  AresResolverOptions options;
  options.servers = {server_->serverAddress(), server_->serverAddress()};
  options.timeout = 200ms;
  options.tries = 2;
  options.deadline = 2s;
  auto resolver = AresResolver::create(options, clock_);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto outcome = (*resolver)->resolve("db.test", {true, false}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kRefused) << outcome.message;
  EXPECT_EQ(server_->nameCount("db.test"), 2) << "one query per place in the list";
  EXPECT_EQ(outcome.message, "REFUSED from " + server_->serverAddress().toString() +
                                 " (A); REFUSED from " + server_->serverAddress().toString() +
                                 " (A)");
}

// Issue 16 item 2: a lookup of both families reports each one's own outcome, so an AAAA query
// that times out does not hide the A answer.
TEST_F(AresResolverIntegrationTest, EachFamilysOutcomeIsKept) {
  ASSERT_TRUE(server_->putRecord(
      "dual.test", R"({"a":["10.0.0.1"],"aaaa":["fd00::1"],"modeByType":{"AAAA":"timeout"}})"));
  auto outcome = makeResolver(100ms, 1, 1s)->resolve("dual.test", {true, true}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kTimeout);
  ASSERT_EQ(outcome.perFamily.size(), 2u);
  auto a = familyOutcome(outcome, api::AddressFamily::kIPv4);
  ASSERT_TRUE(a.ok()) << a.message;
  EXPECT_EQ(texts(a.answer), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(familyOutcome(outcome, api::AddressFamily::kIPv6).status, ResolveStatus::kTimeout);
}

TEST_F(AresResolverIntegrationTest, ConcurrentCallsFromManyThreads) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"aaaa":["fd00::1"]})"));
  auto resolver = makeResolver();
  std::atomic<int> ok = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (resolver->resolve("db.test", {true, true}, {}).ok()) ok++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 80);
}

// The event loop keeps its sockets between lookups (the old per-call channels let c-ares close
// the socket after every answer: one socket, hence one source port, per lookup) and moves to a
// fresh channel set, with fresh source ports, after kChannelMaxLookups lookups.
TEST_F(AresResolverIntegrationTest, SocketsAreKeptUntilTheChannelSetRotates) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"]})"));
  auto resolver = makeResolver();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(resolver->resolve("db.test", {true, false}, {}).ok());
  EXPECT_EQ(udpClientPorts(*server_), 1);
  EXPECT_EQ(resolver->channelSetsBuilt(), 1u);
  for (int i = 20; i < kChannelMaxLookups + 1; ++i) {
    ASSERT_TRUE(resolver->resolve("db.test", {true, false}, {}).ok());
  }
  EXPECT_EQ(resolver->channelSetsBuilt(), 2u);
  EXPECT_EQ(udpClientPorts(*server_), 2);
}

// Many lookups in flight at once from one thread, as the DNS watcher makes them: every one
// gets its own name's answer, on the resolver's thread, over one socket.
TEST_F(AresResolverIntegrationTest, ManyLookupsInFlightAreMultiplexedOnOneChannel) {
  constexpr int kNames = 50;
  for (int i = 0; i < kNames; ++i) {
    ASSERT_TRUE(server_->putRecord("n" + std::to_string(i) + ".test",
                                   R"({"a":["10.9.0.)" + std::to_string(i) +
                                       R"("],"aaaa":["fd00::)" + std::to_string(i + 1) + R"("]})"));
  }
  auto resolver = makeResolver();
  constexpr size_t kLookups = 200;
  Outcomes outcomes(kLookups);
  for (size_t i = 0; i < kLookups; ++i) {
    const AddressFamilies families{true, i % 2 == 1};
    resolver->resolveAsync("n" + std::to_string(i % kNames) + ".test", families, {},
                           outcomes.slot(i));
  }
  ASSERT_TRUE(outcomes.waitAll(10s));
  for (size_t i = 0; i < kLookups; ++i) {
    SCOPED_TRACE(i);
    const auto outcome = outcomes.at(i);
    ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
    std::vector<std::string> expected{"10.9.0." + std::to_string(i % kNames)};
    if (i % 2 == 1) expected.push_back("fd00::" + std::to_string(i % kNames + 1));
    EXPECT_EQ(texts(outcome.answer), expected);
  }
  EXPECT_EQ(server_->queryCount(), static_cast<int>(kLookups + kLookups / 2));
  EXPECT_EQ(udpClientPorts(*server_), 1);
  EXPECT_EQ(outcomes.threads().size(), 1u);
  EXPECT_FALSE(outcomes.threads().contains(std::this_thread::get_id()));
}

// A DNS server on a loopback UDP socket that collects `count` queries, then answers them one
// by one `spacing` apart (each with one A record, 10.0.0.1, TTL 5): answers that trickle in,
// as a resolver's do when many queries were sent together.
class TricklingServer {
 public:
  TricklingServer(size_t count, std::chrono::microseconds spacing) {
    const auto bound = loopbackUdpSocket();
    socket_ = bound.socket;
    if (bound.port == 0) return;
    port_ = bound.port;
    timeval wait{10, 0};  // a lost query must not hang the test
    ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    thread_ = std::thread([this, count, spacing] { serve(count, spacing); });
  }
  ~TricklingServer() {
    if (thread_.joinable()) thread_.join();
    ::close(socket_);
  }
  int port() const { return port_; }

 private:
  struct Query {
    std::vector<uint8_t> bytes;
    sockaddr_storage from{};
    socklen_t fromLength = sizeof(sockaddr_storage);
  };
  void serve(size_t count, std::chrono::microseconds spacing) {
    std::vector<Query> queries;
    while (queries.size() < count) {
      Query query;
      query.bytes.resize(512);
      const ssize_t got = ::recvfrom(socket_, query.bytes.data(), query.bytes.size(), 0,
                                     reinterpret_cast<sockaddr*>(&query.from), &query.fromLength);
      if (got <= 0) return;
      query.bytes.resize(static_cast<size_t>(got));
      queries.push_back(std::move(query));
    }
    for (auto& query : queries) {
      const std::vector<uint8_t> answer = answerTo(query.bytes);
      ::sendto(socket_, answer.data(), answer.size(), 0,
               reinterpret_cast<const sockaddr*>(&query.from), query.fromLength);
      std::this_thread::sleep_for(spacing);
    }
  }
  // The query's header and question, flagged as a response with one A record after them.
  static std::vector<uint8_t> answerTo(const std::vector<uint8_t>& query) {
    size_t end = 12;
    while (end < query.size() && query[end] != 0) end += query[end] + 1;
    end += 5;  // the root label, QTYPE, QCLASS
    std::vector<uint8_t> answer(query.begin(), query.begin() + static_cast<long>(end));
    answer[2] = 0x81;                // QR, RD
    answer[3] = 0x80;                // RA, NOERROR
    answer[6] = 0, answer[7] = 1;    // ANCOUNT 1
    answer[8] = 0, answer[9] = 0;    // NSCOUNT 0
    answer[10] = 0, answer[11] = 0;  // ARCOUNT 0 (an EDNS record of the query is dropped)
    const uint8_t record[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1};
    answer.insert(answer.end(), std::begin(record), std::end(record));
    return answer;
  }

  int socket_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// `count` lookups (n0.test, n1.test, ...) started together against a TricklingServer that
// answers them `spacing` apart, with a long batch pause (80 ms) so that a loaded machine cannot
// spread the submissions or the answers over more wake-ups; each must answer 10.0.0.1.
// Returns the resolver, for its counters.
std::unique_ptr<AresResolver> resolveTogether(const core::Clock& clock, size_t count,
                                              std::chrono::milliseconds spacing) {
  TricklingServer server(count, spacing);
  EXPECT_NE(server.port(), 0);
  AresResolverOptions options;
  options.servers = {ServerAddress{*api::IpAddress::parse("127.0.0.1"), server.port()}};
  options.timeout = 2s;
  options.tries = 1;
  options.batchPause = 80ms;
  auto resolver = AresResolver::create(options, clock);
  EXPECT_TRUE(resolver.has_value()) << resolver.error().message;
  if (!resolver) return nullptr;
  Outcomes outcomes(count);
  for (size_t i = 0; i < count; ++i) {
    (*resolver)->resolveAsync("n" + std::to_string(i) + ".test", {true, false}, {},
                              outcomes.slot(i));
  }
  EXPECT_TRUE(outcomes.waitAll(10s));
  for (size_t i = 0; i < count; ++i) {
    const auto outcome = outcomes.at(i);
    EXPECT_EQ(outcome.status, ResolveStatus::kOk) << i << ": " << outcome.message;
    EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1"})) << i;
  }
  return std::move(*resolver);
}

// Answers arriving a millisecond apart are handled a batch at a time: the loop, woken by the
// first, pauses (batchPause) and then finds the others with it, instead of waking once per
// answer (at 1,000 names and a 5 s TTL those wake-ups were most of the loop's CPU).
TEST_F(AresResolverIntegrationTest, AnswersThatTrickleInAreHandledAFewAtATime) {
  constexpr size_t kLookups = 16;
  const auto resolver = resolveTogether(clock_, kLookups, 1ms);
  ASSERT_NE(resolver, nullptr);
  // One wake-up for the submissions, and the 16 answers (15 ms from first to last) in one or
  // two more; without the pause, one each (17).
  EXPECT_LE(resolver->wakeUps(), kLookups / 2);
}

// The queries of lookups submitted together leave in one system call, and the answers that
// arrive together are read a batch per call (BatchedSockets), instead of a sendto() and a
// recvfrom() per datagram.
TEST_F(AresResolverIntegrationTest, QueriesAndAnswersCrossTheKernelInBatches) {
  constexpr size_t kLookups = 16;
  const auto resolver = resolveTogether(clock_, kLookups, 0ms);  // answers back to back
  ASSERT_NE(resolver, nullptr);
  const auto stats = resolver->datagramStats();
  EXPECT_EQ(stats.datagramsSent, kLookups);
  EXPECT_EQ(stats.sendsDropped, 0u);
  // One per socket and pass: one when the 16 submissions come in one pass, a few if a busy
  // machine splits them. A send() per query would be 16.
  EXPECT_LE(stats.sendCalls, 4u);
  EXPECT_EQ(stats.datagramsReceived, kLookups);
  // Two full batches of 8 and the call that finds the socket drained; more if the answers
  // straddle wake-ups. A recvfrom() per answer would be 17 or more.
  EXPECT_LE(stats.receiveCalls, 8u);
}

// A server port that nobody listens on is passed over as soon as the kernel says so (ICMP
// port unreachable, reported by the socket's next read), not after the query's timeout.
TEST_F(AresResolverIntegrationTest, APortNobodyListensOnIsPassedOverWithoutWaiting) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"]})"));
  const auto probe = loopbackUdpSocket();
  ASSERT_NE(probe.port, 0);
  ::close(probe.socket);  // a port that was just free
  AresResolverOptions options;
  options.servers = {ServerAddress{*api::IpAddress::parse("127.0.0.1"), probe.port},
                     server_->serverAddress()};
  options.timeout = 10s;  // far longer than the test is given
  options.tries = 1;
  options.deadline = 20s;
  auto resolver = AresResolver::create(options, clock_);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = (*resolver)->resolve("db.test", {true, false}, {});
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_LT(took, 5s) << "waited for the timeout instead of the port-unreachable";
}

// A callback, on the loop's thread, may start the next lookup (the DNS watcher does, for a
// refresh's further lookups): every link of the chain ends.
TEST_F(AresResolverIntegrationTest, ALookupStartedFromACallbackRuns) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"]})"));
  auto resolver = makeResolver();
  constexpr size_t kChain = 20;
  Outcomes outcomes(kChain);
  std::function<void(size_t)> next = [&](size_t i) {
    resolver->resolveAsync("db.test", {true, false}, {}, [&, i](ResolveOutcome outcome) {
      outcomes.slot(i)(std::move(outcome));
      if (i + 1 < kChain) next(i + 1);
    });
  };
  next(0);
  ASSERT_TRUE(outcomes.waitAll(5s));
  for (size_t i = 0; i < kChain; ++i) EXPECT_TRUE(outcomes.at(i).ok()) << outcomes.at(i).message;
  EXPECT_EQ(server_->nameCount("db.test"), static_cast<int>(kChain));
}

// c-ares 1.18 cancels only a whole channel: cancelling one lookup must not end the others
// sharing it, and they are not held up by the dead one.
TEST_F(AresResolverIntegrationTest, CancellingOneLookupLeavesTheOthersInFlight) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.2"]})"));
  Outcomes outcomes(3);  // outlives the resolver, which calls back the last lookup at its end
  auto resolver = makeResolver(2s, 2, 10s);
  std::stop_source stopSlow;
  resolver->resolveAsync("slow.test", {true, false}, stopSlow.get_token(), outcomes.slot(0));
  resolver->resolveAsync("slow.test", {true, false}, {}, outcomes.slot(1));
  for (int i = 0; i < 500 && server_->nameCount("slow.test") < 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  stopSlow.request_stop();
  ASSERT_TRUE(outcomes.wait(0, 1s));
  EXPECT_EQ(outcomes.at(0).status, ResolveStatus::kTimeout);
  EXPECT_EQ(outcomes.at(0).message, "cancelled (A)");
  // The same channel answers other names meanwhile; the other slow lookup is still waiting.
  resolver->resolveAsync("db.test", {true, false}, {}, outcomes.slot(2));
  ASSERT_TRUE(outcomes.wait(2, 1s));
  EXPECT_TRUE(outcomes.at(2).ok()) << outcomes.at(2).message;
  EXPECT_FALSE(outcomes.wait(1, 50ms));
  // A token stopped before the call: cancelled at once, nothing sent.
  std::stop_source stopped;
  stopped.request_stop();
  const int before = server_->nameCount("db.test");
  auto cancelled = resolver->resolve("db.test", {true, false}, stopped.get_token());
  EXPECT_EQ(cancelled.status, ResolveStatus::kTimeout);
  EXPECT_EQ(server_->nameCount("db.test"), before);
}

// Destroying the resolver completes what is in flight as cancelled instead of leaving callers
// waiting for ever.
TEST_F(AresResolverIntegrationTest, DestroyingTheResolverCancelsLookupsInFlight) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  auto resolver = makeResolver(2s, 3, 30s);
  Outcomes outcomes(1);
  resolver->resolveAsync("slow.test", {true, true}, {}, outcomes.slot(0));
  for (int i = 0; i < 500 && server_->nameCount("slow.test") < 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const auto started = std::chrono::steady_clock::now();
  resolver.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  ASSERT_TRUE(outcomes.wait(0, 1s));
  EXPECT_EQ(outcomes.at(0).status, ResolveStatus::kTimeout);
  EXPECT_NE(outcomes.at(0).message.find("cancelled"), std::string::npos) << outcomes.at(0).message;
}

// A cancelled lookup's callback may chain another (the header allows it): while the resolver is
// being destroyed, that one ends at once as cancelled, exactly once. (Found in review: it
// called into a resolver whose loop was already gone — a crash — and, had the loop still been
// there, the chained lookup's callback would never have run.)
TEST_F(AresResolverIntegrationTest, ALookupChainedFromACancellationDuringDestructionEndsOnce) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  auto resolver = makeResolver(2s, 2, 10s);
  Outcomes outcomes(2);
  std::atomic<int> chained{0};
  AresResolver* raw = resolver.get();
  raw->resolveAsync("slow.test", {true, false}, {}, [&, raw](ResolveOutcome outcome) {
    outcomes.slot(0)(std::move(outcome));
    ++chained;
    raw->resolveAsync("slow.test", {true, false}, {}, outcomes.slot(1));
  });
  for (int i = 0; i < 500 && server_->nameCount("slow.test") < 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  resolver.reset();
  ASSERT_TRUE(outcomes.waitAll(2s));
  EXPECT_EQ(chained.load(), 1);
  EXPECT_EQ(outcomes.at(1).status, ResolveStatus::kTimeout);
  EXPECT_NE(outcomes.at(1).message.find("cancelled"), std::string::npos) << outcomes.at(1).message;
}

// A lookup past its deadline ends alone; lookups started later on the same channel answer.
TEST_F(AresResolverIntegrationTest, ALookupPastItsDeadlineEndsAlone) {
  ASSERT_TRUE(server_->putRecord("slow.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.2"]})"));
  auto resolver = makeResolver(2s, 2, 700ms);
  Outcomes outcomes(1);
  resolver->resolveAsync("slow.test", {true, false}, {}, outcomes.slot(0));
  for (int i = 0; i < 5; ++i) {
    auto outcome = resolver->resolve("db.test", {true, false}, {});
    EXPECT_TRUE(outcome.ok()) << outcome.message;
  }
  ASSERT_TRUE(outcomes.wait(0, 2s));
  EXPECT_EQ(outcomes.at(0).message, "deadline exceeded (A)");
  // The abandoned query still occupies the channel until c-ares gives up on it; new lookups
  // do not wait for that.
  auto outcome = resolver->resolve("db.test", {true, false}, {});
  EXPECT_TRUE(outcome.ok()) << outcome.message;
}

// Lookups in flight together on one channel: those the first server refuses fail over to the
// second on their own, the others stay answered by the first.
TEST_F(AresFailoverTest, AServerFailingSomeLookupsWhileOthersAreInFlight) {
  ASSERT_TRUE(server_->putRecord("bad.test", R"({"a":["10.0.0.1"],"mode":"refused"})"));
  ASSERT_TRUE(server_->putRecord("good.test", R"({"a":["10.0.0.1"]})"));
  ASSERT_TRUE(second_->putRecord("bad.test", R"({"a":["10.0.0.2"]})"));
  ASSERT_TRUE(second_->putRecord("good.test", R"({"a":["10.0.0.2"]})"));
  auto resolver = bothServers();
  constexpr size_t kLookups = 40;
  Outcomes outcomes(kLookups);
  for (size_t i = 0; i < kLookups; ++i) {
    resolver->resolveAsync(i % 2 == 0 ? "good.test" : "bad.test", {true, false}, {},
                           outcomes.slot(i));
  }
  ASSERT_TRUE(outcomes.waitAll(5s));
  for (size_t i = 0; i < kLookups; ++i) {
    SCOPED_TRACE(i);
    const auto outcome = outcomes.at(i);
    ASSERT_TRUE(outcome.ok()) << outcome.message;
    EXPECT_EQ(texts(outcome.answer),
              (std::vector<std::string>{i % 2 == 0 ? "10.0.0.1" : "10.0.0.2"}));
  }
  EXPECT_EQ(second_->nameCount("bad.test"), static_cast<int>(kLookups / 2));
  EXPECT_EQ(second_->nameCount("good.test"), 0);
}

}  // namespace
}  // namespace endpointbinder::dns
