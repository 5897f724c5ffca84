// renderMetricsText's direct text of the per-binding families (TextCollectable) against the old
// path it replaced: Collect() on every collectable, then prometheus::TextSerializer. The two must
// be byte-identical: family order, HELP/TYPE lines, label order, label-value escaping, number
// formatting (NaN, infinities, %.16g), histograms of the registry.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "controller/runtime/metrics.h"

namespace endpointbinder::runtime {
namespace {

// What /metrics served before the direct text: every family collected, then serialized.
std::string serializedByPrometheus(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : collectables) {
    for (auto& family : collectable->Collect()) families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

// Values whose text differs between the usual double formats: shortest round trip ("0.1+0.2"
// would be 0.30000000000000004), fixed, and printf's %.16g that prometheus-cpp 1.0 uses.
const std::vector<double> kAwkwardValues = {
    0.1 + 0.2,
    1.0 / 3,
    1e15,
    1e16,
    123456789012345678.0,
    1.7e9 + 0.25,
    1e-7,
    2.5e-5,
    -0.0,
    -42.5,
    5e-324,
    std::numeric_limits<double>::max(),
    std::numeric_limits<double>::quiet_NaN(),
    std::numeric_limits<double>::infinity(),
    -std::numeric_limits<double>::infinity(),
};

// Names a binding could never have in Kubernetes, but a manifest file could: every character the
// text format escapes, and UTF-8.
const std::vector<std::string> kAwkwardNames = {
    "quote\"d", "back\\slash", "new\nline", "all\\\"\n\\n", "caf\xc3\xa9", "", "x",
};

void populate(ControllerMetrics& metrics, int bindings) {
  for (int i = 0; i < bindings; ++i) {
    const std::string ns = i % 3 == 0 ? "default" : "team-" + std::to_string(i % 7);
    std::string name = "binding-" + std::to_string(i);
    if (i < static_cast<int>(kAwkwardNames.size())) name = kAwkwardNames[i];
    const std::string namespaceName = i == 1 ? "ns\"\\\n" : ns;
    // Bindings in every state: only registered, reconciled, synced, in conflict, forgotten.
    metrics.registerBinding(namespaceName, name);
    if (i % 5 == 1) continue;
    metrics.reconcileFinished(namespaceName, name,
                              i % 4 == 0 ? ReconcileOutcome::kError : ReconcileOutcome::kSuccess,
                              std::chrono::milliseconds(i));
    if (i % 5 == 2) continue;
    TargetCounts counts{i % 9, i % 8, i % 7, 1, 0, i % 2, i % 3, 0};
    metrics.setTargets(namespaceName, name, counts);
    metrics.setDrift(namespaceName, name, i % 3, i % 4);
    metrics.planOperations(namespaceName, name, PlanOperation::kRegister, i);
    metrics.setHeldOperations(namespaceName, name, {{"MinTargets", i % 2}, {"Grace\"Period", 2}});
    metrics.setLastSuccessfulSync(
        namespaceName, name,
        kAwkwardValues[static_cast<std::size_t>(i / 5) % kAwkwardValues.size()]);
    metrics.setCondition(namespaceName, name, "Ready",
                         i % 2 == 0 ? ConditionStatus::kTrue : ConditionStatus::kFalse);
    metrics.setCondition(namespaceName, name, "Synced", ConditionStatus::kUnknown);
    if (i % 5 == 3) metrics.recordConflict(namespaceName, name);
    if (i % 11 == 4) metrics.forgetBinding(namespaceName, name);
  }
}

TEST(MetricsTextTest, PerBindingTextIsByteIdenticalToTextSerializerOverCollect) {
  auto registry = std::make_shared<prometheus::Registry>();
  ControllerMetrics metrics(registry, {"1.2.3", "abc\"1234"});
  populate(metrics, 400);
  // Registry families too (histograms, counters with labels): they still go through Collect().
  metrics.awsRequest("elasticloadbalancing", "DescribeTargetHealth", aws::CallOutcome::kSuccess,
                     std::chrono::milliseconds(40));
  metrics.sourceLookup("dns", LookupOutcome::kTimeout, std::chrono::seconds(2));
  const auto collectables = metrics.collectables();

  const auto expected = serializedByPrometheus(collectables);
  const auto actual = renderMetricsText(collectables);
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_EQ(actual, expected);
  // The awkward cases really are in there (escaped as the format says).
  EXPECT_NE(actual.find("name=\"all\\\\\\\"\\n\\\\n\",namespace=\"default\""), std::string::npos);
  EXPECT_NE(actual.find("namespace=\"ns\\\"\\\\\\n\""), std::string::npos);
  EXPECT_NE(actual.find(" Nan\n"), std::string::npos);
  EXPECT_NE(actual.find(" -Inf\n"), std::string::npos);
  EXPECT_NE(actual.find(" 0.3\n"), std::string::npos);
}

TEST(MetricsTextTest, EveryValueFormatsLikeTextSerializer) {
  // One binding per value, so each shows as its last-sync gauge.
  ControllerMetrics metrics(std::make_shared<prometheus::Registry>());
  for (std::size_t i = 0; i < kAwkwardValues.size(); ++i) {
    metrics.setLastSuccessfulSync("ns", "b" + std::to_string(i), kAwkwardValues[i]);
  }
  const auto collectables = metrics.collectables();
  EXPECT_EQ(renderMetricsText(collectables), serializedByPrometheus(collectables));
}

TEST(MetricsTextTest, NoBindingsMeansNoPerBindingFamilies) {
  ControllerMetrics metrics(std::make_shared<prometheus::Registry>());
  const auto collectables = metrics.collectables();
  const auto text = renderMetricsText(collectables);
  EXPECT_EQ(text, serializedByPrometheus(collectables));
  EXPECT_EQ(text.find("endpointbinder_reconcile_total"), std::string::npos);
}

TEST(MetricsTextTest, TextSizeIsWhatAppendTextAppends) {
  ControllerMetrics metrics(std::make_shared<prometheus::Registry>());
  populate(metrics, 50);
  const auto collectables = metrics.collectables();
  ASSERT_EQ(collectables.size(), 2u);
  const auto* direct = dynamic_cast<const TextCollectable*>(collectables[1].get());
  ASSERT_NE(direct, nullptr);
  std::string out = "prefix\n";
  const auto size = direct->textSize();
  direct->appendText(out);
  EXPECT_EQ(out.size(), size + 7);
  EXPECT_EQ(out.substr(7), prometheus::TextSerializer().Serialize(direct->Collect()));
}

TEST(MetricsTextTest, AppendMetricsTextKeepsWhatTheStringHeld) {
  ControllerMetrics metrics(std::make_shared<prometheus::Registry>());
  populate(metrics, 20);
  const auto collectables = metrics.collectables();
  std::string out = "already here\n";
  appendMetricsText(collectables, out);
  EXPECT_EQ(out, "already here\n" + serializedByPrometheus(collectables));
}

}  // namespace
}  // namespace endpointbinder::runtime
