// get/describe rendering: exact text for fixed inputs, ages like kubectl's.
#include "controller/server/status_table.h"

#include <gtest/gtest.h>

#include <chrono>

namespace endpointbinder::server {
namespace {

using runtime::BindingStatus;
using runtime::ConditionStatus;
using runtime::EventType;
using namespace std::chrono_literals;

const core::WallTime kNow{std::chrono::seconds(1'700'100'000)};

TEST(ShortHumanDurationTest, MatchesKubectl) {
  struct Case {
    std::chrono::nanoseconds duration;
    const char* expected;
  };
  const Case cases[] = {
      {-5s, "<invalid>"},  {-2s, "<invalid>"}, {-1s, "0s"},          {-500ms, "0s"},
      {0s, "0s"},          {1500ms, "1s"},     {59s, "59s"},         {60s, "1m"},
      {3599s, "59m"},      {1h, "1h"},         {23h + 59min, "23h"}, {24h, "1d"},
      {24h * 364, "364d"}, {24h * 365, "1y"},  {24h * 800, "2y"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(shortHumanDuration(c.duration), c.expected) << c.duration.count();
  }
}

TEST(RenderTableTest, KubectlStyleColumns) {
  BindingStatus a;
  a.ns = "factory-iot";
  a.name = "opensearch-dashboards";
  a.conditions = {{"Ready", ConditionStatus::kTrue, "Converged", "", {}}};
  a.counts.desired = 3;
  a.counts.registered = 3;
  a.counts.healthy = 3;
  a.lastSyncTime = kNow - 5s;
  a.creationTime = kNow - 24h * 4 - 5h;

  BindingStatus b;
  b.ns = "default";
  b.name = "web";
  b.conditions = {{"Ready", ConditionStatus::kFalse, "Converging", "", {}}};
  b.counts.desired = 2;
  b.counts.registered = 1;
  b.counts.healthy = 1;
  b.counts.missing = 1;
  b.counts.unexpected = 1;
  b.creationTime = kNow - 190min;

  BindingStatus c;  // no Ready condition yet
  c.ns = "prod";
  c.name = "api";
  c.lastSyncTime = kNow - 125s;
  c.creationTime = kNow - 90s;

  EXPECT_EQ(renderTable({a, b, c}, kNow),
            "NAMESPACE     NAME                    READY     TARGETS   HEALTHY   DRIFT   "
            "LAST-SYNC   AGE\n"
            "factory-iot   opensearch-dashboards   True      3/3       3         -       "
            "5s          4d\n"
            "default       web                     False     1/2       1         2       "
            "<none>      3h\n"
            "prod          api                     Unknown   0/0       0         -       "
            "2m          1m\n");
}

TEST(RenderTableTest, ColumnsGrowWithTheWidestCell) {
  BindingStatus s;
  s.ns = "a-rather-long-namespace-name";
  s.name = "x";
  s.conditions = {{"Ready", ConditionStatus::kTrue, "", "", {}}};
  s.counts.desired = 1200;
  s.counts.registered = 1000;
  s.counts.healthy = 999;
  s.counts.missing = 200;
  s.lastSyncTime = kNow - 24h * 400;
  s.creationTime = kNow - 24h * 800;
  EXPECT_EQ(renderTable({s}, kNow),
            "NAMESPACE                      NAME   READY   TARGETS     HEALTHY   DRIFT   "
            "LAST-SYNC   AGE\n"
            "a-rather-long-namespace-name   x      True    1000/1200   999       200     "
            "1y          2y\n");
}

TEST(RenderTableTest, EmptyList) { EXPECT_EQ(renderTable({}, kNow), "No resources found.\n"); }

TEST(RenderDescribeTest, FullStatus) {
  BindingStatus s;
  s.ns = "factory-iot";
  s.name = "opensearch-dashboards";
  s.generation = "0123456789abcdef";
  s.observedGeneration = "0123456789abcdef";
  s.specJson =
      R"({"targetGroupARN":"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:)"
      R"(targetgroup/tg/1","targetType":"ip","port":443,"source":{"dns":{"hostname":)"
      R"("vpc.example","addressFamilies":["IPv4"],"lookupsPerRefresh":1}},"policy":)"
      R"({"deregistrationGracePeriod":"3m","prune":true,"allowedCIDRs":["10.0.0.0/8",)"
      R"("172.16.0.0/12"],"minTargets":1},"notifications":[{"on":["Registered"]}],"labels":{}})";
  s.conditions = {
      {"Ready", ConditionStatus::kFalse, "Converging", "1 listed targets not registered",
       kNow - 40s},
      {"SourceResolved", ConditionStatus::kTrue, "Resolved", "dns source lists 3 targets",
       kNow - 3h},
  };
  s.counts = {3, 2, 2, 0, 1, 0, 1, 0};
  runtime::PlanSummary plan;
  plan.toRegister = {"10.0.0.3:443", "10.0.0.4:443"};
  plan.toDeregister = {"10.0.0.7:443"};
  plan.held = {"10.0.0.9:443: WithinGracePeriod: absent 40s of 3m grace"};
  plan.applied = true;
  plan.time = kNow - 40s;
  s.lastPlan = plan;
  s.lastSyncTime = kNow - 40s;
  s.creationTime = kNow - 49h;
  s.events = {
      {kNow - 5min, EventType::kNormal, "Registered",
       "registered 2 targets: 10.0.0.3:443, 10.0.0.4:443", 1},
      {kNow - 40s, EventType::kWarning, "Blocked", "1 changes held: MinTargets", 4},
  };

  EXPECT_EQ(renderDescribe(s, kNow),
            R"(Name:                opensearch-dashboards
Namespace:           factory-iot
Kind:                TargetGroupBinding
API Version:         endpointbinder.io/v1alpha1
Generation:          0123456789abcdef
Creation Timestamp:  2023-11-14T01:00:00Z (2d ago)
Spec:
  Labels:         <none>
  Notifications:  [{"on":["Registered"]}]
  Policy:
    Allowed CIDRs:                10.0.0.0/8, 172.16.0.0/12
    Deregistration Grace Period:  3m
    Min Targets:                  1
    Prune:                        true
  Port:                           443
  Source:
    Dns:
      Address Families:     IPv4
      Hostname:             vpc.example
      Lookups Per Refresh:  1
  Target Group ARN:         arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/1
  Target Type:              ip
Status:
  Observed Generation:  0123456789abcdef
  Last Sync Time:       2023-11-16T01:59:20Z (40s ago)
  Last Attempt Time:    <none>
  Last Error:           <none>
  Conditions:
    Type            Status  Reason      Age  Message
    ----            ------  ------      ---  -------
    Ready           False   Converging  40s  1 listed targets not registered
    SourceResolved  True    Resolved    3h   dns source lists 3 targets
  Targets:
    Desired:     3
    Registered:  2
    Healthy:     2
    Unhealthy:   0
    Draining:    1
    Initial:     0
    Missing:     1
    Unexpected:  0
  Last Plan:     Applied, 2023-11-16T01:59:20Z (40s ago)
    + 10.0.0.3:443
    + 10.0.0.4:443
    - 10.0.0.7:443
    Held:
      10.0.0.9:443: WithinGracePeriod: absent 40s of 3m grace
Events:
  Type     Reason      Age       Message
  ----     ------      ---       -------
  Normal   Registered  5m        registered 2 targets: 10.0.0.3:443, 10.0.0.4:443
  Warning  Blocked     40s (x4)  1 changes held: MinTargets
)");
}

TEST(RenderDescribeTest, BareStatusAndUnappliedEmptyPlan) {
  BindingStatus s;
  s.ns = "default";
  s.name = "bare";
  s.creationTime = kNow;
  s.targetGroupArn = "arn:tg";  // no specJson yet: the ARN is all the spec we know
  s.lastError = "AccessDenied: not authorized";
  runtime::PlanSummary plan;
  plan.applied = false;
  plan.time = kNow - 2min;
  s.lastPlan = plan;
  EXPECT_EQ(renderDescribe(s, kNow),
            R"(Name:                bare
Namespace:           default
Kind:                TargetGroupBinding
API Version:         endpointbinder.io/v1alpha1
Generation:          <none>
Creation Timestamp:  2023-11-16T02:00:00Z (0s ago)
Spec:
  Target Group ARN:  arn:tg
Status:
  Observed Generation:  <none>
  Last Sync Time:       <none>
  Last Attempt Time:    <none>
  Last Error:           AccessDenied: not authorized
  Conditions:           <none>
  Targets:
    Desired:     0
    Registered:  0
    Healthy:     0
    Unhealthy:   0
    Draining:    0
    Initial:     0
    Missing:     0
    Unexpected:  0
  Last Plan:     Not applied, 2023-11-16T01:58:00Z (2m ago)
    (no changes)
Events:  <none>
)");
}

BindingStatus recordStatus(std::string ns, std::string name) {
  BindingStatus s;
  s.kind = "DNSRecordBinding";
  s.ns = std::move(ns);
  s.name = std::move(name);
  s.targetGroupArn = "hostedzone/Z04517273P2QJMRVBE6KD";
  return s;
}

TEST(RenderTableTest, RecordBindingsGetTheirOwnTableAfterTheTargetGroupBindings) {
  BindingStatus tgb;
  tgb.ns = "default";
  tgb.name = "web";
  tgb.conditions = {{"Ready", ConditionStatus::kTrue, "Converged", "", {}}};
  tgb.counts.desired = 2;
  tgb.counts.registered = 2;
  tgb.counts.healthy = 2;
  tgb.lastSyncTime = kNow - 5s;
  tgb.creationTime = kNow - 1h;

  BindingStatus names = recordStatus("platform", "internal-names");
  names.conditions = {{"Ready", ConditionStatus::kFalse, "Converging", "", {}},
                      {"Conflict", ConditionStatus::kTrue, "SharedName", "", {}},
                      {"InSync", ConditionStatus::kFalse, "PENDING", "", {}}};
  names.counts.desired = 12;
  names.counts.registered = 10;
  names.counts.missing = 2;
  names.counts.unexpected = 1;
  names.lastSyncTime = kNow - 30s;
  names.creationTime = kNow - 24h * 3;

  BindingStatus fresh = recordStatus("default", "new");  // before its first write: no InSync
  fresh.creationTime = kNow - 10s;

  const std::string records =
      "NAMESPACE   NAME             READY     NAMES   ZONE                    DRIFT   INSYNC   "
      "CONFLICT   LAST-SYNC   AGE\n"
      "platform    internal-names   False     10/12   Z04517273P2QJMRVBE6KD   3       False    "
      "True       30s         3d\n"
      "default     new              Unknown   0/0     Z04517273P2QJMRVBE6KD   -       -        "
      "Unknown    <none>      10s\n";
  // Mixed, in any order: the target group bindings' table unchanged, then the records'.
  EXPECT_EQ(renderTable({names, tgb, fresh}, kNow),
            "NAMESPACE   NAME   READY   TARGETS   HEALTHY   DRIFT   LAST-SYNC   AGE\n"
            "default     web    True    2/2       2         -       5s          1h\n"
            "\n" +
                records);
  // Only record bindings: their table alone.
  EXPECT_EQ(renderTable({names, fresh}, kNow), records);
}

TEST(RenderDescribeTest, RecordBindingShowsItsZoneRecordCountsAndInSync) {
  BindingStatus s = recordStatus("platform", "internal-names");
  s.generation = "0123456789abcdef";
  s.observedGeneration = "0123456789abcdef";
  s.creationTime = kNow - 2h;
  s.lastSyncTime = kNow - 10s;
  s.conditions = {
      {"Ready", ConditionStatus::kTrue, "Converged", "every listed instance has its record",
       kNow - 10s},
      {"InSync", ConditionStatus::kTrue, "INSYNC",
       "Route 53 has propagated every change: the names resolve", kNow - 10s},
  };
  s.counts.desired = 3;
  s.counts.registered = 3;
  s.counts.unexpected = 1;
  runtime::PlanSummary plan;
  plan.toRegister = {"web-1.corp.internal. A 10.0.1.5"};
  plan.held = {"old.corp.internal.: WithinGracePeriod"};
  plan.applied = true;
  plan.time = kNow - 10s;
  s.lastPlan = plan;
  EXPECT_EQ(renderDescribe(s, kNow),
            R"(Name:                internal-names
Namespace:           platform
Kind:                DNSRecordBinding
API Version:         endpointbinder.io/v1alpha1
Generation:          0123456789abcdef
Creation Timestamp:  2023-11-16T00:00:00Z (2h ago)
Spec:
  Hosted Zone Id:  Z04517273P2QJMRVBE6KD
Status:
  Observed Generation:  0123456789abcdef
  Last Sync Time:       2023-11-16T01:59:50Z (10s ago)
  Last Attempt Time:    <none>
  Last Error:           <none>
  Conditions:
    Type    Status  Reason     Age  Message
    ----    ------  ------     ---  -------
    Ready   True    Converged  10s  every listed instance has its record
    InSync  True    INSYNC     10s  Route 53 has propagated every change: the names resolve
  Records:
    Desired:     3
    Present:     3
    Missing:     0
    Unexpected:  1
  Last Plan:     Applied, 2023-11-16T01:59:50Z (10s ago)
    + web-1.corp.internal. A 10.0.1.5
    Held:
      old.corp.internal.: WithinGracePeriod
Events:  <none>
)");
}

}  // namespace
}  // namespace endpointbinder::server
