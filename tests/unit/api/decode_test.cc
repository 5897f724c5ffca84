// decodeManifests / loadManifests: decoded values, defaults, every error reported, good
// documents returned beside bad ones, cross-object checks and directory walking.
#include "api/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace endpointbinder::api {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ElementsAre;
using testing::HasSubstr;

constexpr const char* kMinimal = R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata:
  name: web
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef
  source:
    dns:
      hostname: Internal-Web.ap-northeast-1.ELB.amazonaws.com.
)";

std::vector<std::string> lines(const Diagnostics& diagnostics) {
  std::vector<std::string> out;
  for (const Diagnostic& d : diagnostics) out.push_back(d.toString());
  return out;
}

TEST(DecodeManifests, AppliesEveryDefaultToAMinimalTargetGroupBinding) {
  const ManifestSet set = decodeManifests(kMinimal, "web.yaml");
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  ASSERT_EQ(set.targetGroupBindings.size(), 1u);
  const TargetGroupBinding& b = set.targetGroupBindings[0];
  EXPECT_EQ(b.metadata.name, "web");
  EXPECT_EQ(b.metadata.ns, "default");
  EXPECT_EQ(b.metadata.key(), "default/web");
  EXPECT_TRUE(b.metadata.labels.empty());
  EXPECT_EQ(b.spec.targetGroupArn.name, "web");
  EXPECT_EQ(b.spec.targetType, TargetType::kIp);
  EXPECT_EQ(b.spec.port, std::nullopt);
  EXPECT_EQ(b.spec.availabilityZone, std::nullopt);
  const auto& dns = std::get<DnsSource>(b.spec.source);
  EXPECT_EQ(dns.hostname, "internal-web.ap-northeast-1.elb.amazonaws.com");
  EXPECT_TRUE(dns.ipv4);
  EXPECT_FALSE(dns.ipv6);
  EXPECT_EQ(dns.lookupsPerRefresh, 1);
  EXPECT_EQ(dns.minRefreshInterval, seconds(5));
  EXPECT_EQ(dns.maxRefreshInterval, seconds(60));
  const Policy& p = b.spec.policy;
  EXPECT_EQ(p.deregistrationGracePeriod, minutes(3));
  EXPECT_EQ(p.unhealthyGracePeriod, Duration::zero());
  EXPECT_TRUE(p.prune);
  EXPECT_EQ(p.minTargets, 1);
  EXPECT_TRUE(p.maxDeregistrationsPerSync.isPercent);
  EXPECT_EQ(p.maxDeregistrationsPerSync.value, 50);
  EXPECT_EQ(p.allowedCidrs, defaultAllowedCidrs());
  EXPECT_EQ(p.deletionPolicy, DeletionPolicy::kRetain);
  EXPECT_TRUE(b.spec.notifications.empty());
  EXPECT_EQ(b.origin.file, "web.yaml");
  EXPECT_EQ(b.origin.line, 1);
  EXPECT_THAT(b.generation, testing::MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(set.files, std::vector<std::string>{"web.yaml"});
}

TEST(DecodeManifests, DefaultsAllowedCidrsWhenPolicyOmitsThem) {
  const std::string text = std::string(kMinimal) + "  policy:\n    prune: false\n";
  const ManifestSet set = decodeManifests(text, "web.yaml");
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  EXPECT_FALSE(set.targetGroupBindings[0].spec.policy.prune);
  EXPECT_EQ(set.targetGroupBindings[0].spec.policy.allowedCidrs, defaultAllowedCidrs());
}

TEST(DecodeManifests, DecodesEveryTargetGroupBindingField) {
  const ManifestSet set = decodeManifests(R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata:
  name: full
  namespace: factory-iot
  labels: {team: eng, app.kubernetes.io/name: full}
  annotations: {note: "free text: anything"}
spec:
  targetGroupARN: arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/full/fedcba9876543210
  targetType: ip
  port: 443
  availabilityZone: all
  source:
    static:
      addresses: [10.0.0.1, "fd00:0::1"]
  policy:
    deregistrationGracePeriod: 1h30m
    unhealthyGracePeriod: 500ms
    prune: false
    minTargets: 0
    maxDeregistrationsPerSync: 7
    allowedCIDRs: [10.0.0.0/8, fd00::/8]
    deletionPolicy: Deregister
  notifications:
    - slackWebhookSecretRef: {ssmParameter: /eb/slack}
      on: [Failing, Blocked]
    - snsTopicARN: arn:aws:sns:cn-north-1:123456789012:ops
)",
                                          "full.yaml");
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  const TargetGroupBinding& b = set.targetGroupBindings.at(0);
  EXPECT_EQ(b.metadata.key(), "factory-iot/full");
  EXPECT_EQ(b.metadata.labels.at("app.kubernetes.io/name"), "full");
  EXPECT_EQ(b.metadata.annotations.at("note"), "free text: anything");
  EXPECT_EQ(b.spec.targetGroupArn.partition, "aws-cn");
  EXPECT_EQ(b.spec.port, 443);
  EXPECT_EQ(b.spec.availabilityZone, "all");
  const auto& addresses = std::get<StaticSource>(b.spec.source).addresses;
  ASSERT_EQ(addresses.size(), 2u);
  EXPECT_EQ(addresses[1].toString(), "fd00::1");
  const Policy& p = b.spec.policy;
  EXPECT_EQ(p.deregistrationGracePeriod, minutes(90));
  EXPECT_EQ(p.unhealthyGracePeriod, milliseconds(500));
  EXPECT_FALSE(p.prune);
  EXPECT_EQ(p.minTargets, 0);
  EXPECT_FALSE(p.maxDeregistrationsPerSync.isPercent);
  EXPECT_EQ(p.maxDeregistrationsPerSync.value, 7);
  ASSERT_EQ(p.allowedCidrs.size(), 2u);
  EXPECT_EQ(p.allowedCidrs[1].toString(), "fd00::/8");
  EXPECT_EQ(p.deletionPolicy, DeletionPolicy::kDeregister);
  ASSERT_EQ(b.spec.notifications.size(), 2u);
  EXPECT_EQ(b.spec.notifications[0].slackWebhookSsmParameter, "/eb/slack");
  EXPECT_THAT(b.spec.notifications[0].on,
              ElementsAre(NotificationEvent::kFailing, NotificationEvent::kBlocked));
  EXPECT_EQ(b.spec.notifications[1].snsTopicArn, "arn:aws:sns:cn-north-1:123456789012:ops");
  // `on` omitted: every event.
  EXPECT_THAT(b.spec.notifications[1].on,
              ElementsAre(NotificationEvent::kRegistered, NotificationEvent::kDeregistered,
                          NotificationEvent::kBlocked, NotificationEvent::kConflict,
                          NotificationEvent::kFailing));
}

TEST(DecodeManifests, DecodesInstanceSourcesAndAddressFamilies) {
  const ManifestSet set = decodeManifests(R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {name: a}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a/0000000000000001
  targetType: instance
  source: {ec2: {filters: [{name: "tag:role", values: [web, api]}]}}
---
apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {name: b}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/b/0000000000000002
  targetType: instance
  source: {spotFleet: {requestId: sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a}}
---
apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {name: c}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/c/0000000000000003
  source: {dns: {hostname: c.example.com, addressFamilies: [IPv6]}}
---
apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {name: d}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/d/0000000000000004
  source: {dns: {hostname: d.example.com, addressFamilies: [both]}}
)",
                                          "s.yaml");
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  ASSERT_EQ(set.targetGroupBindings.size(), 4u);
  const auto& ec2 = std::get<Ec2Source>(set.targetGroupBindings[0].spec.source);
  ASSERT_EQ(ec2.filters.size(), 1u);
  EXPECT_EQ(ec2.filters[0].name, "tag:role");
  EXPECT_THAT(ec2.filters[0].values, ElementsAre("web", "api"));
  EXPECT_THAT(ec2.states, ElementsAre("running"));
  EXPECT_EQ(std::get<SpotFleetSource>(set.targetGroupBindings[1].spec.source).requestId,
            "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a");
  const auto& v6 = std::get<DnsSource>(set.targetGroupBindings[2].spec.source);
  EXPECT_FALSE(v6.ipv4);
  EXPECT_TRUE(v6.ipv6);
  const auto& both = std::get<DnsSource>(set.targetGroupBindings[3].spec.source);
  EXPECT_TRUE(both.ipv4);
  EXPECT_TRUE(both.ipv6);
}

TEST(DecodeManifests, AppliesDnsRecordBindingDefaults) {
  const ManifestSet set = decodeManifests(R"(apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {name: names}
spec:
  hostedZoneId: Z123
  source: {autoScalingGroup: {name: web}}
)",
                                          "r.yaml");
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  ASSERT_EQ(set.dnsRecordBindings.size(), 1u);
  const DnsRecordBinding& b = set.dnsRecordBindings[0];
  EXPECT_EQ(b.metadata.key(), "default/names");
  EXPECT_EQ(b.spec.hostedZoneId, "Z123");
  EXPECT_EQ(std::get<AutoScalingGroupSource>(b.spec.source).name, "web");
  EXPECT_EQ(b.spec.record.nameFrom, "tag:Name");
  EXPECT_EQ(b.spec.record.type, RecordType::kA);
  EXPECT_EQ(b.spec.record.ttl, 60);
  EXPECT_EQ(b.spec.policy.deregistrationGracePeriod, minutes(3));
  EXPECT_TRUE(b.spec.policy.prune);
  EXPECT_FALSE(b.spec.reverseHostedZoneId.has_value());
  EXPECT_EQ(b.spec.policy.minRecords, 1);
  EXPECT_EQ(b.spec.policy.maxDeletionsPerSync.toString(), "50%");
  EXPECT_EQ(b.spec.policy.deletionPolicy, DeletionPolicy::kRetain);
  EXPECT_THAT(b.generation, testing::MatchesRegex("[0-9a-f]{16}"));
}

TEST(DecodeManifests, ReadsDnsRecordBindingReverseZoneAndSafetyFields) {
  const ManifestSet set = decodeManifests(R"(apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {name: names}
spec:
  hostedZoneId: Z123
  reverseHostedZoneId: Z0REVERSE10
  source: {ec2: {filters: [{name: "tag:dns", values: ["true"]}]}}
  policy: {minRecords: 0, maxDeletionsPerSync: 3, deletionPolicy: Delete}
---
apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {name: percent}
spec:
  hostedZoneId: Z124
  source: {ec2: {filters: [{name: "tag:dns", values: ["true"]}]}}
  policy: {minRecords: 5, maxDeletionsPerSync: "10%", deletionPolicy: Retain}
)",
                                          "r.yaml");
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  ASSERT_EQ(set.dnsRecordBindings.size(), 2u);
  const DnsRecordBindingSpec& a = set.dnsRecordBindings[0].spec;
  EXPECT_EQ(a.reverseHostedZoneId, std::optional<std::string>("Z0REVERSE10"));
  EXPECT_EQ(a.policy.minRecords, 0);
  EXPECT_EQ(a.policy.maxDeletionsPerSync.toString(), "3");
  EXPECT_EQ(a.policy.deletionPolicy, DeletionPolicy::kDeregister);
  const DnsRecordBindingSpec& b = set.dnsRecordBindings[1].spec;
  EXPECT_FALSE(b.reverseHostedZoneId.has_value());
  EXPECT_EQ(b.policy.minRecords, 5);
  EXPECT_EQ(b.policy.maxDeletionsPerSync.toString(), "10%");
  EXPECT_EQ(b.policy.deletionPolicy, DeletionPolicy::kRetain);
}

TEST(DecodeManifests, ReportsBadDnsRecordBindingReverseZoneAndSafetyFields) {
  const ManifestSet set = decodeManifests(R"(apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {name: names}
spec:
  hostedZoneId: Z123
  reverseHostedZoneId: /hostedzone/Z456
  source: {ec2: {filters: [{name: "tag:dns", values: ["true"]}]}}
  policy: {minRecords: -1, maxDeletionsPerSync: "150%", deletionPolicy: Deregister, minTargets: 1}
)",
                                          "bad.yaml");
  EXPECT_TRUE(set.dnsRecordBindings.empty());
  EXPECT_THAT(
      lines(set.errors),
      ElementsAre(HasSubstr("bad.yaml:6:24: spec.reverseHostedZoneId: \"/hostedzone/Z456\" "
                            "is not a hosted zone id"),
                  HasSubstr("bad.yaml:8:24: spec.policy.minRecords: -1 is below the minimum 0"),
                  HasSubstr("bad.yaml:8:49: spec.policy.maxDeletionsPerSync: \"150%\" "
                            "exceeds 100%"),
                  HasSubstr("bad.yaml:8:73: spec.policy.deletionPolicy: \"Deregister\" is not "
                            "one of Retain, Delete"),
                  HasSubstr("bad.yaml:8:85: spec.policy.minTargets: unknown field")));
}

TEST(DecodeManifests, ReportsEveryErrorOfADocumentNotOnlyTheFirst) {
  const ManifestSet set = decodeManifests(R"(apiVersion: endpointbinder.io/v2
kind: TargetGroupBinding
metadata:
  name: Bad_Name
  namespace: -x
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:1:targetgroup/web/0123456789abcdef
  targetType: instance
  port: 0
  availabilityZone: all
  source:
    dns: {hostname: "a..b", lookupsPerRefresh: 99}
  policy: {minTargets: -5, prune: maybe, deletionPolicy: Keep, unknownThing: 1}
status: {}
)",
                                          "bad.yaml");
  EXPECT_TRUE(set.targetGroupBindings.empty());
  EXPECT_THAT(lines(set.errors),
              ElementsAre(HasSubstr("bad.yaml:1:13: apiVersion: unknown apiVersion"),
                          HasSubstr("bad.yaml:4:9: metadata.name:"),
                          HasSubstr("bad.yaml:5:14: metadata.namespace:"),
                          HasSubstr("bad.yaml:7:19: spec.targetGroupARN: account \"1\""),
                          HasSubstr("bad.yaml:9:9: spec.port: 0 is below the minimum 1"),
                          HasSubstr("bad.yaml:10:21: spec.availabilityZone: availabilityZone is "
                                    "only allowed with targetType \"ip\""),
                          HasSubstr("bad.yaml:12:21: spec.source.dns.hostname:"),
                          HasSubstr("bad.yaml:12:48: spec.source.dns.lookupsPerRefresh: 99"),
                          HasSubstr("bad.yaml:13:24: spec.policy.minTargets:"),
                          HasSubstr("bad.yaml:13:35: spec.policy.prune:"),
                          HasSubstr("bad.yaml:13:58: spec.policy.deletionPolicy:"),
                          HasSubstr("bad.yaml:13:64: spec.policy.unknownThing: unknown field"),
                          HasSubstr("bad.yaml:14:1: status: status is written by the controller")));
}

TEST(DecodeManifests, ReturnsGoodDocumentsBesideBadOnes) {
  const std::string good = kMinimal;
  std::string bad = kMinimal;
  bad.replace(bad.find("name: web"), 9, "name: bad");
  bad.replace(bad.find("targetgroup/web/"), 16, "targetgroup/bad/");
  bad += "  port: 70000\n";
  std::string other = good;
  other.replace(other.find("name: web"), 9, "name: other");
  other.replace(other.find("targetgroup/web/"), 16, "targetgroup/other/");
  const ManifestSet set = decodeManifests(good + "---\n" + bad + "---\n" + other, "m.yaml");
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].toString(), "m.yaml:20:9: spec.port: 70000 exceeds the maximum 65535");
  ASSERT_EQ(set.targetGroupBindings.size(), 2u);
  EXPECT_EQ(set.targetGroupBindings[0].metadata.name, "web");
  EXPECT_EQ(set.targetGroupBindings[1].metadata.name, "other");
  EXPECT_EQ(set.targetGroupBindings[1].origin.line, 22);
}

TEST(DecodeManifests, ASyntaxErrorIsOneDiagnosticAtTheParserPosition) {
  const ManifestSet set = decodeManifests(std::string(kMinimal) + "---\nkind: [\n", "s.yaml");
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].line, 12);
  EXPECT_EQ(set.errors[0].path, "");
  EXPECT_THAT(set.errors[0].message, HasSubstr("YAML syntax error: "));
  EXPECT_EQ(set.targetGroupBindings.size(), 1u);  // the complete document before it
}

TEST(DecodeManifests, SkipsEmptyDocumentsAndFiles) {
  for (const char* text : {"", "# nothing here\n", "---\n---\n", "...\n"}) {
    const ManifestSet set = decodeManifests(text, "e.yaml");
    EXPECT_TRUE(set.ok()) << text;
    EXPECT_TRUE(set.targetGroupBindings.empty());
  }
}

TEST(DecodeManifests, PointsAtTheKeyForEmptyValuesAndUnknownFields) {
  const ManifestSet set = decodeManifests(std::string(kMinimal) + "  port:\n  prot: 1\n", "n.yaml");
  EXPECT_THAT(
      lines(set.errors),
      ElementsAre("n.yaml:10:3: spec.port: expected an integer, got null",
                  "n.yaml:11:3: spec.prot: unknown field \"prot\"; did you mean \"port\"?"));
}

TEST(DecodeManifests, RejectsNonStringKeysAndRecursiveAliases) {
  const ManifestSet keys = decodeManifests(std::string(kMinimal) + "  7: x\n", "k.yaml");
  EXPECT_THAT(lines(keys.errors),
              ElementsAre("k.yaml:10:3: spec: keys must be strings, got integer 7"));
  const ManifestSet cyclic = decodeManifests(
      "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\n"
      "metadata: &m {name: *m}\nspec: &s {source: *s}\n",
      "c.yaml");
  EXPECT_FALSE(cyclic.ok());
  EXPECT_TRUE(cyclic.targetGroupBindings.empty());
}

TEST(DecodeManifests, ChecksDuplicatesWithinOneText) {
  std::string second = kMinimal;
  second.replace(second.find("targetgroup/web/"), 16, "targetgroup/two/");
  const ManifestSet names = decodeManifests(std::string(kMinimal) + "---\n" + second, "d.yaml");
  EXPECT_TRUE(names.targetGroupBindings.empty());
  EXPECT_THAT(lines(names.errors),
              ElementsAre("d.yaml:4:9: metadata.name: duplicate TargetGroupBinding "
                          "\"default/web\" (also defined at d.yaml:14:9)",
                          "d.yaml:14:9: metadata.name: duplicate TargetGroupBinding "
                          "\"default/web\" (also defined at d.yaml:4:9)"));
  std::string renamed = kMinimal;
  renamed.replace(renamed.find("name: web"), 9, "name: two");
  const ManifestSet arns = decodeManifests(std::string(kMinimal) + "---\n" + renamed, "t.yaml");
  EXPECT_TRUE(arns.targetGroupBindings.empty());
  ASSERT_EQ(arns.errors.size(), 2u);
  EXPECT_EQ(arns.errors[0].path, "spec.targetGroupARN");
  EXPECT_THAT(arns.errors[0].message,
              HasSubstr("also bound by TargetGroupBinding \"default/two\""));
}

TEST(DecodeManifests, KeepsMessagesBoundedForHugeInputs) {
  // Five copies of one name: each message lists three others and counts the rest.
  std::string text;
  for (int i = 0; i < 5; ++i) {
    std::string copy = kMinimal;
    copy.replace(copy.find("targetgroup/web/"), 16, "targetgroup/w" + std::to_string(i) + "/");
    text += (i ? "---\n" : "") + copy;
  }
  const ManifestSet copies = decodeManifests(text, "c.yaml");
  ASSERT_EQ(copies.errors.size(), 5u);
  EXPECT_EQ(copies.errors[0].message,
            "duplicate TargetGroupBinding \"default/web\" (also defined at c.yaml:14:9, "
            "c.yaml:24:9, c.yaml:34:9 and 1 more)");
  // A number with 200 digits is cut in the message.
  const ManifestSet huge =
      decodeManifests(std::string(kMinimal) + "  port: " + std::string(200, '9') + "\n", "h.yaml");
  ASSERT_EQ(huge.errors.size(), 1u);
  EXPECT_EQ(huge.errors[0].message, std::string(40, '9') + "... exceeds the maximum 65535");
}

// ---- loadManifests over the file system ----

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("eb-api-test-" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

  // Writes a binding named `name` (whose target group is named after it too).
  void binding(const fs::path& relative, const std::string& name) const {
    std::string text = kMinimal;
    text.replace(text.find("name: web"), 9, "name: " + name);
    text.replace(text.find("targetgroup/web/"), 16, "targetgroup/" + name + "/");
    write(relative, text);
  }
  void write(const fs::path& relative, const std::string& text) const {
    fs::create_directories((path_ / relative).parent_path());
    std::ofstream(path_ / relative) << text;
  }

 private:
  fs::path path_;
};

std::vector<std::string> relativeFiles(const ManifestSet& set, const fs::path& root) {
  std::vector<std::string> out;
  for (const std::string& file : set.files) out.push_back(fs::path(file).lexically_relative(root));
  return out;
}

TEST(LoadManifests, WalksDirectoriesRecursivelyInSortedOrderSkippingHiddenEntries) {
  TempDir dir;
  dir.binding("b.yaml", "b");
  dir.binding("a.yml", "a");
  dir.binding("A-upper.yaml", "upper");
  dir.binding("m/c.yaml", "c");
  dir.binding("m/deeper/d.yaml", "d");
  dir.binding("n.yaml", "n");
  dir.binding(".hidden.yaml", "hidden");
  dir.binding(".git/objects.yaml", "git");
  dir.binding("m/.cache/e.yaml", "cache");
  dir.write("notes.txt", "not: yaml");
  dir.write("README.md", "# readme");
  const ManifestSet set = loadManifests({dir.path()});
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  EXPECT_THAT(relativeFiles(set, dir.path()), ElementsAre("A-upper.yaml", "a.yml", "b.yaml",
                                                          "m/c.yaml", "m/deeper/d.yaml", "n.yaml"));
  std::vector<std::string> names;
  for (const auto& b : set.targetGroupBindings) names.push_back(b.metadata.name);
  EXPECT_THAT(names, ElementsAre("upper", "a", "b", "c", "d", "n"));
}

TEST(ManifestTreeFingerprint, ChangesWithWhatLoadManifestsWouldReadAndOnlyThen) {
  TempDir dir;
  dir.binding("releases/v1/a.yaml", "a");
  dir.binding("releases/v2/a.yaml", "a2");
  fs::create_directory_symlink(dir.path() / "releases/v1", dir.path() / "current");
  const std::vector<fs::path> paths{dir.path() / "current"};
  const uint64_t first = manifestTreeFingerprint(paths);
  EXPECT_EQ(manifestTreeFingerprint(paths), first) << "stable while nothing changes";

  dir.write("current/notes.txt", "not a manifest");
  dir.write("current/.hidden.yaml", "ignored");
  EXPECT_EQ(manifestTreeFingerprint(paths), first) << "files loadManifests skips do not count";

  dir.binding("current/b.yaml", "b");
  const uint64_t added = manifestTreeFingerprint(paths);
  EXPECT_NE(added, first) << "a file added";

  dir.write("current/b.yaml", "apiVersion: x\n");  // rewritten: size and mtime move
  const uint64_t edited = manifestTreeFingerprint(paths);
  EXPECT_NE(edited, added) << "a file edited";

  // git-sync publishes a revision by swapping the symlink.
  fs::remove(dir.path() / "current");
  fs::create_directory_symlink(dir.path() / "releases/v2", dir.path() / "current");
  EXPECT_NE(manifestTreeFingerprint(paths), edited) << "the symlinked directory swapped";

  fs::remove(dir.path() / "current");
  EXPECT_NE(manifestTreeFingerprint(paths), manifestTreeFingerprint({dir.path() / "releases/v2"}))
      << "an unreadable path counts too";
}

TEST(LoadManifests, ReadsExplicitFilesOnceAndSurvivesSymlinkCycles) {
  TempDir dir;
  dir.binding("one.yaml", "one");
  dir.binding("sub/two.yaml", "two");
  dir.binding(".explicit-hidden.yaml", "hidden");
  fs::create_directory_symlink(dir.path(), dir.path() / "sub/loop");
  const ManifestSet set =
      loadManifests({dir.path(), dir.path() / "one.yaml", dir.path() / ".explicit-hidden.yaml"});
  ASSERT_TRUE(set.ok()) << testing::PrintToString(lines(set.errors));
  EXPECT_THAT(relativeFiles(set, dir.path()),
              ElementsAre("one.yaml", "sub/two.yaml", ".explicit-hidden.yaml"));
}

TEST(LoadManifests, ReportsMissingPathsAndOversizedFilesAndKeepsGoing) {
  TempDir dir;
  dir.binding("ok.yaml", "ok");
  dir.write("huge.yaml", std::string(16 * 1024 * 1024 + 1, '#'));
  const fs::path missing = dir.path() / "missing.yaml";
  const ManifestSet set = loadManifests({missing, dir.path()});
  EXPECT_EQ(set.targetGroupBindings.size(), 1u);
  EXPECT_THAT(lines(set.errors),
              ElementsAre(missing.string() + ": cannot read: No such file or directory",
                          (dir.path() / "huge.yaml").string() +
                              ": file is larger than 16 MiB; not a manifest"));
}

TEST(LoadManifests, ChecksDuplicatesAcrossFilesAndOrdersDiagnosticsByFile) {
  TempDir dir;
  dir.binding("a.yaml", "same");
  dir.binding("b.yaml", "same");
  dir.write("c.yaml", "kind: [\n");
  const ManifestSet set = loadManifests({dir.path()});
  EXPECT_TRUE(set.targetGroupBindings.empty());
  const std::string a = (dir.path() / "a.yaml").string();
  const std::string b = (dir.path() / "b.yaml").string();
  const std::string c = (dir.path() / "c.yaml").string();
  // Two bindings named default/same share target group "same" as well: both rules fire.
  ASSERT_EQ(set.errors.size(), 5u);
  EXPECT_EQ(set.errors[0].file, a);
  EXPECT_EQ(set.errors[0].path, "metadata.name");
  EXPECT_EQ(set.errors[0].message,
            "duplicate TargetGroupBinding \"default/same\" (also defined at " + b + ":4:9)");
  EXPECT_EQ(set.errors[1].file, a);
  EXPECT_EQ(set.errors[1].path, "spec.targetGroupARN");
  EXPECT_EQ(set.errors[2].file, b);
  EXPECT_EQ(set.errors[3].file, b);
  EXPECT_EQ(set.errors[4].file, c);
}

}  // namespace
}  // namespace endpointbinder::api
