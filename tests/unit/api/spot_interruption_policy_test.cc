// policy.deregisterOnSpotInterruption: decoded with its per-source default (on for spotFleet,
// off for ec2 and autoScalingGroup), refused for dns and static sources, left out of the
// generation when it is the default (existing generations stay), and shown in the spec JSON.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/decode.h"
#include "api/generation.h"
#include "api/spec_json.h"

namespace endpointbinder::api {
namespace {

using testing::HasSubstr;

std::string manifest(const std::string& source, const std::string& policy = "") {
  return "apiVersion: endpointbinder.io/v1alpha1\n"
         "kind: TargetGroupBinding\n"
         "metadata:\n"
         "  name: web\n"
         "spec:\n"
         "  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
         "targetgroup/web/0123456789abcdef\n"
         "  targetType: instance\n"
         "  source:\n" +
         source + (policy.empty() ? "" : "  policy:\n" + policy);
}

const std::string kFleet =
    "    spotFleet:\n      requestId: sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a\n";
const std::string kGroup = "    autoScalingGroup:\n      name: web-asg\n";
const std::string kEc2 = "    ec2:\n      filters: [{name: \"tag:role\", values: [web]}]\n";

TargetGroupBinding decodeOne(const std::string& text) {
  ManifestSet set = decodeManifests(text, "p.yaml");
  for (const Diagnostic& d : set.errors) ADD_FAILURE() << d.toString();
  if (set.targetGroupBindings.size() != 1) return {};
  return set.targetGroupBindings[0];
}

TEST(SpotInterruptionPolicy, DefaultsPerSourceKind) {
  EXPECT_TRUE(deregistersOnSpotInterruption(decodeOne(manifest(kFleet)).spec));
  EXPECT_FALSE(deregistersOnSpotInterruption(decodeOne(manifest(kGroup)).spec));
  EXPECT_FALSE(deregistersOnSpotInterruption(decodeOne(manifest(kEc2)).spec));
  EXPECT_EQ(decodeOne(manifest(kFleet)).spec.policy.deregisterOnSpotInterruption, std::nullopt);
}

TEST(SpotInterruptionPolicy, ExplicitValuesWin) {
  EXPECT_FALSE(deregistersOnSpotInterruption(
      decodeOne(manifest(kFleet, "    deregisterOnSpotInterruption: false\n")).spec));
  EXPECT_TRUE(deregistersOnSpotInterruption(
      decodeOne(manifest(kEc2, "    deregisterOnSpotInterruption: true\n")).spec));
}

TEST(SpotInterruptionPolicy, RefusedForDnsAndStaticSourcesAndNonBooleans) {
  const std::string dns =
      "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata:\n  name: web\n"
      "spec:\n  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
      "targetgroup/web/0123456789abcdef\n  source:\n    dns:\n      hostname: web.example.com\n"
      "  policy:\n    deregisterOnSpotInterruption: true\n";
  ManifestSet set = decodeManifests(dns, "p.yaml");
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_THAT(set.errors[0].toString(),
              HasSubstr("spec.policy.deregisterOnSpotInterruption: deregisterOnSpotInterruption "
                        "is only for ec2, spotFleet and autoScalingGroup sources, not dns"));
  EXPECT_EQ(set.errors[0].line, 11);

  set =
      decodeManifests(manifest(kFleet, "    deregisterOnSpotInterruption: sometimes\n"), "p.yaml");
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_THAT(set.errors[0].toString(), HasSubstr("deregisterOnSpotInterruption"));
}

TEST(SpotInterruptionPolicy, GenerationChangesOnlyWhenTheEffectiveValueDiffersFromTheDefault) {
  const auto base = decodeOne(manifest(kFleet)).generation;
  EXPECT_EQ(decodeOne(manifest(kFleet, "    deregisterOnSpotInterruption: true\n")).generation,
            base)
      << "writing the default changes nothing";
  EXPECT_NE(decodeOne(manifest(kFleet, "    deregisterOnSpotInterruption: false\n")).generation,
            base);
  const auto group = decodeOne(manifest(kGroup)).generation;
  EXPECT_EQ(decodeOne(manifest(kGroup, "    deregisterOnSpotInterruption: false\n")).generation,
            group);
  EXPECT_NE(decodeOne(manifest(kGroup, "    deregisterOnSpotInterruption: true\n")).generation,
            group);
}

TEST(SpotInterruptionPolicy, SpecJsonShowsTheEffectiveValueForInstanceSources) {
  EXPECT_THAT(specToJson(decodeOne(manifest(kFleet)).spec),
              HasSubstr("\"deregisterOnSpotInterruption\":true"));
  EXPECT_THAT(specToJson(decodeOne(manifest(kGroup)).spec),
              HasSubstr("\"deregisterOnSpotInterruption\":false"));
}

}  // namespace
}  // namespace endpointbinder::api
