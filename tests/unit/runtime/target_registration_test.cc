// Tests for registerReportingRejections: finding the targets ELB refuses and registering the
// rest. The main cases run against the local AWS emulator over real HTTP (Elbv2Client, SigV4,
// the emulator's AWS target rules and messages), and read the emulator's request log to bound
// the calls made. Message parsing and the bisection bound are also checked with AWS messages
// quoted from public bug reports and a fake API, where no emulator is needed.
#include "controller/runtime/target_registration.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "controller/aws/cpprest_transport.h"
#include "controller/aws/elbv2_client.h"
#include "tests/support/emulator_process.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::runtime {
namespace {

using core::Target;
using testing::EmulatorOptions;
using testing::EmulatorProcess;
using web::json::value;

std::vector<std::string> ids(const std::vector<Target>& targets) {
  std::vector<std::string> out;
  for (const Target& target : targets) out.push_back(target.key());
  return out;
}

std::map<std::string, RejectedTarget> byKey(const std::vector<RejectedTarget>& rejected) {
  std::map<std::string, RejectedTarget> out;
  for (const RejectedTarget& r : rejected) out.emplace(r.target.key(), r);
  return out;
}

// 1 + 2·k·⌈log2 n⌉: the documented worst case for k refused targets among n that no message
// names.
int bisectionBound(int n, int k) {
  return 1 + 2 * k * static_cast<int>(std::ceil(std::log2(static_cast<double>(n))));
}

// ---------------------------------------------------------------- pure parts

TEST(TargetsNamedIn, FindsQuotedIdsInAwsMessages) {
  const std::vector<Target> targets = {{"i-0123456789abcdef0", 80, {}},
                                       {"i-0fedcba9876543210", 80, {}},
                                       {"i-0aaaaaaaaaaaaaaaa", 80, {}}};
  EXPECT_EQ(targetsNamedIn("The following targets are not in a running state and cannot be "
                           "registered: 'i-0fedcba9876543210'",
                           targets),
            (std::vector<size_t>{1}));
  EXPECT_EQ(targetsNamedIn("The following targets are not valid instances: "
                           "'i-0123456789abcdef0', 'i-0aaaaaaaaaaaaaaaa'",
                           targets),
            (std::vector<size_t>{0, 2}));
}

TEST(TargetsNamedIn, FindsIdsDespiteAwsBrokenQuoting) {
  // aws-load-balancer-controller #3692: AWS joins the ids with "', '" and drops the outer quotes.
  const std::vector<Target> targets = {{"i-09ec9f135d3d2c537", 80, {}},
                                       {"i-0ffffffffffffffff", 80, {}},
                                       {"i-035e6893ce492052d", 80, {}}};
  EXPECT_EQ(targetsNamedIn("The following targets cannot be used with this IPv6 target group "
                           "because of missing primary IPv6 addresses: i-09ec9f135d3d2c537', "
                           "'i-035e6893ce492052d",
                           targets),
            (std::vector<size_t>{0, 2}));
}

TEST(TargetsNamedIn, MatchesWholeAddressesOnly) {
  const std::vector<Target> targets = {
      {"10.0.1.50", 443, {}}, {"10.0.1.5", 443, {}}, {"110.0.1.5", 443, {}}};
  EXPECT_EQ(targetsNamedIn("The IP address '10.0.1.5' is not a valid IPv4 address", targets),
            (std::vector<size_t>{1}));
  // Unquoted, at the end of a sentence.
  EXPECT_EQ(targetsNamedIn("Target 10.0.1.5.", targets), (std::vector<size_t>{1}));
  // Other quoted words ('all', an AZ) name nothing.
  EXPECT_EQ(targetsNamedIn("The IP address '10.0.1.50' is within the VPC, and cannot have its "
                           "Availability Zone overridden to 'all' from 'us-east-1b'",
                           targets),
            (std::vector<size_t>{0}));
  // kubernetes-sigs/aws-load-balancer-controller #3084's wording.
  EXPECT_EQ(targetsNamedIn("You must specify a valid Availability Zone or select 'all' for all "
                           "enabled Availability zones, since the IP address '110.0.1.5' is "
                           "outside the VPC",
                           targets),
            (std::vector<size_t>{2}));
}

TEST(TargetsNamedIn, ComparesIpv6InCanonicalFormAndEveryPort) {
  const std::vector<Target> targets = {
      {"fd00::1", 443, {}}, {"fd00::1", 8443, {}}, {"fd00::10", 443, {}}};
  EXPECT_EQ(targetsNamedIn("The IP address 'FD00:0:0::01' is not a valid IPv4 address", targets),
            (std::vector<size_t>{0, 1}));
  // kube-ingress-aws-controller #495 (an IPv6 address in an ipv4 group).
  const std::vector<Target> real = {{"2a05:d018:1436:ff06:d7ad::a", 80, {}},
                                    {"2a05:d018:1436:ff08:6caa::4", 80, {}}};
  EXPECT_EQ(targetsNamedIn("The IP address '2a05:d018:1436:ff06:d7ad::a' is not a valid IPv4 "
                           "address",
                           real),
            (std::vector<size_t>{0}));
}

TEST(TargetsNamedIn, NamesNothingWhenNoIdOfTheCallAppears) {
  const std::vector<Target> targets = {{"10.0.1.5", 70000, {}}, {"10.0.1.6", 443, {}}};
  EXPECT_TRUE(targetsNamedIn("1 validation error detected: Value '70000' at "
                             "'targets.1.member.port' failed to satisfy constraint: Member must "
                             "have value less than or equal to 65535",
                             targets)
                  .empty());
  EXPECT_TRUE(targetsNamedIn("The specified target does not exist, is not in the same VPC as the "
                             "target group, or has an unsupported instance type.",
                             targets)
                  .empty());
  EXPECT_TRUE(targetsNamedIn("", targets).empty());
}

TEST(TargetsNamedIn, DoesNotTrustAnIdCutByTheLengthLimit) {
  const std::vector<Target> targets = {{"10.0.1.5", 443, {}}, {"10.0.1.7", 443, {}}};
  // The message was "...: '10.0.1.7', '10.0.1.55'" cut at 32 characters.
  const std::string cut = "Not running: '10.0.1.7', '10.0.1.5";
  EXPECT_EQ(targetsNamedIn(cut, targets, cut.size()), (std::vector<size_t>{1}));
  EXPECT_EQ(targetsNamedIn(cut, targets, cut.size() + 1), (std::vector<size_t>{0, 1}));
}

TEST(IsTargetRefusal, DecidesByCodeAndSubject) {
  const std::string arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/w/1";
  auto error = [](std::string code, std::string message) {
    return core::Error{core::ErrorKind::kTerminal, std::move(message), std::move(code), "r", 400};
  };
  EXPECT_TRUE(isTargetRefusal(error("InvalidTarget", "RegisterTargets: not running: 'i-1'"), arn));
  EXPECT_TRUE(isTargetRefusal(error("TooManyRegistrationsForTargetId", "RegisterTargets: x"), arn));
  EXPECT_TRUE(isTargetRefusal(error("ValidationError",
                                    "RegisterTargets: The IP address 'fd00::1' is not a valid IPv4 "
                                    "address"),
                              arn));
  EXPECT_TRUE(isTargetRefusal(
      error("ValidationError",
            "RegisterTargets: 1 validation error detected: Value '0' at 'targets.1.member.port'"),
      arn));
  // About the group, not the targets.
  EXPECT_FALSE(isTargetRefusal(
      error("ValidationError", "RegisterTargets: '" + arn + "' is not a valid target group ARN"),
      arn));
  EXPECT_FALSE(isTargetRefusal(
      error("ValidationError",
            "RegisterTargets: 1 validation error detected: Value 'x' at 'targetGroupArn'"),
      arn));
  // Not about the targets at all.
  EXPECT_FALSE(isTargetRefusal(error("TooManyTargets", "RegisterTargets: limit reached"), arn));
  EXPECT_FALSE(isTargetRefusal(error("TargetGroupNotFound", "not found"), arn));
  EXPECT_FALSE(isTargetRefusal(error("Throttling", "Rate exceeded"), arn));
  EXPECT_FALSE(isTargetRefusal(error("SignatureDoesNotMatch", "bad signature"), arn));
  EXPECT_FALSE(isTargetRefusal(error("", "HTTP 502 with a body that is not an AWS error"), arn));
}

// A target group that refuses, all or nothing, every call holding a target from `bad`, with a
// message naming no target (the worst case for finding them). Fails with `failWith` when set.
class UnnamingFakeApi final : public aws::TargetGroupApi {
 public:
  explicit UnnamingFakeApi(std::set<std::string> bad) : bad_(std::move(bad)) {}

  core::Result<void> registerTargets(const std::string&,
                                     const std::vector<Target>& targets) override {
    callSizes.push_back(targets.size());
    if (failWith && static_cast<int>(callSizes.size()) == failOnCall) {
      return std::unexpected(*failWith);
    }
    for (const Target& target : targets) {
      if (bad_.contains(target.id)) {
        return core::makeError(core::ErrorKind::kTerminal,
                               "RegisterTargets: The specified target does not exist, is not in "
                               "the same VPC as the target group, or has an unsupported "
                               "instance type.",
                               "InvalidTarget");
      }
    }
    for (const Target& target : targets) registered.insert(target.key());
    return {};
  }

  core::Result<std::vector<aws::TargetGroupInfo>> describeTargetGroups(
      const std::vector<std::string>&) override {
    return std::vector<aws::TargetGroupInfo>{};
  }
  core::Result<std::vector<core::ObservedTarget>> describeTargetHealth(
      const std::string&) override {
    return std::vector<core::ObservedTarget>{};
  }
  core::Result<void> deregisterTargets(const std::string&, const std::vector<Target>&) override {
    return {};
  }
  core::Result<std::map<std::string, aws::Tags>> describeTags(
      const std::vector<std::string>&) override {
    return std::map<std::string, aws::Tags>{};
  }
  core::Result<void> addTags(const std::string&, const aws::Tags&) override { return {}; }
  core::Result<void> removeTags(const std::string&, const std::vector<std::string>&) override {
    return {};
  }

  std::vector<size_t> callSizes;
  std::set<std::string> registered;
  std::optional<core::Error> failWith;
  int failOnCall = 0;

 private:
  std::set<std::string> bad_;
};

std::vector<Target> numberedTargets(int n) {
  std::vector<Target> targets;
  for (int i = 0; i < n; ++i)
    targets.push_back({fmt::format("10.0.{}.{}", i / 200, 1 + i % 200), 443, {}});
  return targets;
}

TEST(RegisterReportingRejections, BisectsUnnamedRefusalsWithinTheBound) {
  const std::vector<Target> targets = numberedTargets(200);
  UnnamingFakeApi api({targets[3].id, targets[77].id, targets[150].id});
  RegistrationOptions options;
  options.maxCalls = 1000;
  auto report = registerReportingRejections(api, "arn", targets, options);
  ASSERT_TRUE(report.has_value()) << report.error().toString();
  ASSERT_EQ(report->rejected.size(), 3u);
  EXPECT_EQ(report->rejected[0].target, targets[3]);
  EXPECT_EQ(report->rejected[1].target, targets[77]);
  EXPECT_EQ(report->rejected[2].target, targets[150]);
  EXPECT_EQ(report->rejected[0].code, "InvalidTarget");
  EXPECT_TRUE(report->rejected[0].message.starts_with("The specified target does not exist"));
  EXPECT_EQ(report->registered.size(), 197u);
  EXPECT_TRUE(report->deferred.empty());
  EXPECT_EQ(api.registered.size(), 197u);
  EXPECT_EQ(report->calls, static_cast<int>(api.callSizes.size()));
  EXPECT_LE(report->calls, bisectionBound(200, 3));  // 49, against 200 one by one
  for (size_t size : api.callSizes) EXPECT_LE(size, 200u);
}

TEST(RegisterReportingRejections, ChunksAtTargetsPerCall) {
  const std::vector<Target> targets = numberedTargets(450);
  UnnamingFakeApi api({});
  auto report = registerReportingRejections(api, "arn", targets);
  ASSERT_TRUE(report.has_value()) << report.error().toString();
  EXPECT_EQ(api.callSizes, (std::vector<size_t>{200, 200, 50}));
  EXPECT_EQ(report->registered, targets);
  EXPECT_EQ(report->calls, 3);
}

TEST(RegisterReportingRejections, DefersWhatTheCallBudgetDidNotSettle) {
  const std::vector<Target> targets = numberedTargets(16);
  UnnamingFakeApi api({targets[0].id});
  RegistrationOptions options;
  options.maxCalls = 3;  // the whole set, then its two halves
  auto report = registerReportingRejections(api, "arn", targets, options);
  ASSERT_TRUE(report.has_value()) << report.error().toString();
  EXPECT_EQ(report->calls, 3);
  EXPECT_TRUE(report->rejected.empty());
  EXPECT_EQ(report->registered, std::vector<Target>(targets.begin() + 8, targets.end()));
  EXPECT_EQ(report->deferred, std::vector<Target>(targets.begin(), targets.begin() + 8));
}

TEST(RegisterReportingRejections, ReturnsOtherErrorsAsErrors) {
  const std::vector<Target> targets = numberedTargets(300);
  UnnamingFakeApi api({});
  api.failWith = core::Error{core::ErrorKind::kRetryable, "Rate exceeded", "Throttling", "r", 400};
  api.failOnCall = 2;
  auto report = registerReportingRejections(api, "arn", targets);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, "Throttling");
  EXPECT_EQ(api.callSizes.size(), 2u);  // no splitting, no further chunk
}

TEST(RegisterReportingRejections, EmptyInputMakesNoCall) {
  UnnamingFakeApi api({});
  auto report = registerReportingRejections(api, "arn", {});
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->calls, 0);
  EXPECT_TRUE(api.callSizes.empty());
}

// ------------------------------------------------------------ against the emulator

class TargetRegistrationEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.args = {"--no-throttle"};
    auto emulator = EmulatorProcess::start(std::move(options));
    ASSERT_TRUE(emulator.has_value()) << emulator.error().toString();
    emulator_ = std::move(*emulator);
    auto transport = aws::CpprestTransport::create(aws::CpprestTransportOptions{});
    ASSERT_TRUE(transport.has_value()) << transport.error().toString();
    transport_ = std::move(*transport);
  }

  std::unique_ptr<aws::Elbv2Client> makeClient(std::string secret = "test", int attempts = 3) {
    aws::Credentials credentials;
    credentials.accessKeyId = "test";
    credentials.secretAccessKey = std::move(secret);
    credentials.providerName = "static";
    credentials_.set(std::move(credentials));
    aws::RetryOptions retry;
    retry.maxAttempts = attempts;
    retry.baseDelay = std::chrono::milliseconds(10);
    retry.maxBackoff = std::chrono::milliseconds(50);
    aws::QueryClientHooks hooks;
    hooks.random = [] { return 0.5; };
    return std::make_unique<aws::Elbv2Client>(
        aws::elbv2ServiceOptions("us-east-1", emulator_->url(), retry), *transport_, credentials_,
        clock_, std::move(hooks));
  }

  std::string createGroup(const std::string& name, const std::string& targetType = "ip",
                          const std::string& ipAddressType = "ipv4") {
    value spec = value::object();
    spec["name"] = value::string(name);
    spec["protocol"] = value::string("HTTP");
    spec["port"] = value::number(targetType == "ip" ? 443 : 80);
    spec["targetType"] = value::string(targetType);
    spec["ipAddressType"] = value::string(ipAddressType);
    auto arn = emulator_->createTargetGroup(spec);
    EXPECT_TRUE(arn.has_value()) << arn.error().toString();
    return arn.value_or("");
  }

  // RegisterTargets requests the emulator received: each one's status and target count.
  std::vector<std::pair<int, int>> registerCalls() {
    std::vector<std::pair<int, int>> calls;
    auto log = emulator_->requests();
    EXPECT_TRUE(log.has_value()) << log.error().toString();
    if (!log) return calls;
    for (const value& item : log->at("requests").as_array()) {
      if (item.at("action").as_string() != "RegisterTargets") continue;
      int count = 0;
      if (item.has_object_field("params")) {
        for (const auto& [key, v] : item.at("params").as_object()) {
          count += key.ends_with(".Id") ? 1 : 0;
        }
      }
      calls.emplace_back(item.at("status").as_integer(), count);
    }
    return calls;
  }

  // "id:port" of every target the group holds, from the emulator's own state.
  std::set<std::string> groupTargets(const std::string& arn) {
    std::set<std::string> keys;
    auto state = emulator_->state();
    EXPECT_TRUE(state.has_value()) << state.error().toString();
    if (!state) return keys;
    for (const value& group : state->at("targetGroups").as_array()) {
      if (group.at("arn").as_string() != arn) continue;
      for (const value& target : group.at("targets").as_array()) {
        keys.insert(
            fmt::format("{}:{}", target.at("id").as_string(), target.at("port").as_integer()));
      }
    }
    return keys;
  }

  core::RealClock clock_;
  testing::FakeCredentialsProvider credentials_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<aws::CpprestTransport> transport_;
};

TEST_F(TargetRegistrationEmulatorTest, IpGroupHoldsEachRefusedTargetAndRegistersTheRest) {
  const std::string arn = createGroup("reject-ip");
  auto client = makeClient();
  const std::vector<Target> targets = {
      {"10.0.1.5", 443, {}},
      {"172.20.0.1", 443, {}},  // (a) outside the VPC, no availabilityZone
      {"10.0.1.6", 443, {}},
      {"2600:1f18:4000:a800::10", 443, {}},  // (c) IPv6 in an ipv4 group
      {"192.168.3.4", 443, "all"},           // outside the VPC, with availabilityZone: fine
      {"10.0.1.9", 70000, {}},               // refused by request validation: no id in the message
      {"10.0.64.7", 8443, {}},
      {"10.0.1.5", 8443, {}},
  };
  // As one RegisterTargets (what the reconciler did), AWS refuses the whole batch.
  auto whole = client->registerTargets(arn, targets);
  ASSERT_FALSE(whole.has_value());
  EXPECT_TRUE(groupTargets(arn).empty());
  ASSERT_TRUE(emulator_->clearRequests().has_value());

  auto report = registerReportingRejections(*client, arn, targets);
  ASSERT_TRUE(report.has_value()) << report.error().toString();

  EXPECT_EQ(ids(report->registered),
            (std::vector<std::string>{"10.0.1.5:443", "10.0.1.6:443", "192.168.3.4:443",
                                      "10.0.64.7:8443", "10.0.1.5:8443"}));
  EXPECT_TRUE(report->deferred.empty());
  const auto rejected = byKey(report->rejected);
  ASSERT_EQ(rejected.size(), 3u);
  EXPECT_EQ(rejected.at("172.20.0.1:443").code, "ValidationError");
  EXPECT_EQ(rejected.at("172.20.0.1:443").message,
            "The Availability Zone is required for IP address '172.20.0.1' because it is not "
            "in the VPC");
  EXPECT_FALSE(rejected.at("172.20.0.1:443").requestId.empty());
  EXPECT_EQ(rejected.at("2600:1f18:4000:a800::10:443").code, "ValidationError");
  EXPECT_EQ(rejected.at("2600:1f18:4000:a800::10:443").message,
            "The IP address '2600:1f18:4000:a800::10' is not a valid IPv4 address");
  EXPECT_EQ(rejected.at("10.0.1.9:70000").code, "ValidationError");
  EXPECT_EQ(rejected.at("10.0.1.9:70000").message,
            "1 validation error detected: Value '70000' at 'targets.1.member.port' failed to "
            "satisfy constraint: Member must have value less than or equal to 65535");

  // The group holds exactly the accepted targets.
  EXPECT_EQ(groupTargets(arn),
            (std::set<std::string>{"10.0.1.5:443", "10.0.1.6:443", "192.168.3.4:443",
                                   "10.0.64.7:8443", "10.0.1.5:8443"}));
  // Every call the emulator saw is one we counted, none larger than 200 targets, and the
  // bisection stayed within its bound for 3 refusals among 8.
  const auto calls = registerCalls();
  EXPECT_EQ(static_cast<int>(calls.size()), report->calls);
  EXPECT_LE(report->calls, bisectionBound(8, 3));
  // All 8 (port refused, unnamed) → halves; first half: (a) named, (c) named, 2 registered;
  // second half: unnamed → two pairs; one pair registered, the other split → 1 registered and
  // the 70000 port rejected alone.
  EXPECT_EQ(report->calls, 9);
  int succeeded = 0;
  for (const auto& [status, count] : calls) {
    EXPECT_LE(count, 200);
    succeeded += status == 200 ? count : 0;
  }
  EXPECT_EQ(succeeded, 5);  // nothing registered twice
}

TEST_F(TargetRegistrationEmulatorTest, InstanceGroupHoldsStoppedAndUnknownInstancesByName) {
  value instances = value::array();
  const std::vector<std::pair<std::string, std::string>> specs = {
      {"i-0000000000000000a", "running"},
      {"i-0000000000000000b", "stopped"},  // (b)
      {"i-0000000000000000c", "running"}};
  for (size_t i = 0; i < specs.size(); ++i) {
    value instance = value::object();
    instance["id"] = value::string(specs[i].first);
    instance["privateIp"] = value::string(fmt::format("10.0.1.{}", 10 + i));
    instance["state"] = value::string(specs[i].second);
    instances[i] = instance;
  }
  value body = value::object();
  body["instances"] = instances;
  ASSERT_TRUE(emulator_->control("POST", "instances", body).has_value());
  const std::string arn = createGroup("reject-inst", "instance");
  auto client = makeClient();
  const std::vector<Target> targets = {{"i-0000000000000000a", 80, {}},
                                       {"i-0000000000000000b", 80, {}},
                                       {"i-0000000000000000d", 80, {}},  // no such instance
                                       {"i-0000000000000000c", 80, {}},
                                       {"i-0000000000000000c", 8080, {}}};
  auto report = registerReportingRejections(*client, arn, targets);
  ASSERT_TRUE(report.has_value()) << report.error().toString();
  EXPECT_EQ(ids(report->registered),
            (std::vector<std::string>{"i-0000000000000000a:80", "i-0000000000000000c:80",
                                      "i-0000000000000000c:8080"}));
  const auto rejected = byKey(report->rejected);
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected.at("i-0000000000000000b:80").code, "InvalidTarget");
  EXPECT_EQ(rejected.at("i-0000000000000000b:80").message,
            "The following targets are not in a running state and cannot be registered: "
            "'i-0000000000000000b'");
  EXPECT_EQ(rejected.at("i-0000000000000000d:80").code, "InvalidTarget");
  EXPECT_EQ(rejected.at("i-0000000000000000d:80").message,
            "The following targets are not valid instances: 'i-0000000000000000d'");
  EXPECT_EQ(groupTargets(arn),
            (std::set<std::string>{"i-0000000000000000a:80", "i-0000000000000000c:80",
                                   "i-0000000000000000c:8080"}));
  // Named refusals cost one call each, plus the call that succeeds: no bisection.
  EXPECT_EQ(report->calls, 3);
  EXPECT_EQ(static_cast<int>(registerCalls().size()), 3);
}

TEST_F(TargetRegistrationEmulatorTest, Ipv6GroupRefusesIpv4AddressesByName) {
  const std::string arn = createGroup("reject-v6", "ip", "ipv6");
  auto client = makeClient();
  auto groups = client->describeTargetGroups({arn});
  ASSERT_TRUE(groups.has_value()) << groups.error().toString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ(groups->front().ipAddressType, "ipv6");

  const std::vector<Target> targets = {{"2600:1f18:4000:a800::10", 443, {}},
                                       {"10.0.1.5", 443, {}},  // IPv4 in an ipv6 group
                                       {"FD00:0:0::5", 443, "all"}};
  auto report = registerReportingRejections(*client, arn, targets);
  ASSERT_TRUE(report.has_value()) << report.error().toString();
  EXPECT_EQ(ids(report->registered),
            (std::vector<std::string>{"2600:1f18:4000:a800::10:443", "fd00::5:443"}));
  ASSERT_EQ(report->rejected.size(), 1u);
  EXPECT_EQ(report->rejected[0].target.id, "10.0.1.5");
  EXPECT_EQ(report->rejected[0].message, "The IP address '10.0.1.5' is not a valid IPv6 address");
  EXPECT_EQ(report->calls, 2);
}

TEST_F(TargetRegistrationEmulatorTest, UnnamedRefusalSplitsInsteadOfRejecting) {
  const std::string arn = createGroup("reject-unnamed");
  // (d) The next RegisterTargets is refused with AWS's generic InvalidTarget text, which names
  // no target; later calls are not.
  value fault = value::object();
  fault["action"] = value::string("RegisterTargets");
  fault["errorRate"] = value::number(1);
  fault["errorStatus"] = value::number(400);
  fault["errorCode"] = value::string("InvalidTarget");
  fault["errorMessage"] = value::string(
      "The specified target does not exist, is not in the same VPC as the target group, or has "
      "an unsupported instance type.");
  fault["remaining"] = value::number(1);
  ASSERT_TRUE(emulator_->addFault(fault).has_value());
  auto client = makeClient();
  const std::vector<Target> targets = {
      {"10.0.1.5", 443, {}}, {"10.0.1.6", 443, {}}, {"10.0.1.7", 443, {}}, {"10.0.1.8", 443, {}}};
  auto report = registerReportingRejections(*client, arn, targets);
  ASSERT_TRUE(report.has_value()) << report.error().toString();
  EXPECT_EQ(report->registered, targets);
  EXPECT_TRUE(report->rejected.empty());
  EXPECT_EQ(report->calls, 3);  // the refused whole, then its two halves
  const auto calls = registerCalls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0], (std::pair<int, int>{400, 4}));
  EXPECT_EQ(calls[1], (std::pair<int, int>{200, 2}));
  EXPECT_EQ(calls[2], (std::pair<int, int>{200, 2}));
  EXPECT_EQ(groupTargets(arn).size(), 4u);
}

TEST_F(TargetRegistrationEmulatorTest, ErrorsNotAboutTargetsAreReturnedAfterOneCall) {
  const std::string arn = createGroup("reject-errors");
  const std::vector<Target> targets = {{"10.0.1.5", 443, {}}, {"172.20.0.1", 443, {}}};

  // (e) Throttling that outlasts the client's retries: an error, no rejections, no splitting.
  value throttle = value::object();
  throttle["action"] = value::string("RegisterTargets");
  throttle["throttleRate"] = value::number(1);
  ASSERT_TRUE(emulator_->addFault(throttle).has_value());
  auto client = makeClient("test", /*attempts=*/2);
  auto throttled = registerReportingRejections(*client, arn, targets);
  ASSERT_FALSE(throttled.has_value());
  EXPECT_EQ(throttled.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(throttled.error().code, "Throttling");
  EXPECT_EQ(registerCalls().size(), 2u);  // one operation call, retried once by the client
  ASSERT_TRUE(emulator_->clearFaults().has_value());
  ASSERT_TRUE(emulator_->clearRequests().has_value());

  // (e) Bad credentials.
  auto wrongKey = makeClient("not-the-secret");
  auto denied = registerReportingRejections(*wrongKey, arn, targets);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(denied.error().code, "SignatureDoesNotMatch");
  EXPECT_EQ(registerCalls().size(), 1u);
  ASSERT_TRUE(emulator_->clearRequests().has_value());

  // The group is missing, or its ARN is malformed: the group's problem, one call.
  client = makeClient();
  auto missing = registerReportingRejections(
      *client,
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef",
      targets);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "TargetGroupNotFound");
  auto malformed = registerReportingRejections(*client, "not-an-arn", targets);
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code, "ValidationError");
  EXPECT_EQ(registerCalls().size(), 2u);
  ASSERT_TRUE(emulator_->clearRequests().has_value());

  // The group is full: TooManyTargets is returned, not blamed on targets.
  value settings = value::object();
  settings["targetLimit"] = value::number(1);
  ASSERT_TRUE(emulator_->control("POST", "settings", settings).has_value());
  auto full = registerReportingRejections(
      *client, arn, {{"10.0.1.5", 443, {}}, {"10.0.1.6", 443, {}}, {"10.0.1.7", 443, {}}});
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, "TooManyTargets");
  EXPECT_EQ(registerCalls().size(), 1u);
  EXPECT_TRUE(groupTargets(arn).empty());
}

}  // namespace
}  // namespace endpointbinder::runtime
