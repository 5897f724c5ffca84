// Tests for core/instance.h: EC2's filter wildcards and filter names evaluated locally exactly
// as DescribeInstances evaluates them, and the Auto Scaling lifecycle mapping.
#include "controller/core/instance.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace endpointbinder::core {
namespace {

struct WildcardCase {
  const char* pattern;
  const char* text;
  bool match;
};

class Ec2Wildcard : public testing::TestWithParam<WildcardCase> {};

TEST_P(Ec2Wildcard, MatchesAsEc2Does) {
  const auto& c = GetParam();
  EXPECT_EQ(ec2WildcardMatch(c.pattern, c.text), c.match)
      << "pattern '" << c.pattern << "' text '" << c.text << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Table, Ec2Wildcard,
    testing::Values(WildcardCase{"web", "web", true}, WildcardCase{"web", "web2", false},
                    WildcardCase{"web", "Web", false},  // case-sensitive
                    WildcardCase{"web*", "web", true}, WildcardCase{"web*", "web-canary", true},
                    WildcardCase{"*canary", "web-canary", true},
                    WildcardCase{"*canary", "canary-web", false}, WildcardCase{"w?b", "web", true},
                    WildcardCase{"w?b", "wb", false}, WildcardCase{"w?b", "weeb", false},
                    WildcardCase{"*", "", true}, WildcardCase{"?", "", false},
                    WildcardCase{"", "", true}, WildcardCase{"", "x", false},
                    WildcardCase{"a*b*c", "aXXbYYc", true}, WildcardCase{"a*b*c", "aXXbYY", false},
                    WildcardCase{"*a*", "bab", true}, WildcardCase{"**", "anything", true},
                    // Backslash escapes: \* and \? are literal, \\ is a backslash.
                    WildcardCase{"\\*amazon\\?\\\\", "*amazon?\\", true},
                    WildcardCase{"\\*amazon", "Xamazon", false}, WildcardCase{"a\\?", "ab", false},
                    WildcardCase{"a\\?", "a?", true}, WildcardCase{"trail\\", "trail\\", true},
                    // Backtracking over many stars stays correct.
                    WildcardCase{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
                    WildcardCase{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaab", true}));

Instance web() {
  Instance i;
  i.id = "i-0123456789abcdef0";
  i.state = "running";
  i.instanceType = "c5.large";
  i.vpcId = "vpc-0a1b2c3d4e5f67890";
  i.subnetId = "subnet-1";
  i.availabilityZone = "ap-northeast-1a";
  i.imageId = "ami-1";
  i.privateIpAddress = "10.0.1.5";
  i.lifecycle = "spot";
  i.tags = {{"role", "web"}, {"env", "prod"}, {"Name", "web-1"}};
  return i;
}

api::Ec2Filter filter(std::string name, std::vector<std::string> values) {
  return api::Ec2Filter{std::move(name), std::move(values)};
}

TEST(Ec2Filter, EvaluatedLocallyOnlyForKnownNames) {
  for (const char* name : {"tag:role", "tag-key", "tag-value", "vpc-id", "subnet-id",
                           "instance-type", "instance-id", "availability-zone", "image-id",
                           "private-ip-address", "instance-lifecycle", "instance-state-name"}) {
    EXPECT_TRUE(ec2FilterEvaluatedLocally(name)) << name;
  }
  for (const char* name : {"tag:", "network-interface.addresses.private-ip-address",
                           "iam-instance-profile.arn", "launch-time", "Tag:role"}) {
    EXPECT_FALSE(ec2FilterEvaluatedLocally(name)) << name;
  }
  EXPECT_TRUE(ec2FiltersEvaluatedLocally({filter("tag:role", {"web"}), filter("vpc-id", {"x"})}));
  EXPECT_FALSE(
      ec2FiltersEvaluatedLocally({filter("tag:role", {"web"}), filter("launch-time", {})}));
}

TEST(Ec2Filter, TagFiltersCompareTheKeyExactlyAndTheValueWithWildcards) {
  const auto i = web();
  EXPECT_TRUE(ec2FilterMatches(filter("tag:role", {"web"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("tag:role", {"api", "w*"}), i)) << "any value matches";
  EXPECT_FALSE(ec2FilterMatches(filter("tag:role", {"api"}), i));
  EXPECT_FALSE(ec2FilterMatches(filter("tag:Role", {"web"}), i)) << "keys are case-sensitive";
  EXPECT_FALSE(ec2FilterMatches(filter("tag:rol*", {"web"}), i)) << "no wildcard in the key";
  EXPECT_FALSE(ec2FilterMatches(filter("tag:missing", {"*"}), i)) << "no such tag";
  EXPECT_TRUE(ec2FilterMatches(filter("tag-key", {"env"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("tag-key", {"N*"}), i));
  EXPECT_FALSE(ec2FilterMatches(filter("tag-key", {"prod"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("tag-value", {"prod"}), i));
  EXPECT_FALSE(ec2FilterMatches(filter("tag-value", {"env"}), i));
}

TEST(Ec2Filter, FieldFilters) {
  auto i = web();
  EXPECT_TRUE(ec2FilterMatches(filter("vpc-id", {"vpc-0a1b2c3d4e5f67890"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("subnet-id", {"subnet-?"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("instance-type", {"c5.*"}), i));
  EXPECT_FALSE(ec2FilterMatches(filter("instance-type", {"m5.*"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("instance-id", {i.id}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("availability-zone", {"ap-northeast-1a"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("image-id", {"ami-1"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("private-ip-address", {"10.0.1.*"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("instance-lifecycle", {"spot"}), i));
  EXPECT_TRUE(ec2FilterMatches(filter("instance-state-name", {"running"}), i));
  i.lifecycle.clear();  // on-demand: EC2 reports no lifecycle, so no value matches
  EXPECT_FALSE(ec2FilterMatches(filter("instance-lifecycle", {"*"}), i));
  i.privateIpAddress.clear();
  EXPECT_FALSE(ec2FilterMatches(filter("private-ip-address", {"*"}), i));
}

TEST(Ec2Filter, SourceNeedsEveryFilterAndAState) {
  const auto i = web();
  const std::vector<api::Ec2Filter> filters = {filter("tag:role", {"web", "web-canary"}),
                                               filter("vpc-id", {"vpc-0a1b2c3d4e5f67890"})};
  EXPECT_TRUE(ec2SourceMatches(filters, {"running"}, i));
  EXPECT_FALSE(ec2SourceMatches(filters, {"stopped"}, i)) << "state not asked for";
  EXPECT_TRUE(ec2SourceMatches(filters, {"pending", "running"}, i));
  auto other = filters;
  other.push_back(filter("instance-type", {"m5.large"}));
  EXPECT_FALSE(ec2SourceMatches(other, {"running"}, i)) << "filters are ANDed";
}

// The index gives exactly what matching every instance gives, for literal, wildcard and
// non-tag filters over a random listing.
TEST(InstanceIndex, AgreesWithAFullScan) {
  std::mt19937 rng(7);
  std::vector<Instance> listing;
  const std::vector<std::string> roles = {"web", "api", "web-canary", "db", "w*b"};
  for (int i = 0; i < 400; ++i) {
    Instance inst = web();
    inst.id = "i-" + std::to_string(100000 + i);
    inst.tags.clear();
    if (rng() % 5) inst.tags["role"] = roles[rng() % roles.size()];
    if (rng() % 2) inst.tags["env"] = rng() % 2 ? "prod" : "dev";
    inst.state = rng() % 4 ? "running" : "stopped";
    inst.instanceType = rng() % 2 ? "c5.large" : "m5.large";
    listing.push_back(inst);
  }
  const InstanceIndex index(listing);
  const std::vector<std::vector<api::Ec2Filter>> sources = {
      {filter("tag:role", {"web"})},
      {filter("tag:role", {"web", "api"}), filter("tag:env", {"prod"})},
      {filter("tag:role", {"w*"})},             // wildcard: full scan
      {filter("tag:role", {"w\\*b"})},          // escaped: full scan, literal match
      {filter("instance-type", {"c5.large"})},  // no tag filter: full scan
      {filter("tag:env", {"dev"}), filter("tag:role", {"db*"})},
      {filter("tag:missing", {"x"})},
  };
  for (size_t s = 0; s < sources.size(); ++s) {
    for (const auto& states :
         {std::vector<std::string>{"running"}, std::vector<std::string>{"running", "stopped"}}) {
      std::vector<std::string> scan;
      for (const auto& inst : listing) {
        if (ec2SourceMatches(sources[s], states, inst)) scan.push_back(inst.id);
      }
      std::vector<std::string> indexed;
      for (const auto* inst : index.matching(sources[s], states)) indexed.push_back(inst->id);
      EXPECT_EQ(indexed, scan) << "source " << s;
    }
  }
}

TEST(AsgMembership, LifecycleStates) {
  EXPECT_EQ(asgMembership("InService"), AsgMembership::kListed);
  for (const char* s : {"Pending", "Pending:Wait", "Pending:Proceed", "Quarantined", "Standby",
                        "EnteringStandby", "Detaching", "Detached", "Warmed:Running",
                        "Warmed:Terminating", "Warmed:Terminated", "SomethingNew"}) {
    EXPECT_EQ(asgMembership(s), AsgMembership::kNotListed) << s;
  }
  for (const char* s : {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}) {
    EXPECT_EQ(asgMembership(s), AsgMembership::kLeaving) << s;
  }
}

}  // namespace
}  // namespace endpointbinder::core
