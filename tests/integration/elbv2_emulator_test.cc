// Elbv2Client against the local AWS emulator over real HTTP: CpprestTransport, SigV4 (the
// emulator verifies every signature with botocore), standard-mode retries, client-side token
// buckets. Each test starts its own emulator on an ephemeral loopback port and stops it at the
// end. Fault-injection tests check the emulator's request log to show that retries converge
// and never duplicate a write's effect.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/aws/cpprest_transport.h"
#include "controller/aws/elbv2_client.h"
#include "tests/support/emulator_process.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using testing::EmulatorOptions;
using testing::EmulatorProcess;
using testing::FakeCredentialsProvider;
using web::json::value;

constexpr double kJitter = 0.5;  // fixed draw: backoff = 0.5 * min(2^(n-1) * base, cap)

Credentials emulatorCredentials(std::string secret = "test") {
  Credentials credentials;
  credentials.accessKeyId = "test";
  credentials.secretAccessKey = std::move(secret);
  credentials.providerName = "static";
  return credentials;
}

// Fast but real backoff so storms finish in seconds.
RetryOptions fastRetry(int maxAttempts = 10) {
  RetryOptions retry;
  retry.maxAttempts = maxAttempts;
  retry.baseDelay = milliseconds(20);
  retry.maxBackoff = milliseconds(200);
  return retry;
}

nanoseconds expectedBackoff(const RetryOptions& retry, int retries) {
  nanoseconds total{0};
  for (int n = 1; n <= retries; ++n) {
    const nanoseconds ceiling =
        std::min<nanoseconds>(retry.baseDelay * (1LL << std::min(n - 1, 30)), retry.maxBackoff);
    total += std::chrono::duration_cast<nanoseconds>(ceiling * kJitter);
  }
  return total;
}

value tgSpec(const std::string& name, std::map<std::string, std::string> tags = {}) {
  value spec = value::object();
  spec["name"] = value::string(name);
  spec["protocol"] = value::string("HTTPS");
  spec["port"] = value::number(443);
  spec["targetType"] = value::string("ip");
  spec["deregistrationDelay"] = value::number(30);
  value tagObject = value::object();
  for (const auto& [key, v] : tags) tagObject[key] = value::string(v);
  spec["tags"] = tagObject;
  return spec;
}

// IPs inside the emulator's default VPC (10.0.0.0/16).
std::vector<core::Target> vpcTargets(int n, int firstOctet3 = 1) {
  std::vector<core::Target> targets;
  for (int i = 0; i < n; ++i) {
    targets.push_back({fmt::format("10.0.{}.{}", firstOctet3 + i / 200, 1 + i % 200), 443, {}});
  }
  return targets;
}

struct RequestLogEntry {
  std::string action;
  int status = 0;
  bool throttled = false;
  std::string fault;
  std::string errorCode;
  std::map<std::string, std::string> params;
};

class Elbv2EmulatorTest : public ::testing::Test {
 protected:
  void startEmulator(std::vector<std::string> args = {}) {
    EmulatorOptions options;
    options.args = std::move(args);
    auto emulator = EmulatorProcess::start(std::move(options));
    ASSERT_TRUE(emulator.has_value()) << emulator.error().toString();
    emulator_ = std::move(*emulator);
    auto transport = CpprestTransport::create(CpprestTransportOptions{});
    ASSERT_TRUE(transport.has_value()) << transport.error().toString();
    transport_ = std::move(*transport);
  }

  std::unique_ptr<Elbv2Client> makeClient(RetryOptions retry = fastRetry(),
                                          std::string secret = "test",
                                          RateLimiter* limiter = nullptr,
                                          Elbv2ClientOptions options = {}) {
    credentials_.set(emulatorCredentials(std::move(secret)));
    QueryClientHooks hooks;
    hooks.rateLimiter = limiter;
    hooks.observer = &observer_;
    hooks.random = [] { return kJitter; };
    return std::make_unique<Elbv2Client>(elbv2ServiceOptions("us-east-1", emulator_->url(), retry),
                                         *transport_, credentials_, clock_, std::move(hooks),
                                         options);
  }

  std::string createTargetGroup(const std::string& name,
                                std::map<std::string, std::string> tags = {}) {
    auto arn = emulator_->createTargetGroup(tgSpec(name, std::move(tags)));
    EXPECT_TRUE(arn.has_value()) << arn.error().toString();
    return arn.value_or("");
  }

  std::vector<RequestLogEntry> requestLog(const std::string& action) {
    std::vector<RequestLogEntry> entries;
    auto log = emulator_->requests();
    EXPECT_TRUE(log.has_value()) << log.error().toString();
    if (!log) return entries;
    for (const value& item : log->at("requests").as_array()) {
      if (!item.has_string_field("action") || item.at("action").as_string() != action) continue;
      RequestLogEntry entry;
      entry.action = item.at("action").as_string();
      entry.status = item.at("status").as_integer();
      entry.throttled = item.has_boolean_field("throttled") && item.at("throttled").as_bool();
      if (item.has_string_field("fault")) entry.fault = item.at("fault").as_string();
      if (item.has_string_field("errorCode")) entry.errorCode = item.at("errorCode").as_string();
      if (item.has_object_field("params")) {
        for (const auto& [key, v] : item.at("params").as_object()) {
          if (v.is_string()) entry.params[key] = v.as_string();
        }
      }
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  // Target ids (with multiplicity) of the target group in the emulator's state.
  std::multiset<std::string> stateTargetIds(const std::string& arn) {
    std::multiset<std::string> ids;
    auto state = emulator_->state();
    EXPECT_TRUE(state.has_value()) << state.error().toString();
    if (!state) return ids;
    for (const value& group : state->at("targetGroups").as_array()) {
      if (group.at("arn").as_string() != arn) continue;
      for (const value& target : group.at("targets").as_array()) {
        ids.insert(target.at("id").as_string());
      }
    }
    return ids;
  }

  // Registers `targets` one call each, as a reconciler adding endpoints one by one would.
  void registerOneByOne(Elbv2Client& client, const std::string& arn,
                        const std::vector<core::Target>& targets) {
    for (const core::Target& target : targets) {
      auto result = client.registerTargets(arn, {target});
      ASSERT_TRUE(result.has_value()) << target.id << ": " << result.error().toString();
    }
  }

  // Every successful RegisterTargets call's latency covers the backoff its retries required.
  void expectBackoffWasApplied(const RetryOptions& retry) {
    int retried = 0;
    for (const CallRecord& call : observer_.callLog()) {
      if (call.operation != "RegisterTargets" || call.retries() == 0) continue;
      ++retried;
      EXPECT_GE(call.latency, expectedBackoff(retry, call.retries()))
          << "call with " << call.retries() << " retries";
    }
    EXPECT_GT(retried, 0);
  }

  core::RealClock clock_;
  FakeCredentialsProvider credentials_;
  CountingObserver observer_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<CpprestTransport> transport_;
};

TEST_F(Elbv2EmulatorTest, EveryOperationWithVerifiedSignatures) {
  ASSERT_NO_FATAL_FAILURE(startEmulator());
  std::vector<std::string> arns;
  for (int i = 0; i < 22; ++i) {
    arns.push_back(
        createTargetGroup(fmt::format("eb-it-{:02}", i), {{"index", std::to_string(i)}}));
  }
  const std::string& arn = arns[0];
  Elbv2ClientOptions onePerPage;
  onePerPage.pageSize = 1;
  auto client = makeClient(fastRetry(), "test", nullptr, onePerPage);

  // DescribeTargetGroups: three ARNs, one per page.
  auto groups = client->describeTargetGroups({arns[0], arns[1], arns[2]});
  ASSERT_TRUE(groups.has_value()) << groups.error().toString();
  ASSERT_EQ(groups->size(), 3u);
  std::set<std::string> seen;
  for (const TargetGroupInfo& group : *groups) {
    seen.insert(group.arn);
    EXPECT_EQ(group.port, 443);
    EXPECT_EQ(group.protocol, "HTTPS");
    EXPECT_EQ(group.targetType, "ip");
    EXPECT_FALSE(group.vpcId.empty());
    EXPECT_TRUE(group.name.starts_with("eb-it-"));
  }
  EXPECT_EQ(seen, (std::set<std::string>{arns[0], arns[1], arns[2]}));
  const auto pages = requestLog("DescribeTargetGroups");
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].params.count("Marker"), 0u);
  EXPECT_EQ(pages[1].params.count("Marker"), 1u);
  EXPECT_EQ(pages[2].params.count("Marker"), 1u);

  // RegisterTargets with a per-target AvailabilityZone, then DescribeTargetHealth.
  const std::vector<core::Target> targets = {
      {"10.0.1.5", 443, {}}, {"10.0.2.6", 8443, {}}, {"192.168.1.10", 443, "all"}};
  ASSERT_TRUE(client->registerTargets(arn, targets).has_value());
  auto health = client->describeTargetHealth(arn);
  ASSERT_TRUE(health.has_value()) << health.error().toString();
  ASSERT_EQ(health->size(), 3u);
  std::map<std::string, core::ObservedTarget> byKey;
  for (const core::ObservedTarget& observed : *health) byKey[observed.target.key()] = observed;
  ASSERT_EQ(byKey.count("10.0.1.5:443"), 1u);
  ASSERT_EQ(byKey.count("10.0.2.6:8443"), 1u);
  ASSERT_EQ(byKey.count("192.168.1.10:443"), 1u);
  EXPECT_EQ(byKey["192.168.1.10:443"].target.availabilityZone, "all");
  for (const auto& [key, observed] : byKey) {
    EXPECT_TRUE(observed.state == core::TargetState::kInitial ||
                observed.state == core::TargetState::kHealthy)
        << key << " " << core::targetStateName(observed.state);
  }

  // DeregisterTargets: the target drains.
  ASSERT_TRUE(client->deregisterTargets(arn, {{"10.0.2.6", 8443, {}}}).has_value());
  health = client->describeTargetHealth(arn);
  ASSERT_TRUE(health.has_value()) << health.error().toString();
  bool draining = false;
  for (const core::ObservedTarget& observed : *health) {
    if (observed.target.key() == "10.0.2.6:8443") {
      draining = observed.state == core::TargetState::kDraining;
      EXPECT_EQ(observed.reason, "Target.DeregistrationInProgress");
    }
  }
  EXPECT_TRUE(draining);
  // Deregistering an absent target succeeds.
  EXPECT_TRUE(client->deregisterTargets(arn, {{"10.0.9.9", 443, {}}}).has_value());

  // AddTags overwrites; DescribeTags over 22 ARNs is split into 20 + 2.
  ASSERT_TRUE(client->addTags(arn, {{"index", "zero"}, {"owner", "endpoint-binder"}}).has_value());
  auto tags = client->describeTags(arns);
  ASSERT_TRUE(tags.has_value()) << tags.error().toString();
  ASSERT_EQ(tags->size(), 22u);
  EXPECT_EQ(tags->at(arn), (Tags{{"index", "zero"}, {"owner", "endpoint-binder"}}));
  EXPECT_EQ(tags->at(arns[21]).at("index"), "21");
  const auto describeTagsCalls = requestLog("DescribeTags");
  ASSERT_EQ(describeTagsCalls.size(), 2u);
  EXPECT_EQ(describeTagsCalls[0].params.count("ResourceArns.member.20"), 1u);
  EXPECT_EQ(describeTagsCalls[0].params.count("ResourceArns.member.21"), 0u);
  EXPECT_EQ(describeTagsCalls[1].params.count("ResourceArns.member.2"), 1u);

  // Every call was signed, verified and answered 200 on the first attempt.
  for (const char* action : {"DescribeTargetGroups", "RegisterTargets", "DescribeTargetHealth",
                             "DeregisterTargets", "AddTags", "DescribeTags"}) {
    for (const RequestLogEntry& entry : requestLog(action)) {
      EXPECT_EQ(entry.status, 200) << action << " " << entry.errorCode;
    }
    const auto totals = observer_.totals(action);
    EXPECT_GT(totals.calls, 0) << action;
    EXPECT_EQ(totals.retries, 0) << action;
  }
}

TEST_F(Elbv2EmulatorTest, LargeRegistrationsAreChunkedAt200) {
  ASSERT_NO_FATAL_FAILURE(startEmulator());
  const std::string arn = createTargetGroup("eb-it-large");
  auto client = makeClient();
  const std::vector<core::Target> targets = vpcTargets(450);
  ASSERT_TRUE(client->registerTargets(arn, targets).has_value());
  const auto calls = requestLog("RegisterTargets");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].params.count("Targets.member.200.Id"), 1u);
  EXPECT_EQ(calls[0].params.count("Targets.member.201.Id"), 0u);
  EXPECT_EQ(calls[2].params.count("Targets.member.50.Id"), 1u);
  EXPECT_EQ(calls[2].params.count("Targets.member.51.Id"), 0u);
  EXPECT_EQ(stateTargetIds(arn).size(), 450u);

  auto health = client->describeTargetHealth(arn);
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->size(), 450u);
  ASSERT_TRUE(client->deregisterTargets(arn, targets).has_value());
  EXPECT_EQ(requestLog("DeregisterTargets").size(), 3u);
}

TEST_F(Elbv2EmulatorTest, ThrottlingStormConvergesWithBackoff) {
  ASSERT_NO_FATAL_FAILURE(startEmulator({"--seed", "11"}));
  const std::string arn = createTargetGroup("eb-it-throttle");
  value fault = value::object();
  fault["action"] = value::string("RegisterTargets");
  fault["throttleRate"] = value::number(0.5);
  ASSERT_TRUE(emulator_->addFault(fault).has_value());

  RateLimiter limiter(RateLimitOptions{}, clock_);
  const RetryOptions retry = fastRetry();
  auto client = makeClient(retry, "test", &limiter);
  const std::vector<core::Target> targets = vpcTargets(20);
  ASSERT_NO_FATAL_FAILURE(registerOneByOne(*client, arn, targets));

  const auto calls = requestLog("RegisterTargets");
  int ok = 0;
  int throttled = 0;
  for (const RequestLogEntry& entry : calls) {
    ok += entry.status == 200 ? 1 : 0;
    throttled += entry.throttled ? 1 : 0;
  }
  EXPECT_EQ(ok, 20);  // each target's call succeeded exactly once
  EXPECT_GT(throttled, 0);
  EXPECT_EQ(ok + throttled, static_cast<int>(calls.size()));
  // Our counts agree with the server's.
  EXPECT_EQ(observer_.attempts("RegisterTargets", CallOutcome::kThrottled), throttled);
  EXPECT_EQ(observer_.calls("RegisterTargets", CallOutcome::kSuccess), 20);
  EXPECT_EQ(observer_.totals("RegisterTargets").retries, throttled);
  expectBackoffWasApplied(retry);

  const auto ids = stateTargetIds(arn);
  EXPECT_EQ(ids.size(), 20u);
  for (const core::Target& target : targets) EXPECT_EQ(ids.count(target.id), 1u) << target.id;
}

TEST_F(Elbv2EmulatorTest, ServerErrorsAreRetriedWithoutDuplicateEffects) {
  ASSERT_NO_FATAL_FAILURE(startEmulator({"--seed", "12"}));
  const std::string arn = createTargetGroup("eb-it-503");
  value fault = value::object();
  fault["action"] = value::string("RegisterTargets");
  fault["errorRate"] = value::number(0.5);
  fault["errorStatus"] = value::number(503);
  ASSERT_TRUE(emulator_->addFault(fault).has_value());

  // The production set-up: client-side buckets matching the (emulated) account quota.
  RateLimiter limiter(RateLimitOptions{}, clock_);
  const RetryOptions retry = fastRetry();
  auto client = makeClient(retry, "test", &limiter);
  const std::vector<core::Target> targets = vpcTargets(20);
  ASSERT_NO_FATAL_FAILURE(registerOneByOne(*client, arn, targets));

  std::map<std::string, int> appliedPerTarget;
  int failed = 0;
  for (const RequestLogEntry& entry : requestLog("RegisterTargets")) {
    if (entry.status == 200) {
      ++appliedPerTarget[entry.params.at("Targets.member.1.Id")];
    } else if (!entry.throttled) {
      EXPECT_EQ(entry.status, 503);
      EXPECT_EQ(entry.errorCode, "ServiceUnavailable");
      ++failed;
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_EQ(observer_.attempts("RegisterTargets", CallOutcome::kTransient), failed);
  EXPECT_EQ(appliedPerTarget.size(), 20u);
  for (const auto& [id, count] : appliedPerTarget) EXPECT_EQ(count, 1) << id;
  expectBackoffWasApplied(retry);
  const auto ids = stateTargetIds(arn);
  EXPECT_EQ(ids.size(), 20u);
  for (const core::Target& target : targets) EXPECT_EQ(ids.count(target.id), 1u) << target.id;
}

// Resets after the write was applied: the client cannot know, retries, and the repeated
// RegisterTargets is harmless because registration is idempotent.
TEST_F(Elbv2EmulatorTest, ConnectionResetsAfterApplyAreHarmlessToRetry) {
  ASSERT_NO_FATAL_FAILURE(startEmulator({"--seed", "13"}));
  const std::string arn = createTargetGroup("eb-it-reset");
  value fault = value::object();
  fault["action"] = value::string("RegisterTargets");
  fault["resetRate"] = value::number(0.4);
  fault["afterApply"] = value::boolean(true);
  ASSERT_TRUE(emulator_->addFault(fault).has_value());

  // The production set-up: client-side buckets matching the (emulated) account quota.
  RateLimiter limiter(RateLimitOptions{}, clock_);
  const RetryOptions retry = fastRetry();
  auto client = makeClient(retry, "test", &limiter);
  const std::vector<core::Target> targets = vpcTargets(20);
  ASSERT_NO_FATAL_FAILURE(registerOneByOne(*client, arn, targets));

  // Applied = answered 200, or reset after the write was applied; throttled calls never apply.
  std::map<std::string, int> appliedPerTarget;
  int resets = 0;
  for (const RequestLogEntry& entry : requestLog("RegisterTargets")) {
    if (entry.throttled) continue;
    ++appliedPerTarget[entry.params.at("Targets.member.1.Id")];
    if (entry.fault == "reset") {
      EXPECT_EQ(entry.status, 0);
      ++resets;
    } else {
      EXPECT_EQ(entry.status, 200);
    }
  }
  EXPECT_GT(resets, 0);
  // cpprest's asio client silently re-sends a request once when a *reused* keep-alive
  // connection is reset before the status line, so some resets never reach our retry loop;
  // every reset we did see was retried.
  const int seenResets = observer_.attempts("RegisterTargets", CallOutcome::kTransient);
  EXPECT_LE(seenResets, resets);
  EXPECT_EQ(observer_.totals("RegisterTargets").retries,
            seenResets + observer_.attempts("RegisterTargets", CallOutcome::kThrottled));
  int appliedMoreThanOnce = 0;
  for (const auto& [id, count] : appliedPerTarget) appliedMoreThanOnce += count > 1 ? 1 : 0;
  EXPECT_GT(appliedMoreThanOnce, 0);     // some writes really were applied twice...
  const auto ids = stateTargetIds(arn);  // ...yet each target is registered exactly once
  EXPECT_EQ(ids.size(), 20u);
  for (const core::Target& target : targets) EXPECT_EQ(ids.count(target.id), 1u) << target.id;
  expectBackoffWasApplied(retry);

  // The same holds for deregistration with 503s after apply.
  ASSERT_TRUE(emulator_->clearFaults().has_value());
  value after = value::object();
  after["action"] = value::string("DeregisterTargets");
  after["errorRate"] = value::number(0.5);
  after["errorStatus"] = value::number(503);
  after["afterApply"] = value::boolean(true);
  ASSERT_TRUE(emulator_->addFault(after).has_value());
  for (const core::Target& target : targets) {
    auto result = client->deregisterTargets(arn, {target});
    ASSERT_TRUE(result.has_value()) << result.error().toString();
  }
  auto health = client->describeTargetHealth(arn);
  ASSERT_TRUE(health.has_value()) << health.error().toString();
  for (const core::ObservedTarget& observed : *health) {
    EXPECT_FALSE(core::isRegistered(observed.state)) << observed.target.key();
  }
}

TEST_F(Elbv2EmulatorTest, WrongSecretIsAnAuthErrorWithRequestId) {
  ASSERT_NO_FATAL_FAILURE(startEmulator());
  const std::string arn = createTargetGroup("eb-it-auth");
  auto client = makeClient(fastRetry(), "not-the-secret");
  auto result = client->describeTargetHealth(arn);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(result.error().code, "SignatureDoesNotMatch");
  EXPECT_FALSE(result.error().requestId.empty());
  EXPECT_EQ(result.error().httpStatus, 403);
  EXPECT_EQ(result.error().toString().find("not-the-secret"), std::string::npos);
  EXPECT_EQ(requestLog("DescribeTargetHealth").size(), 1u);  // never retried
  EXPECT_EQ(observer_.calls("DescribeTargetHealth", CallOutcome::kAuth), 1);
}

// A host whose clock is an hour behind: the emulator, like AWS, refuses its signatures as
// expired (more than 15 minutes off); the client corrects from the response's Date and retries.
class SkewedClock final : public core::Clock {
 public:
  explicit SkewedClock(std::chrono::seconds skew) : skew_(skew) {}
  core::MonoTime now() const override { return real_.now(); }
  core::WallTime wallNow() const override { return real_.wallNow() + skew_; }

 private:
  core::RealClock real_;
  std::chrono::seconds skew_;
};

TEST_F(Elbv2EmulatorTest, ASkewedClockIsCorrectedFromTheDateHeader) {
  ASSERT_NO_FATAL_FAILURE(startEmulator());
  const std::string arn = createTargetGroup("eb-it-skew");
  for (const auto skew : {-std::chrono::hours(1), std::chrono::hours(1)}) {
    ASSERT_TRUE(emulator_->clearRequests().has_value());
    SkewedClock skewed(std::chrono::duration_cast<std::chrono::seconds>(skew));
    credentials_.set(emulatorCredentials());
    Elbv2Client client(elbv2ServiceOptions("us-east-1", emulator_->url(), fastRetry(1)),
                       *transport_, credentials_, skewed);

    auto groups = client.describeTargetGroups({arn});
    ASSERT_TRUE(groups.has_value()) << groups.error().toString();
    ASSERT_EQ(groups->size(), 1u);
    auto log = requestLog("DescribeTargetGroups");
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].status, 403);
    EXPECT_EQ(log[0].errorCode, "SignatureDoesNotMatch");
    EXPECT_EQ(log[1].status, 200);

    // Later calls are signed right the first time.
    ASSERT_TRUE(client.registerTargets(arn, vpcTargets(1)).has_value());
    EXPECT_EQ(requestLog("RegisterTargets").size(), 1u);
  }
}

TEST_F(Elbv2EmulatorTest, UnknownTargetGroupIsNotFound) {
  ASSERT_NO_FATAL_FAILURE(startEmulator());
  auto client = makeClient();
  const std::string missing =
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef";
  auto health = client->describeTargetHealth(missing);
  ASSERT_FALSE(health.has_value());
  EXPECT_EQ(health.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(health.error().code, "TargetGroupNotFound");
  EXPECT_FALSE(health.error().requestId.empty());

  auto groups = client->describeTargetGroups({missing});
  ASSERT_FALSE(groups.has_value());
  EXPECT_EQ(groups.error().kind, core::ErrorKind::kNotFound);

  auto registered = client->registerTargets(missing, vpcTargets(1));
  ASSERT_FALSE(registered.has_value());
  EXPECT_EQ(registered.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(observer_.totals("RegisterTargets").retries, 0);
}

TEST_F(Elbv2EmulatorTest, UnreachableEndpointIsRetryableAfterRetries) {
  ASSERT_NO_FATAL_FAILURE(startEmulator());
  const std::string url = emulator_->url();
  emulator_.reset();  // nothing listens on that port any more
  credentials_.set(emulatorCredentials());
  QueryClientHooks hooks;
  hooks.observer = &observer_;
  hooks.random = [] { return kJitter; };
  Elbv2Client client(elbv2ServiceOptions("us-east-1", url, fastRetry(3)), *transport_, credentials_,
                     clock_, std::move(hooks));
  auto result = client.describeTargetHealth("arn:aws:elasticloadbalancing:us-east-1:1:x/y/z");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(result.error().httpStatus, 0);
  EXPECT_EQ(observer_.totals("DescribeTargetHealth").attempts, 3);
}

// Adaptive mode against a server-side quota and no client-side buckets: the client starts
// throttled, engages its CUBIC send-rate limiter and still gets every write through.
TEST_F(Elbv2EmulatorTest, AdaptiveModeConvergesUnderAServerQuota) {
  ASSERT_NO_FATAL_FAILURE(startEmulator({"--quota", "RegisterTargets=5:2"}));
  const std::string arn = createTargetGroup("eb-it-adaptive");
  RetryOptions retry = fastRetry();
  retry.mode = RetryMode::kAdaptive;
  auto client = makeClient(retry);
  const std::vector<core::Target> targets = vpcTargets(30);
  ASSERT_NO_FATAL_FAILURE(registerOneByOne(*client, arn, targets));
  const AdaptiveRateLimiter* adaptive = client->queryClient().adaptiveLimiter();
  ASSERT_NE(adaptive, nullptr);
  EXPECT_TRUE(adaptive->enabled());
  EXPECT_GT(observer_.attempts("RegisterTargets", CallOutcome::kThrottled), 0);
  EXPECT_EQ(stateTargetIds(arn).size(), 30u);
}

}  // namespace
}  // namespace endpointbinder::aws
