// ControllerMetrics and ProcessCollector: values and label sets as Prometheus sees them (the
// text exposition), pre-registration at zero, forgetBinding, and procfs parsing.
#include "controller/runtime/metrics.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

namespace endpointbinder::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the one sample line that starts with `series` followed by a space.
std::optional<double> sampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

class ControllerMetricsTest : public ::testing::Test {
 protected:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  ControllerMetrics metrics_{registry_, {"1.2.3", "abc1234"}};

  std::string text() const { return renderMetricsText(metrics_.collectables()); }
  std::vector<prometheus::MetricFamily> families() const {
    std::vector<prometheus::MetricFamily> out;
    for (const auto& collectable : metrics_.collectables()) {
      for (auto& family : collectable->Collect()) out.push_back(std::move(family));
    }
    return out;
  }
};

TEST_F(ControllerMetricsTest, GlobalSeriesExistFromTheStart) {
  const auto t = text();
  EXPECT_THAT(t, HasSubstr("endpointbinder_build_info{commit=\"abc1234\",version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_workqueue_depth 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_workqueue_adds_total 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_workqueue_retries_total 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_manifests_loaded 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_manifest_errors 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_reconcile_duration_seconds_count 0\n"));
  // No binding has been seen: no per-binding series yet.
  EXPECT_THAT(t, Not(HasSubstr("endpointbinder_reconcile_total{")));
}

TEST_F(ControllerMetricsTest, EveryFamilyHasHelpAndTheRightSuffix) {
  metrics_.registerBinding("prod", "web");
  metrics_.setTargets("prod", "web", TargetCounts{});
  metrics_.setCondition("prod", "web", "Ready", ConditionStatus::kTrue);
  metrics_.heldOperations("prod", "web", "MinTargets", 1);
  metrics_.setLastSuccessfulSync("prod", "web", 1.0);
  metrics_.sourceLookup("dns", LookupOutcome::kSuccess, std::chrono::milliseconds(3));
  metrics_.awsRequest("elasticloadbalancing", "RegisterTargets", aws::CallOutcome::kSuccess,
                      std::chrono::milliseconds(40));
  metrics_.awsThrottle("RegisterTargets");
  metrics_.awsRetry("RegisterTargets");
  const auto all = families();
  EXPECT_GE(all.size(), 20u);
  for (const auto& family : all) {
    SCOPED_TRACE(family.name);
    EXPECT_TRUE(family.name.starts_with("endpointbinder_"));
    EXPECT_FALSE(family.help.empty());
    EXPECT_FALSE(family.metric.empty());
    EXPECT_EQ(family.name.ends_with("_total"), family.type == prometheus::MetricType::Counter);
  }
}

TEST_F(ControllerMetricsTest, RegisterBindingPreRegistersCountersAtZero) {
  metrics_.registerBinding("prod", "web");
  metrics_.registerBinding("prod", "web");  // idempotent
  const auto t = text();
  for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
    EXPECT_THAT(t, HasSubstr(std::string("endpointbinder_reconcile_total{name=\"web\",namespace="
                                         "\"prod\",result=\"") +
                             result + "\"} 0\n"));
  }
  EXPECT_THAT(t, HasSubstr("endpointbinder_reconcile_errors_total{name=\"web\",namespace=\"prod\"} "
                           "0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_plan_operations_total{name=\"web\",namespace=\"prod\","
                           "operation=\"register\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_plan_operations_total{name=\"web\",namespace=\"prod\","
                           "operation=\"deregister\"} 0\n"));
}

TEST_F(ControllerMetricsTest, ReconcileCountsResultsErrorsAndDuration) {
  metrics_.reconcileFinished("prod", "web", ReconcileOutcome::kSuccess,
                             std::chrono::milliseconds(20));
  metrics_.reconcileFinished("prod", "web", ReconcileOutcome::kError, std::chrono::seconds(3));
  metrics_.reconcileFinished("prod", "web", ReconcileOutcome::kRequeueAfter,
                             std::chrono::milliseconds(7));
  const auto t = text();
  const std::string labels = "name=\"web\",namespace=\"prod\"";
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_total{" + labels + ",result=\"success\"}"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_total{" + labels + ",result=\"error\"}"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_total{" + labels + ",result=\"requeue\"}"), 0);
  EXPECT_EQ(
      sampleValue(t, "endpointbinder_reconcile_total{" + labels + ",result=\"requeue_after\"}"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_errors_total{" + labels + "}"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_count"), 3);
  EXPECT_NEAR(*sampleValue(t, "endpointbinder_reconcile_duration_seconds_sum"), 3.027, 1e-9);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_bucket{le=\"0.01\"}"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_bucket{le=\"0.025\"}"), 2);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_bucket{le=\"2.5\"}"), 2);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_bucket{le=\"5\"}"), 3);
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_bucket{le=\"+Inf\"}"), 3);
}

TEST_F(ControllerMetricsTest, TargetsDriftAndLastSync) {
  TargetCounts counts;
  counts.desired = 4;
  counts.registered = 3;
  counts.healthy = 2;
  counts.unhealthy = 1;
  counts.draining = 1;
  counts.initial = 0;
  counts.missing = 1;
  counts.unexpected = 2;
  metrics_.setTargets("prod", "web", counts);
  metrics_.setLastSuccessfulSync("prod", "web",
                                 core::WallTime(std::chrono::seconds(1'700'000'000)));
  auto t = text();
  const std::string prefix =
      "endpointbinder_binding_targets{name=\"web\",namespace=\"prod\",state=";
  EXPECT_EQ(sampleValue(t, prefix + "\"desired\"}"), 4);
  EXPECT_EQ(sampleValue(t, prefix + "\"registered\"}"), 3);
  EXPECT_EQ(sampleValue(t, prefix + "\"healthy\"}"), 2);
  EXPECT_EQ(sampleValue(t, prefix + "\"unhealthy\"}"), 1);
  EXPECT_EQ(sampleValue(t, prefix + "\"draining\"}"), 1);
  EXPECT_EQ(sampleValue(t, prefix + "\"initial\"}"), 0);
  const std::string drift = "endpointbinder_binding_drift_targets{name=\"web\",namespace=\"prod\",";
  EXPECT_EQ(sampleValue(t, drift + "type=\"missing\"}"), 1);
  EXPECT_EQ(sampleValue(t, drift + "type=\"unexpected\"}"), 2);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_binding_last_successful_sync_timestamp_seconds{name="
                        "\"web\",namespace=\"prod\"}"),
            1'700'000'000);

  metrics_.setDrift("prod", "web", 0, 0);
  t = text();
  EXPECT_EQ(sampleValue(t, drift + "type=\"missing\"}"), 0);
  EXPECT_EQ(sampleValue(t, drift + "type=\"unexpected\"}"), 0);
}

TEST_F(ControllerMetricsTest, ConditionIsOneForTheCurrentStatusOnly) {
  const std::string prefix =
      "endpointbinder_binding_condition{condition=\"Ready\",name=\"web\",namespace=\"prod\","
      "status=";
  metrics_.setCondition("prod", "web", "Ready", ConditionStatus::kTrue);
  auto t = text();
  EXPECT_EQ(sampleValue(t, prefix + "\"true\"}"), 1);
  EXPECT_EQ(sampleValue(t, prefix + "\"false\"}"), 0);
  EXPECT_EQ(sampleValue(t, prefix + "\"unknown\"}"), 0);

  metrics_.setCondition("prod", "web", "Ready", ConditionStatus::kFalse);
  t = text();
  EXPECT_EQ(sampleValue(t, prefix + "\"true\"}"), 0);
  EXPECT_EQ(sampleValue(t, prefix + "\"false\"}"), 1);
  EXPECT_EQ(sampleValue(t, prefix + "\"unknown\"}"), 0);
}

TEST_F(ControllerMetricsTest, ObserveStatusExportsConditionsCountsAndLastSync) {
  BindingStatus status;
  status.ns = "iot";
  status.name = "dash";
  status.counts.desired = 2;
  status.counts.registered = 2;
  status.conditions.push_back({"Ready", ConditionStatus::kTrue, "Converged", "", {}});
  status.conditions.push_back({"SourceResolved", ConditionStatus::kUnknown, "", "", {}});
  status.lastSyncTime = core::WallTime(std::chrono::seconds(1'700'000'100));
  metrics_.observeStatus(status);
  const auto t = text();
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_binding_condition{condition=\"Ready\",name=\"dash\","
                        "namespace=\"iot\",status=\"true\"}"),
            1);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_binding_condition{condition=\"SourceResolved\",name="
                        "\"dash\",namespace=\"iot\",status=\"unknown\"}"),
            1);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_binding_targets{name=\"dash\",namespace=\"iot\",state="
                        "\"registered\"}"),
            2);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_binding_last_successful_sync_timestamp_seconds{name="
                        "\"dash\",namespace=\"iot\"}"),
            1'700'000'100);
}

TEST_F(ControllerMetricsTest, SetHeldOperationsZeroesReasonsThatWentAway) {
  const std::string prefix =
      "endpointbinder_plan_held_operations{name=\"web\",namespace=\"prod\",reason=";
  metrics_.setHeldOperations("prod", "web", {{"WithinGracePeriod", 3}, {"MinTargets", 1}});
  auto t = text();
  EXPECT_EQ(sampleValue(t, prefix + "\"WithinGracePeriod\"}"), 3);
  EXPECT_EQ(sampleValue(t, prefix + "\"MinTargets\"}"), 1);

  metrics_.setHeldOperations("prod", "web", {{"SourceFailing", 2}});
  t = text();
  EXPECT_EQ(sampleValue(t, prefix + "\"WithinGracePeriod\"}"), 0);
  EXPECT_EQ(sampleValue(t, prefix + "\"MinTargets\"}"), 0);
  EXPECT_EQ(sampleValue(t, prefix + "\"SourceFailing\"}"), 2);

  metrics_.heldOperations("prod", "web", "MinTargets", 5);
  EXPECT_EQ(sampleValue(text(), prefix + "\"MinTargets\"}"), 5);
}

core::Plan planWith(int registers, int deregisters, std::vector<core::HoldReason> held) {
  core::Plan plan;
  for (int i = 0; i < registers; ++i)
    plan.toRegister.push_back({"10.0.0." + std::to_string(i), 80, std::nullopt});
  for (int i = 0; i < deregisters; ++i) {
    plan.toDeregister.push_back({"10.0.1." + std::to_string(i), 80, std::nullopt});
  }
  for (auto reason : held) plan.held.push_back({{"10.0.2.1", 80, std::nullopt}, reason, true, ""});
  return plan;
}

TEST_F(ControllerMetricsTest, RecordSyncCountsOnlyAppliedOperations) {
  TargetCounts counts;
  counts.desired = 5;
  counts.missing = 2;
  const auto when = core::WallTime(std::chrono::seconds(1'700'000'000));
  metrics_.recordSync(
      "prod", "web", counts,
      planWith(2, 1,
               {core::HoldReason::kWithinGracePeriod, core::HoldReason::kWithinGracePeriod,
                core::HoldReason::kMinTargets}),
      /*applied=*/true, when);
  metrics_.recordSync("prod", "web", counts, planWith(4, 4, {}), /*applied=*/false, when);
  const auto t = text();
  const std::string labels = "name=\"web\",namespace=\"prod\"";
  EXPECT_EQ(
      sampleValue(t, "endpointbinder_plan_operations_total{" + labels + ",operation=\"register\"}"),
      2);
  EXPECT_EQ(sampleValue(
                t, "endpointbinder_plan_operations_total{" + labels + ",operation=\"deregister\"}"),
            1);
  // The second (empty-held) plan replaced the first one's held counts.
  EXPECT_EQ(sampleValue(t, "endpointbinder_plan_held_operations{" + labels +
                               ",reason=\"WithinGracePeriod\"}"),
            0);
  EXPECT_EQ(sampleValue(t, "endpointbinder_binding_targets{" + labels + ",state=\"desired\"}"), 5);
  EXPECT_EQ(sampleValue(t, "endpointbinder_binding_drift_targets{" + labels + ",type=\"missing\"}"),
            2);
  EXPECT_EQ(sampleValue(
                t, "endpointbinder_binding_last_successful_sync_timestamp_seconds{" + labels + "}"),
            1'700'000'000);
}

TEST_F(ControllerMetricsTest, RecordSyncExportsHeldReasonsByName) {
  metrics_.recordSync(
      "prod", "web", {},
      planWith(0, 0,
               {core::HoldReason::kWithinGracePeriod, core::HoldReason::kWithinGracePeriod,
                core::HoldReason::kMinTargets}),
      true, core::WallTime{});
  const auto t = text();
  const std::string prefix =
      "endpointbinder_plan_held_operations{name=\"web\",namespace=\"prod\",reason=";
  EXPECT_EQ(sampleValue(t, prefix + "\"WithinGracePeriod\"}"), 2);
  EXPECT_EQ(sampleValue(t, prefix + "\"MinTargets\"}"), 1);
}

TEST_F(ControllerMetricsTest, RecordConflictSetsConditions) {
  metrics_.recordConflict("prod", "web");
  const auto t = text();
  const std::string prefix = "endpointbinder_binding_condition{condition=";
  const std::string labels = ",name=\"web\",namespace=\"prod\",status=";
  EXPECT_EQ(sampleValue(t, prefix + "\"Conflict\"" + labels + "\"true\"}"), 1);
  EXPECT_EQ(sampleValue(t, prefix + "\"Synced\"" + labels + "\"false\"}"), 1);
  EXPECT_EQ(sampleValue(t, prefix + "\"Ready\"" + labels + "\"false\"}"), 1);
}

TEST_F(ControllerMetricsTest, ForgetBindingRemovesEveryOneOfItsSeries) {
  for (const char* name : {"web", "api"}) {
    metrics_.reconcileFinished("prod", name, ReconcileOutcome::kSuccess, std::chrono::seconds(1));
    metrics_.setTargets("prod", name, TargetCounts{1, 1, 1, 0, 0, 0, 0, 0});
    metrics_.setCondition("prod", name, "Ready", ConditionStatus::kTrue);
    metrics_.heldOperations("prod", name, "MinTargets", 1);
    metrics_.setLastSuccessfulSync("prod", name, 5.0);
    metrics_.planOperations("prod", name, PlanOperation::kRegister, 1);
  }
  metrics_.forgetBinding("prod", "web");
  auto t = text();
  EXPECT_THAT(t, Not(HasSubstr("name=\"web\"")));
  EXPECT_THAT(t, HasSubstr("endpointbinder_reconcile_total{name=\"api\",namespace=\"prod\","
                           "result=\"success\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_binding_condition{condition=\"Ready\",name=\"api\","
                           "namespace=\"prod\",status=\"true\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_plan_held_operations{name=\"api\",namespace=\"prod\","
                           "reason=\"MinTargets\"} 1\n"));
  // The histogram is not per binding and keeps both observations.
  EXPECT_EQ(sampleValue(t, "endpointbinder_reconcile_duration_seconds_count"), 2);

  metrics_.forgetBinding("prod", "web");       // unknown now: no effect
  metrics_.forgetBinding("other", "nothing");  // never seen: no effect
  metrics_.reconcileFinished("prod", "web", ReconcileOutcome::kError, std::chrono::seconds(1));
  t = text();
  EXPECT_THAT(t, HasSubstr("endpointbinder_reconcile_total{name=\"web\",namespace=\"prod\","
                           "result=\"success\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("endpointbinder_reconcile_total{name=\"web\",namespace=\"prod\","
                           "result=\"error\"} 1\n"));
  EXPECT_THAT(t,
              Not(HasSubstr("endpointbinder_binding_condition{condition=\"Ready\",name=\"web\"")));
}

TEST_F(ControllerMetricsTest, SourceLookups) {
  metrics_.sourceLookup("dns", LookupOutcome::kSuccess, std::chrono::milliseconds(2));
  metrics_.sourceLookup("dns", LookupOutcome::kNotFound, std::chrono::milliseconds(30));
  metrics_.sourceLookup("dns", LookupOutcome::kSuccess, std::chrono::milliseconds(4));
  // Another kind has series of its own (each kind's are found once and kept).
  metrics_.sourceLookup("ec2", LookupOutcome::kError, std::chrono::milliseconds(300));
  const auto t = text();
  EXPECT_EQ(sampleValue(t, "endpointbinder_source_lookups_total{kind=\"ec2\",outcome=\"error\"}"),
            1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_source_lookup_duration_seconds_count{kind=\"ec2\"}"), 1);
  EXPECT_THAT(t, Not(HasSubstr("kind=\"ec2\",outcome=\"success\"")));
  EXPECT_THAT(t, Not(HasSubstr("kind=\"dns\",outcome=\"error\"")));
  EXPECT_EQ(sampleValue(t, "endpointbinder_source_lookups_total{kind=\"dns\",outcome=\"success\"}"),
            2);
  EXPECT_EQ(
      sampleValue(t, "endpointbinder_source_lookups_total{kind=\"dns\",outcome=\"not_found\"}"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_source_lookup_duration_seconds_count{kind=\"dns\"}"), 3);
  EXPECT_EQ(
      sampleValue(
          t, "endpointbinder_source_lookup_duration_seconds_bucket{kind=\"dns\",le=\"0.005\"}"),
      2);
}

TEST_F(ControllerMetricsTest, AwsCallObserverFeedsRequestsThrottlesAndRetries) {
  aws::AwsCallObserver& observer = metrics_;
  aws::AttemptRecord attempt;
  attempt.service = "elasticloadbalancing";
  attempt.operation = "RegisterTargets";
  attempt.outcome = aws::CallOutcome::kThrottled;
  observer.onAttempt(attempt);
  observer.onAttempt(attempt);
  attempt.outcome = aws::CallOutcome::kSuccess;
  observer.onAttempt(attempt);
  aws::CallRecord call;
  call.service = "elasticloadbalancing";
  call.operation = "RegisterTargets";
  call.outcome = aws::CallOutcome::kSuccess;
  call.attempts = 3;
  call.latency = std::chrono::milliseconds(700);
  observer.onCall(call);
  call.operation = "DescribeTargetHealth";
  call.outcome = aws::CallOutcome::kRateLimited;
  call.attempts = 0;
  call.latency = std::chrono::milliseconds(50);
  observer.onCall(call);

  const auto t = text();
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_aws_requests_total{operation=\"RegisterTargets\","
                        "outcome=\"success\",service=\"elasticloadbalancing\"}"),
            1);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_aws_requests_total{operation=\"DescribeTargetHealth\","
                        "outcome=\"rate_limited\",service=\"elasticloadbalancing\"}"),
            1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_aws_throttles_total{operation=\"RegisterTargets\"}"), 2);
  EXPECT_EQ(sampleValue(t, "endpointbinder_aws_retries_total{operation=\"RegisterTargets\"}"), 2);
  EXPECT_THAT(
      t, Not(HasSubstr("endpointbinder_aws_retries_total{operation=\"DescribeTargetHealth\"")));
  EXPECT_NEAR(*sampleValue(t,
                           "endpointbinder_aws_request_duration_seconds_sum{operation="
                           "\"RegisterTargets\",service=\"elasticloadbalancing\"}"),
              0.7, 1e-9);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_aws_request_duration_seconds_bucket{operation="
                        "\"RegisterTargets\",service=\"elasticloadbalancing\",le=\"0.5\"}"),
            0);
  EXPECT_EQ(sampleValue(t,
                        "endpointbinder_aws_request_duration_seconds_bucket{operation="
                        "\"RegisterTargets\",service=\"elasticloadbalancing\",le=\"1\"}"),
            1);
}

TEST_F(ControllerMetricsTest, WorkQueueAndManifests) {
  metrics_.queueAdd();
  metrics_.queueAdd();
  metrics_.queueRetry();
  metrics_.setQueueDepth(4);
  metrics_.setManifests(7, 2);
  auto t = text();
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_adds_total"), 2);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_retries_total"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_depth"), 4);
  EXPECT_EQ(sampleValue(t, "endpointbinder_manifests_loaded"), 7);
  EXPECT_EQ(sampleValue(t, "endpointbinder_manifest_errors"), 2);

  WorkQueueStats stats;
  stats.adds = 10;
  stats.retries = 3;
  stats.depth = 1;
  stats.resyncDepth = 1;
  stats.longestRunningSeconds = 2.5;
  stats.unfinishedWorkSeconds = 4;
  metrics_.observeWorkQueue(stats);
  stats.adds = 15;
  metrics_.observeWorkQueue(stats);
  t = text();
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_adds_total"), 2 + 15);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_retries_total"), 1 + 3);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_depth"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_resync_depth"), 1);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_longest_running_processor_seconds"), 2.5);
  EXPECT_EQ(sampleValue(t, "endpointbinder_workqueue_unfinished_work_seconds"), 4);
  EXPECT_EQ(sampleValue(t, "endpointbinder_resync_skipped_total"), 0);
  metrics_.resyncSkipped(3);
  metrics_.resyncSkipped(2);
  EXPECT_EQ(sampleValue(text(), "endpointbinder_resync_skipped_total"), 5);
}

// forgetBinding() racing with updates of the same binding must neither crash nor leak series
// (run under ASan in CI).
TEST_F(ControllerMetricsTest, ConcurrentUpdatesAndForgetAreSafe) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int i = 0; i < 3; ++i) {
    writers.emplace_back([&] {
      while (!stop.load()) {
        metrics_.reconcileFinished("prod", "web", ReconcileOutcome::kSuccess,
                                   std::chrono::milliseconds(1));
        metrics_.setCondition("prod", "web", "Ready", ConditionStatus::kTrue);
        metrics_.heldOperations("prod", "web", "MinTargets", 1);
        (void)text();
      }
    });
  }
  for (int i = 0; i < 300; ++i) metrics_.forgetBinding("prod", "web");
  stop = true;
  for (auto& w : writers) w.join();
  metrics_.forgetBinding("prod", "web");
  EXPECT_THAT(text(), Not(HasSubstr("name=\"web\"")));
}

// --- ProcessCollector.

std::map<std::string, double> collectValues(const ProcessCollector& collector) {
  std::map<std::string, double> values;
  for (const auto& family : collector.Collect()) {
    EXPECT_EQ(family.metric.size(), 1u) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    const auto& m = family.metric.front();
    values[family.name] =
        family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  return values;
}

TEST(ProcessCollectorTest, ReadsThisProcess) {
  ProcessCollector collector;
  auto values = collectValues(collector);
  ASSERT_EQ(values.size(), 6u);
  EXPECT_GT(values["process_resident_memory_bytes"], 1024 * 1024);
  EXPECT_GE(values["process_virtual_memory_bytes"], values["process_resident_memory_bytes"]);
  EXPECT_GE(values["process_cpu_seconds_total"], 0);
  EXPECT_GE(values["process_open_fds"], 3);  // stdin, stdout, stderr
  EXPECT_GE(values["process_max_fds"], values["process_open_fds"]);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(values["process_start_time_seconds"], now + 2);
  EXPECT_GT(values["process_start_time_seconds"], now - 3600);

  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const auto withOneMore = collectValues(collector);
  ::close(fd);
  EXPECT_EQ(withOneMore.at("process_open_fds"), values["process_open_fds"] + 1);
}

class FakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("eb-proc-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "42" / "fd");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void write(const std::filesystem::path& relative, const std::string& text) {
    std::ofstream(root_ / relative) << text;
  }

  ProcessCollector collector() {
    return ProcessCollector({root_, "42", /*clockTicksPerSecond=*/100, /*pageSizeBytes=*/4096});
  }

  std::filesystem::path root_;
};

TEST_F(FakeProcTest, ParsesStatLimitsAndFds) {
  write("stat", "cpu  1 2 3\nintr 0\nbtime 1700000000\nprocesses 5\n");
  // Field 2 (comm) holds spaces and parentheses; utime=250 stime=50 starttime=12345
  // vsize=104857600 rss=2560 pages.
  write("42/stat",
        "42 (endpoint (bin) der) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 12345 "
        "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  write("42/limits",
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max cpu time              unlimited            unlimited            seconds   \n"
        "Max open files            1024                 524288               files     \n");
  for (const char* fd : {"0", "1", "2", "7"}) write(std::filesystem::path("42/fd") / fd, "");

  const auto values = collectValues(collector());
  EXPECT_DOUBLE_EQ(values.at("process_cpu_seconds_total"), 3.0);
  EXPECT_DOUBLE_EQ(values.at("process_virtual_memory_bytes"), 104857600);
  EXPECT_DOUBLE_EQ(values.at("process_resident_memory_bytes"), 2560.0 * 4096);
  EXPECT_DOUBLE_EQ(values.at("process_start_time_seconds"), 1700000000 + 123.45);
  EXPECT_DOUBLE_EQ(values.at("process_open_fds"), 4);
  EXPECT_DOUBLE_EQ(values.at("process_max_fds"), 1024);
}

TEST_F(FakeProcTest, MissingOrMalformedFilesLeaveMetricsOut) {
  write("42/stat", "garbage without the comm field\n");
  write("42/limits", "Max open files            unlimited            unlimited            files\n");
  std::filesystem::remove(root_ / "42" / "fd");
  const auto values = collectValues(collector());
  EXPECT_TRUE(values.empty()) << values.size();
}

TEST(RenderMetricsTextTest, ConcatenatesCollectablesInOrder) {
  auto a = std::make_shared<prometheus::Registry>();
  auto b = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("b_gauge").Help("b").Register(*b).Add({}).Set(2);
  prometheus::BuildGauge().Name("a_gauge").Help("a").Register(*a).Add({}).Set(1);
  const auto t = renderMetricsText({b, nullptr, a});
  EXPECT_EQ(t,
            "# HELP b_gauge b\n# TYPE b_gauge gauge\nb_gauge 2\n"
            "# HELP a_gauge a\n# TYPE a_gauge gauge\na_gauge 1\n");
}

}  // namespace
}  // namespace endpointbinder::runtime
