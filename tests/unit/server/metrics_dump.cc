// metrics_dump: prints the text exposition of a ControllerMetrics in which every method has been
// called, plus the process collector, for `promtool check metrics` (tests.cmake).
//   metrics_dump          the exposition as rendered in-process
//   metrics_dump --http   the same as served by MetricsServer
// Exits 1 with a message on stderr if serving or scraping fails.
#include <cpprest/http_client.h>

#include <chrono>
#include <cstring>
#include <iostream>

#include "controller/runtime/metrics.h"
#include "controller/server/metrics_server.h"

namespace {

using namespace endpointbinder;
using namespace std::chrono_literals;

void populate(runtime::ControllerMetrics& metrics) {
  metrics.registerBinding("factory-iot", "opensearch-dashboards");
  metrics.reconcileFinished("factory-iot", "opensearch-dashboards",
                            runtime::ReconcileOutcome::kSuccess, 35ms);
  metrics.reconcileFinished("default", "web", runtime::ReconcileOutcome::kError, 2s);
  metrics.reconcileFinished("default", "web", runtime::ReconcileOutcome::kRequeueAfter, 4ms);

  runtime::BindingStatus status;
  status.ns = "factory-iot";
  status.name = "opensearch-dashboards";
  status.conditions = {
      {"Ready", runtime::ConditionStatus::kTrue, "Converged", "", {}},
      {"Synced", runtime::ConditionStatus::kTrue, "Synced", "", {}},
      {"SourceResolved", runtime::ConditionStatus::kTrue, "Resolved", "", {}},
      {"Conflict", runtime::ConditionStatus::kFalse, "Owned", "", {}},
  };
  status.counts = {3, 3, 2, 1, 0, 0, 0, 0};
  status.lastSyncTime = core::WallTime(std::chrono::seconds(1'700'000'000));
  metrics.observeStatus(status);

  core::Plan plan;
  plan.toRegister.push_back({"10.0.0.4", 443, std::nullopt});
  plan.held.push_back(
      {{"10.0.0.9", 443, std::nullopt}, core::HoldReason::kWithinGracePeriod, true, ""});
  metrics.recordSync("default", "web", {2, 1, 1, 0, 0, 1, 1, 0}, plan, /*applied=*/true,
                     core::WallTime(std::chrono::seconds(1'700'000'100)));
  metrics.setCondition("default", "web", "Ready", runtime::ConditionStatus::kFalse);
  metrics.recordConflict("other", "claimed");
  metrics.setDrift("other", "claimed", 0, 2);
  metrics.heldOperations("other", "claimed", "MinTargets", 1);
  metrics.planOperations("other", "claimed", runtime::PlanOperation::kDeregister, 1);
  metrics.setLastSuccessfulSync("other", "claimed", 1'699'999'000.0);

  metrics.sourceLookup("dns", runtime::LookupOutcome::kSuccess, 2ms);
  metrics.sourceLookup("dns", runtime::LookupOutcome::kTimeout, 5s);
  metrics.sourceLookup("static", runtime::LookupOutcome::kSuccess, 1us);

  aws::AttemptRecord attempt{"elasticloadbalancing",
                             "RegisterTargets",
                             1,
                             aws::CallOutcome::kThrottled,
                             400,
                             "Throttling",
                             80ms};
  metrics.onAttempt(attempt);
  aws::CallRecord call;
  call.service = "elasticloadbalancing";
  call.operation = "RegisterTargets";
  call.outcome = aws::CallOutcome::kSuccess;
  call.attempts = 2;
  call.latency = 450ms;
  metrics.onCall(call);
  metrics.awsRequest("sts", "AssumeRoleWithWebIdentity", aws::CallOutcome::kAuth, 120ms);
  metrics.awsThrottle("DescribeTargetHealth");
  metrics.awsRetry("DescribeTargetHealth");

  metrics.queueAdd();
  metrics.queueRetry();
  metrics.setQueueDepth(2);
  runtime::WorkQueueStats stats;
  stats.adds = 5;
  stats.retries = 1;
  stats.depth = 1;
  stats.longestRunningSeconds = 0.25;
  stats.unfinishedWorkSeconds = 0.5;
  metrics.observeWorkQueue(stats);
  metrics.setManifests(3, 1);
  runtime::InventoryStats inventory;
  inventory.sources = 2;
  inventory.instances = 40;
  inventory.interrupted = 1;
  inventory.accountWide = true;
  inventory.rounds = 3;
  inventory.eventRefreshes = 5;
  metrics.observeInstanceInventory(inventory);
  runtime::EventReaderStats events;
  events.received = 7;
  events.handled = 5;
  events.deleted = 7;
  events.foreign = 1;
  events.malformed = 1;
  events.receiveErrors = 1;
  metrics.observeEventQueue(events);
}

}  // namespace

int main(int argc, char** argv) {
  const bool overHttp = argc > 1 && std::strcmp(argv[1], "--http") == 0;
  auto registry = std::make_shared<prometheus::Registry>();
  runtime::ControllerMetrics metrics(registry, {"0.1.0-test", "0123abc"});
  populate(metrics);
  auto collectables = metrics.collectables();
  collectables.push_back(std::make_shared<runtime::ProcessCollector>());
  if (!overHttp) {
    std::cout << runtime::renderMetricsText(collectables);
    return 0;
  }
  auto server = server::MetricsServer::start({"127.0.0.1:0", "/metrics", 1}, collectables);
  if (!server) {
    std::cerr << server.error().message << "\n";
    return 1;
  }
  try {
    web::http::client::http_client client("http://127.0.0.1:" + std::to_string((*server)->port()));
    auto response = client.request(web::http::methods::GET, "/metrics").get();
    if (response.status_code() != 200) {
      std::cerr << "GET /metrics: HTTP " << response.status_code() << "\n";
      return 1;
    }
    std::cout << response.extract_utf8string(/*ignore_content_type=*/true).get();
  } catch (const std::exception& e) {
    std::cerr << "GET /metrics: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
