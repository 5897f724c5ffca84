// Generations: stable under formatting, key order, comments and spelling of equal values;
// different whenever any spec field changes.
#include "api/generation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "api/decode.h"

namespace endpointbinder::api {
namespace {

using testing::MatchesRegex;

TEST(Fnv1a64, MatchesThePublishedTestVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TargetGroupBinding decodeOne(const std::string& text) {
  ManifestSet set = decodeManifests(text, "g.yaml");
  for (const Diagnostic& d : set.errors) ADD_FAILURE() << d.toString();
  if (set.targetGroupBindings.size() != 1) {
    ADD_FAILURE() << "expected one TargetGroupBinding";
    return {};
  }
  return set.targetGroupBindings[0];
}

DnsRecordBinding decodeRecordBinding(const std::string& text) {
  ManifestSet set = decodeManifests(text, "g.yaml");
  for (const Diagnostic& d : set.errors) ADD_FAILURE() << d.toString();
  if (set.dnsRecordBindings.size() != 1) {
    ADD_FAILURE() << "expected one DNSRecordBinding";
    return {};
  }
  return set.dnsRecordBindings[0];
}

constexpr const char* kBlock = R"(# a comment
apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata:
  name: web
  labels: {team: a}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef
  port: 443
  source:
    dns:
      hostname: web.example.com   # trailing comment
      lookupsPerRefresh: 2
  policy:
    deregistrationGracePeriod: 3m
    maxDeregistrationsPerSync: 50%
)";

// The same spec: flow style, other key order, quoting, explicit defaults, other spellings of
// equal durations, hostname case and trailing dot, other metadata.
constexpr const char* kFlow =
    R"({"kind": "TargetGroupBinding", "apiVersion": "endpointbinder.io/v1alpha1",
 "spec": {"policy": {"maxDeregistrationsPerSync": "50%", "deregistrationGracePeriod": "180s",
                     "unhealthyGracePeriod": "0ms", "prune": true, "minTargets": 1,
                     "allowedCIDRs": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
                     "deletionPolicy": "Retain"},
          "source": {"dns": {"lookupsPerRefresh": 2, "hostname": "WEB.Example.COM.",
                             "addressFamilies": ["IPv4"], "minRefreshInterval": "5000ms",
                             "maxRefreshInterval": "1m"}},
          "targetType": "ip", "port": 443, "notifications": [],
          "targetGroupARN": "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef"},
 "metadata": {"name": "other", "namespace": "elsewhere", "labels": {"team": "b"}}})";

TEST(SpecGeneration, IgnoresFormattingKeyOrderCommentsSpellingAndMetadata) {
  const TargetGroupBinding block = decodeOne(kBlock);
  const TargetGroupBinding flow = decodeOne(kFlow);
  EXPECT_THAT(block.generation, MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(block.generation, flow.generation);
  EXPECT_EQ(canonicalSpec(block.spec), canonicalSpec(flow.spec));
  EXPECT_EQ(block.generation, specGeneration(block.spec));
}

TEST(SpecGeneration, IsTheSameForEveryDecodeOfTheSameText) {
  const std::string first = decodeOne(kBlock).generation;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(decodeOne(kBlock).generation, first);
}

// Applies each mutation to a copy of `base` and checks that every result has its own
// generation, different from the base's and from each other's.
template <typename Spec>
void expectEveryMutationChangesTheGeneration(
    const Spec& base,
    const std::vector<std::pair<const char*, std::function<void(Spec&)>>>& mutations) {
  std::set<std::string> seen = {specGeneration(base)};
  for (const auto& [name, mutate] : mutations) {
    Spec copy = base;
    mutate(copy);
    const std::string generation = specGeneration(copy);
    EXPECT_TRUE(seen.insert(generation).second) << name << " did not change the generation";
  }
}

TEST(SpecGeneration, ChangesWhenAnyTargetGroupBindingFieldChanges) {
  TargetGroupBindingSpec base = decodeOne(kBlock).spec;
  base.availabilityZone = "all";
  base.notifications.push_back(
      {std::string("/eb/slack"), std::nullopt, {NotificationEvent::kRegistered}});
  using S = TargetGroupBindingSpec;
  auto dns = [](S& s) -> DnsSource& { return std::get<DnsSource>(s.source); };
  expectEveryMutationChangesTheGeneration<S>(
      base,
      {
          {"targetGroupARN", [](S& s) { s.targetGroupArn.text.back() = '0'; }},
          {"targetType", [](S& s) { s.targetType = TargetType::kInstance; }},
          {"port", [](S& s) { s.port = 444; }},
          {"port unset", [](S& s) { s.port.reset(); }},
          {"availabilityZone", [](S& s) { s.availabilityZone = "ap-northeast-1a"; }},
          {"availabilityZone unset", [](S& s) { s.availabilityZone.reset(); }},
          {"hostname", [&](S& s) { dns(s).hostname = "web2.example.com"; }},
          {"ipv4", [&](S& s) { dns(s).ipv4 = false; }},
          {"ipv6", [&](S& s) { dns(s).ipv6 = true; }},
          {"lookupsPerRefresh", [&](S& s) { dns(s).lookupsPerRefresh = 3; }},
          {"minRefreshInterval",
           [&](S& s) { dns(s).minRefreshInterval = std::chrono::seconds(6); }},
          {"maxRefreshInterval",
           [&](S& s) { dns(s).maxRefreshInterval = std::chrono::seconds(61); }},
          {"source kind", [](S& s) { s.source = StaticSource{{*IpAddress::parse("10.0.0.1")}}; }},
          {"deregistrationGracePeriod",
           [](S& s) { s.policy.deregistrationGracePeriod = std::chrono::minutes(4); }},
          {"unhealthyGracePeriod",
           [](S& s) { s.policy.unhealthyGracePeriod = std::chrono::milliseconds(1); }},
          {"prune", [](S& s) { s.policy.prune = false; }},
          {"minTargets", [](S& s) { s.policy.minTargets = 2; }},
          {"maxDeregistrationsPerSync value",
           [](S& s) { s.policy.maxDeregistrationsPerSync.value = 51; }},
          {"maxDeregistrationsPerSync kind",
           [](S& s) { s.policy.maxDeregistrationsPerSync.isPercent = false; }},
          {"allowedCIDRs element",
           [](S& s) { s.policy.allowedCidrs[0] = *Cidr::parse("10.0.0.0/9"); }},
          {"allowedCIDRs order",
           [](S& s) { std::swap(s.policy.allowedCidrs[0], s.policy.allowedCidrs[1]); }},
          {"allowedCIDRs shorter", [](S& s) { s.policy.allowedCidrs.pop_back(); }},
          {"deletionPolicy", [](S& s) { s.policy.deletionPolicy = DeletionPolicy::kDeregister; }},
          {"notification slack", [](S& s) { s.notifications[0].slackWebhookSsmParameter = "/x"; }},
          {"notification sns",
           [](S& s) {
             s.notifications[0].slackWebhookSsmParameter.reset();
             s.notifications[0].snsTopicArn = "arn:aws:sns:ap-northeast-1:123456789012:t";
           }},
          {"notification on",
           [](S& s) { s.notifications[0].on.push_back(NotificationEvent::kFailing); }},
          {"notifications removed", [](S& s) { s.notifications.clear(); }},
      });
}

TEST(SpecGeneration, ChangesWhenAnyInstanceSourceFieldChanges) {
  TargetGroupBindingSpec base = decodeOne(kBlock).spec;
  Ec2Source ec2;
  ec2.filters = {{"tag:role", {"web"}}};
  base.source = ec2;
  using S = TargetGroupBindingSpec;
  auto e = [](S& s) -> Ec2Source& { return std::get<Ec2Source>(s.source); };
  expectEveryMutationChangesTheGeneration<S>(
      base, {
                {"filter name", [&](S& s) { e(s).filters[0].name = "tag:app"; }},
                {"filter value", [&](S& s) { e(s).filters[0].values[0] = "api"; }},
                {"filter values added", [&](S& s) { e(s).filters[0].values.push_back("x"); }},
                {"filters added",
                 [&](S& s) {
                   e(s).filters.push_back({"vpc-id", {"vpc-1"}});
                 }},
                {"states",
                 [&](S& s) {
                   e(s).states = {"pending", "running"};
                 }},
                {"values split across filters",
                 [&](S& s) {
                   e(s).filters[0].values.push_back("x");
                   e(s).filters.push_back({"", {}});
                 }},
                {"spot fleet", [](S& s) { s.source = SpotFleetSource{"sfr-1"}; }},
                {"auto scaling group", [](S& s) { s.source = AutoScalingGroupSource{"sfr-1"}; }},
                {"static", [](S& s) { s.source = StaticSource{{*IpAddress::parse("fd00::1")}}; }},
            });
}

TEST(SpecGeneration, ChangesWhenAnyDnsRecordBindingFieldChanges) {
  const DnsRecordBinding binding = decodeRecordBinding(R"(apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {name: names}
spec:
  hostedZoneId: Z123
  source: {autoScalingGroup: {name: web}}
)");
  EXPECT_THAT(binding.generation, MatchesRegex("[0-9a-f]{16}"));
  // Defaults written out give the same generation as defaults left out.
  const DnsRecordBinding explicitDefaults =
      decodeRecordBinding(R"(apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {name: names}
spec:
  policy: {prune: true, deregistrationGracePeriod: 180000ms}
  record: {ttl: 60, type: A, nameFrom: "tag:Name"}
  source: {autoScalingGroup: {name: web}}
  hostedZoneId: Z123
)");
  EXPECT_EQ(binding.generation, explicitDefaults.generation);
  using S = DnsRecordBindingSpec;
  expectEveryMutationChangesTheGeneration<S>(
      binding.spec,
      {
          {"hostedZoneId", [](S& s) { s.hostedZoneId = "Z124"; }},
          {"source", [](S& s) { s.source = AutoScalingGroupSource{"api"}; }},
          {"nameFrom", [](S& s) { s.record.nameFrom = "instance-id"; }},
          {"type", [](S& s) { s.record.type = RecordType::kAAAA; }},
          {"ttl", [](S& s) { s.record.ttl = 61; }},
          {"deregistrationGracePeriod",
           [](S& s) { s.policy.deregistrationGracePeriod = std::chrono::minutes(2); }},
          {"prune", [](S& s) { s.policy.prune = false; }},
      });
}

TEST(SpecGeneration, DiffersBetweenKindsWithTheSameSource) {
  TargetGroupBindingSpec target;
  target.source = AutoScalingGroupSource{"web"};
  DnsRecordBindingSpec record;
  record.source = AutoScalingGroupSource{"web"};
  EXPECT_NE(specGeneration(target), specGeneration(record));
}

}  // namespace
}  // namespace endpointbinder::api
