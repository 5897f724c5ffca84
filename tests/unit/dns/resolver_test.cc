// Pure helpers of the resolver layer: combining A and AAAA outcomes, status names, errors,
// parsing --dns-server values, and AresResolver's option validation.
#include "controller/dns/resolver.h"

#include <gtest/gtest.h>

#include "controller/dns/ares_resolver.h"
#include "controller/dns/resolve_error.h"
#include "tests/support/dns_fake_resolver.h"

namespace endpointbinder::dns {
namespace {

using testing::answerOf;
using testing::failureOf;

std::vector<std::string> texts(const Answer& answer) {
  std::vector<std::string> out;
  for (const auto& address : answer.addresses) out.push_back(address.toString());
  return out;
}

TEST(CombineOutcomesTest, BothAnsweringUnionsWithMinimumTtl) {
  auto combined = combineOutcomes(answerOf({"10.0.0.2", "10.0.0.1"}, 30, {"lb.test"}),
                                  answerOf({"fd00::1"}, 10));
  ASSERT_TRUE(combined.ok());
  EXPECT_EQ(texts(combined.answer), (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "fd00::1"}));
  EXPECT_EQ(combined.answer.ttl, std::chrono::seconds(10));
  EXPECT_EQ(combined.answer.cnameChain, (std::vector<std::string>{"lb.test"}));
}

TEST(CombineOutcomesTest, OneFamilyWithoutDataIsStillAnAnswer) {
  auto v4only = combineOutcomes(answerOf({"10.0.0.1"}, 30), failureOf(ResolveStatus::kNoData));
  ASSERT_TRUE(v4only.ok());
  EXPECT_EQ(texts(v4only.answer), (std::vector<std::string>{"10.0.0.1"}));
  auto v6only = combineOutcomes(failureOf(ResolveStatus::kNoData), answerOf({"fd00::1"}, 30));
  ASSERT_TRUE(v6only.ok());
  EXPECT_EQ(texts(v6only.answer), (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(
      combineOutcomes(failureOf(ResolveStatus::kNoData), failureOf(ResolveStatus::kNoData)).status,
      ResolveStatus::kNoData);
}

TEST(CombineOutcomesTest, AnyFailureWinsOverAPartialAnswer) {
  for (auto status : {ResolveStatus::kServFail, ResolveStatus::kRefused, ResolveStatus::kTimeout,
                      ResolveStatus::kError, ResolveStatus::kNxDomain}) {
    SCOPED_TRACE(resolveStatusName(status));
    EXPECT_EQ(combineOutcomes(answerOf({"10.0.0.1"}), failureOf(status)).status, status);
    EXPECT_EQ(combineOutcomes(failureOf(status), answerOf({"fd00::1"})).status, status);
    EXPECT_EQ(combineOutcomes(failureOf(ResolveStatus::kNoData), failureOf(status)).status, status);
  }
  // Both failing: the A failure is reported.
  EXPECT_EQ(combineOutcomes(failureOf(ResolveStatus::kServFail), failureOf(ResolveStatus::kTimeout))
                .status,
            ResolveStatus::kServFail);
}

// Issue 16 item 2: the combined outcome of an A and AAAA lookup hid a good A answer behind a
// failed AAAA one. Each family's own outcome travels with it.
TEST(CombineOutcomesTest, KeepsEachFamilysOwnOutcome) {
  auto combined = combineOutcomes(answerOf({"10.0.0.1"}, 30),
                                  failureOf(ResolveStatus::kTimeout, "deadline exceeded (AAAA)"));
  EXPECT_EQ(combined.status, ResolveStatus::kTimeout);
  ASSERT_EQ(combined.perFamily.size(), 2u);
  auto a = familyOutcome(combined, api::AddressFamily::kIPv4);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(texts(a.answer), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(a.answer.ttl, std::chrono::seconds(30));
  auto aaaa = familyOutcome(combined, api::AddressFamily::kIPv6);
  EXPECT_EQ(aaaa.status, ResolveStatus::kTimeout);
  EXPECT_EQ(aaaa.message, "deadline exceeded (AAAA)");
  EXPECT_TRUE(aaaa.perFamily.empty());
}

TEST(FamilyOutcomeTest, WithoutPartsASuccessIsSplitAndAFailureStandsForEveryFamily) {
  auto both = answerOf({"10.0.0.1", "fd00::1"}, 20, {"lb.test"});
  auto a = familyOutcome(both, api::AddressFamily::kIPv4);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(texts(a.answer), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(a.answer.ttl, std::chrono::seconds(20));
  EXPECT_EQ(a.answer.cnameChain, (std::vector<std::string>{"lb.test"}));
  auto none = familyOutcome(answerOf({"10.0.0.1"}), api::AddressFamily::kIPv6);
  EXPECT_EQ(none.status, ResolveStatus::kNoData);
  EXPECT_EQ(none.message, "no AAAA records");
  auto failed =
      familyOutcome(failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"), api::AddressFamily::kIPv6);
  EXPECT_EQ(failed.status, ResolveStatus::kServFail);
  EXPECT_EQ(failed.message, "SERVFAIL (A)");
}

TEST(ResolveStatusTest, NamesAreStableAndErrorsRetryable) {
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kOk), "ok");
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kNxDomain), "NXDOMAIN");
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kNoData), "NODATA");
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kServFail), "SERVFAIL");
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kRefused), "REFUSED");
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kTimeout), "timeout");
  EXPECT_STREQ(resolveStatusName(ResolveStatus::kError), "error");
  auto error = toError(failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"));
  EXPECT_EQ(error.kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(error.code, "SERVFAIL");
  EXPECT_EQ(error.message, "SERVFAIL (A)");
}

TEST(ParseServerAddressTest, AcceptsHostAndOptionalPort) {
  struct Case {
    const char* text;
    const char* address;
    int port;
    const char* canonical;
  };
  for (const Case& c : {Case{"10.0.0.2", "10.0.0.2", 53, "10.0.0.2:53"},
                        Case{"10.0.0.2:5353", "10.0.0.2", 5353, "10.0.0.2:5353"},
                        Case{"fd00::2", "fd00::2", 53, "[fd00::2]:53"},
                        Case{"[fd00::2]", "fd00::2", 53, "[fd00::2]:53"},
                        Case{"[FD00::2]:1053", "fd00::2", 1053, "[fd00::2]:1053"}}) {
    SCOPED_TRACE(c.text);
    auto parsed = parseServerAddress(c.text);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->address.toString(), c.address);
    EXPECT_EQ(parsed->port, c.port);
    EXPECT_EQ(parsed->toString(), c.canonical);
  }
}

TEST(ParseServerAddressTest, RejectsWithAReason) {
  for (const char* text :
       {"", "dns.example", "10.0.0.2:", "10.0.0.2:0", "10.0.0.2:65536", "10.0.0.2:53x", "[fd00::2",
        "[fd00::2]53", "[fd00::2]:", "10.0.0.256", "fe80::1%eth0"}) {
    SCOPED_TRACE(text);
    auto parsed = parseServerAddress(text);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::kTerminal);
    EXPECT_NE(parsed.error().message.find("DNS server"), std::string::npos);
  }
}

TEST(AresResolverTest, RejectsBadOptions) {
  core::RealClock clock;
  AresResolverOptions zeroTimeout;
  zeroTimeout.timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(AresResolver::create(zeroTimeout, clock).has_value());
  AresResolverOptions zeroTries;
  zeroTries.tries = 0;
  EXPECT_FALSE(AresResolver::create(zeroTries, clock).has_value());
  AresResolverOptions zeroDeadline;
  zeroDeadline.deadline = std::chrono::milliseconds(0);
  EXPECT_FALSE(AresResolver::create(zeroDeadline, clock).has_value());
  AresResolverOptions negativePause;
  negativePause.batchPause = std::chrono::microseconds(-1);
  EXPECT_FALSE(AresResolver::create(negativePause, clock).has_value());
  AresResolverOptions pauseLongerThanTheTimeout;  // allowed: the loop pauses timeout / 4
  pauseLongerThanTheTimeout.batchPause = std::chrono::seconds(10);
  EXPECT_TRUE(AresResolver::create(pauseLongerThanTheTimeout, clock).has_value());
  AresResolverOptions missingConf;
  missingConf.resolvConfPath = "/nonexistent/resolv.conf";
  auto created = AresResolver::create(missingConf, clock);
  ASSERT_FALSE(created.has_value());
  EXPECT_NE(created.error().message.find("/nonexistent/resolv.conf"), std::string::npos);
}

TEST(AresResolverTest, CreatesWithDefaultsAndRejectsBadNamesWithoutNetwork) {
  core::RealClock clock;
  AresResolverOptions options;
  options.servers = {*parseServerAddress("127.0.0.1:9")};
  auto resolver = AresResolver::create(options, clock);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto outcome = (*resolver)->resolve("", AddressFamilies{}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kError);
  outcome = (*resolver)->resolve(std::string(300, 'a'), AddressFamilies{}, {});
  EXPECT_EQ(outcome.status, ResolveStatus::kError);
}

}  // namespace
}  // namespace endpointbinder::dns
