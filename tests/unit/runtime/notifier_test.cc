// The Notifier's threads: events reach the destinations the `on:` filters name, a destination
// that hangs never holds up the reconcile path (with fakes, and with the real reconciler and a
// webhook that never answers), shutdown flushes and cancels, and the counters count.
#include "controller/runtime/notifier.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <future>

#include "api/decode.h"
#include "controller/aws/cpprest_transport.h"
#include "tests/support/aws_local_server.h"
#include "tests/support/reconciler_harness.h"

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;

// A destination that records what it was sent and can be made to hang until released.
class FakeDestination final : public NotificationDestination {
 public:
  explicit FakeDestination(std::string name) : name_(std::move(name)) {}
  const char* kind() const override { return name_.starts_with("arn:") ? "sns" : "slack"; }
  std::string name() const override { return name_; }
  SendOutcome send(const Notice& notice) override {
    std::unique_lock lock(mu_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !hang_; });
    sent_.push_back(notice);
    return next_;
  }
  void hang(bool on) {
    std::lock_guard lock(mu_);
    hang_ = on;
    changed_.notify_all();
  }
  bool waitEntered(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return entered_ >= n; });
  }
  std::vector<Notice> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool hang_ = false;
  int entered_ = 0;
  SendOutcome next_;
  std::vector<Notice> sent_;
};

api::TargetGroupBinding binding(const std::string& notifications) {
  const std::string yaml = R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {name: web, namespace: prod}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef
  targetType: ip
  port: 443
  source:
    static: {addresses: [10.0.1.5]}
)" + notifications;
  auto decoded = api::decodeManifests(yaml, "test.yaml");
  EXPECT_TRUE(decoded.errors.empty())
      << (decoded.errors.empty() ? "" : decoded.errors[0].toString());
  return decoded.targetGroupBindings.at(0);
}

const std::string kTwoDestinations = R"(  notifications:
    - slackWebhookSecretRef: {ssmParameter: /eb/slack}
      on: [Registered]
    - snsTopicARN: arn:aws:sns:ap-northeast-1:123456789012:ops
      on: [Failing]
)";

double metric(prometheus::Registry& registry, const std::string& name,
              const std::string& destination = "") {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = destination.empty();
      for (const auto& l : m.label)
        match = match || (l.name == "destination" && l.value == destination);
      if (!match) continue;
      return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
    }
  }
  return -1;
}

struct Fixture {
  core::RealClock clock;
  core::NullLogger log;
  prometheus::Registry registry;
  NotificationMetrics metrics{registry};
  std::mutex mu;
  std::map<std::string, FakeDestination*> destinations;
  NotifierOptions options = [] {
    NotifierOptions o;
    for (auto* d : {&o.slack, &o.sns}) {
      d->coalesceWindow = 0ms;
      d->minInterval = 0ms;
      d->ratePerSecond = 1000;
      d->burst = 1000;
    }
    return o;
  }();
  std::unique_ptr<Notifier> notifier;
  std::function<bool()> leading;

  Notifier& make() {
    notifier = std::make_unique<Notifier>(
        Notifier::Deps{clock, log,
                       [this](const DestinationRef& ref)
                           -> core::Result<std::unique_ptr<NotificationDestination>> {
                         auto d = std::make_unique<FakeDestination>(ref.target);
                         std::lock_guard lock(mu);
                         destinations[ref.target] = d.get();
                         return d;
                       },
                       &metrics, nullptr, leading},
        options);
    return *notifier;
  }
  FakeDestination* destination(const std::string& target) {
    std::lock_guard lock(mu);
    auto it = destinations.find(target);
    return it == destinations.end() ? nullptr : it->second;
  }
};

ReconcileReport registeredReport(const api::TargetGroupBinding& b,
                                 const std::vector<core::Target>& targets) {
  ReconcileReport r;
  r.kind = ReconcileReport::Kind::kSynced;
  r.binding = &b;
  r.applied = true;
  r.registered = targets;
  return r;
}

TEST(Notifier, EventsGoWhereTheOnFiltersSay) {
  Fixture f;
  auto& notifier = f.make();
  notifier.start();
  const auto b = binding(kTwoDestinations);
  const std::vector<core::Target> targets = {{"10.0.1.5", 443, std::nullopt}};
  notifier.onReconciled(registeredReport(b, targets));
  const core::Error error{core::ErrorKind::kRetryable, "boom", "InternalFailure", "", 500};
  for (int i = 0; i < 3; ++i) {
    ReconcileReport r;
    r.kind = ReconcileReport::Kind::kFailed;
    r.binding = &b;
    r.error = &error;
    notifier.onReconciled(r);
  }
  ASSERT_TRUE(notifier.waitIdle(10s));
  auto* slack = f.destination("/eb/slack");
  auto* sns = f.destination("arn:aws:sns:ap-northeast-1:123456789012:ops");
  ASSERT_TRUE(slack && sns);
  ASSERT_EQ(slack->sent().size(), 1u);
  EXPECT_EQ(slack->sent()[0].kinds(), std::vector<NoticeKind>{NoticeKind::kRegistered});
  ASSERT_EQ(sns->sent().size(), 1u);
  EXPECT_EQ(sns->sent()[0].kinds(), std::vector<NoticeKind>{NoticeKind::kFailing});
  EXPECT_EQ(metric(f.registry, "endpointbinder_notifications_sent_total", "slack"), 1);
  EXPECT_EQ(metric(f.registry, "endpointbinder_notifications_sent_total", "sns"), 1);
  EXPECT_EQ(metric(f.registry, "endpointbinder_notification_queue_depth", "slack"), 0);
  // A binding without notifications costs nothing at all.
  const auto quiet = binding("");
  notifier.onReconciled(registeredReport(quiet, targets));
  EXPECT_EQ(notifier.stats().inbox, 0u);
  notifier.stop(0s);
}

TEST(Notifier, OnlyTheLeaderNotifies) {
  Fixture f;
  std::atomic<bool> leads = false;
  f.leading = [&] { return leads.load(); };
  auto& notifier = f.make();
  notifier.start();
  const auto b = binding(kTwoDestinations);
  const std::vector<core::Target> targets = {{"10.0.1.5", 443, std::nullopt}};
  notifier.onReconciled(registeredReport(b, targets));  // a standby's report
  ASSERT_TRUE(notifier.waitIdle(10s));
  EXPECT_EQ(f.destination("/eb/slack"), nullptr) << "a standby tells nobody";
  leads = true;
  notifier.onReconciled(registeredReport(b, targets));
  ASSERT_TRUE(notifier.waitIdle(10s));
  ASSERT_NE(f.destination("/eb/slack"), nullptr);
  EXPECT_EQ(f.destination("/eb/slack")->sent().size(), 1u);
  notifier.stop(0s);
}

TEST(Notifier, AHangingDestinationNeverBlocksTheReconcilePath) {
  Fixture f;
  auto& notifier = f.make();
  notifier.start();
  const auto b = binding(kTwoDestinations);
  const std::vector<core::Target> targets = {{"10.0.1.5", 443, std::nullopt}};
  notifier.onReconciled(registeredReport(b, targets));
  // Wait for the worker to exist, make it hang in its first send.
  FakeDestination* slack = nullptr;
  for (int i = 0; i < 1000 && !slack; ++i) {
    slack = f.destination("/eb/slack");
    if (!slack) std::this_thread::sleep_for(1ms);
  }
  ASSERT_NE(slack, nullptr);
  slack->hang(true);
  notifier.onReconciled(registeredReport(b, targets));
  ASSERT_TRUE(slack->waitEntered(1, 10s));
  // Thousands of reports while the send hangs: every call returns. Run from another thread so
  // that a regression fails the test instead of hanging it.
  auto reports = std::async(std::launch::async, [&] {
    for (int i = 0; i < 2000; ++i) notifier.onReconciled(registeredReport(b, targets));
  });
  ASSERT_EQ(reports.wait_for(20s), std::future_status::ready)
      << "onReconciled waited for a hanging destination";
  EXPECT_EQ(notifier.stats().inFlight, 1u);
  slack->hang(false);
  ASSERT_TRUE(notifier.waitIdle(10s));
  notifier.stop(0s);
}

TEST(Notifier, StopFlushesPendingMessagesThenCancelsHangingSends) {
  Fixture f;
  f.options.slack.coalesceWindow = 1h;  // would never go on its own
  auto& notifier = f.make();
  notifier.start();
  const auto b = binding(kTwoDestinations);
  const std::vector<core::Target> targets = {{"10.0.1.5", 443, std::nullopt}};
  notifier.onReconciled(registeredReport(b, targets));
  for (int i = 0; i < 1000 && notifier.stats().pending == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(notifier.stats().pending, 1u);
  notifier.stop(5s);
  ASSERT_NE(f.destination("/eb/slack"), nullptr);
  EXPECT_EQ(f.destination("/eb/slack")->sent().size(), 1u) << "flushed at shutdown";

  // A send hanging at shutdown is cancelled by the callback, and stop() returns.
  Fixture g;
  auto& hanging = g.make();
  hanging.start();
  hanging.onReconciled(registeredReport(b, targets));
  FakeDestination* slack = nullptr;
  for (int i = 0; i < 1000 && !slack; ++i) {
    slack = g.destination("/eb/slack");
    if (!slack) std::this_thread::sleep_for(1ms);
  }
  ASSERT_NE(slack, nullptr);
  slack->hang(true);
  hanging.onReconciled(registeredReport(b, targets));
  ASSERT_TRUE(slack->waitEntered(1, 10s));
  bool cancelled = false;
  hanging.stop(100ms, [&] {
    cancelled = true;
    slack->hang(false);
  });
  EXPECT_TRUE(cancelled);
}

TEST(Notifier, AFullInboxDropsTheOldestReportAndCountsIt) {
  Fixture f;
  f.options.inboxCapacity = 2;
  auto& notifier = f.make();  // not started: nothing drains the inbox
  const auto b = binding(kTwoDestinations);
  const std::vector<core::Target> targets = {{"10.0.1.5", 443, std::nullopt}};
  for (int i = 0; i < 5; ++i) notifier.onReconciled(registeredReport(b, targets));
  EXPECT_EQ(notifier.stats().inbox, 2u);
  EXPECT_EQ(metric(f.registry, "endpointbinder_notification_reports_dropped_total"), 3);
}

TEST(Notifier, MetricsExistAtZeroForBothKinds) {
  prometheus::Registry registry;
  NotificationMetrics metrics(registry);
  for (const char* kind : {"slack", "sns"}) {
    for (const char* name :
         {"endpointbinder_notifications_sent_total", "endpointbinder_notifications_failed_total",
          "endpointbinder_notifications_dropped_total", "endpointbinder_notification_retries_total",
          "endpointbinder_notification_queue_depth"}) {
      EXPECT_EQ(metric(registry, name, kind), 0) << name << " " << kind;
    }
  }
}

// The real reconciler, with the notifier attached and a Slack webhook that accepts the
// connection and never answers: the next reconcile runs while that send still hangs.
TEST(NotifierWithReconciler, AHangingWebhookDoesNotDelayTheNextReconcile) {
  testing::ReconcilerHarness h;
  ASSERT_TRUE(h.ok()) << h.error();
  testing::RawTcpServer silent(testing::RawTcpServer::Mode::kSilent);
  auto transport = aws::CpprestTransport::create({});
  ASSERT_TRUE(transport.has_value());

  class Ssm final : public aws::ParameterStore {
   public:
    explicit Ssm(std::string url) : url_(std::move(url)) {}
    core::Result<aws::SsmParameter> getParameter(const std::string& name) override {
      return aws::SsmParameter{name, "SecureString", url_, 1, ""};
    }

   private:
    std::string url_;
  } ssm("http://127.0.0.1:" + std::to_string(silent.port()) + "/services/T/B/secret");
  core::RealClock clock;  // the harness's clock is manual and not thread-safe
  core::NullLogger log;
  prometheus::Registry registry;
  NotificationMetrics metrics(registry);
  NotifierOptions options;
  options.slack.coalesceWindow = 0ms;
  Notifier notifier(
      Notifier::Deps{
          clock, log,
          [&](const DestinationRef& ref) -> core::Result<std::unique_ptr<NotificationDestination>> {
            return std::make_unique<SlackWebhookDestination>(
                SlackWebhookOptions{ref.target, 15min, 60'000ms, {}}, **transport, ssm, clock, log);
          },
          &metrics},
      options);
  notifier.start();
  // However the test ends, the hanging send is cancelled rather than waited out.
  struct StopOnExit {
    Notifier& notifier;
    aws::CpprestTransport& transport;
    ~StopOnExit() {
      notifier.stop(0s, [this] { transport.shutDown(); });
    }
  } stopOnExit{notifier, **transport};

  const auto arn = h.createGroup("notify-hang");
  auto manifest = [&](const std::string& address) {
    return "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata: {name: "
           "web, namespace: prod}\nspec:\n  targetGroupARN: " +
           arn + "\n  targetType: ip\n  source:\n    static: {addresses: [" + address +
           "]}\n  policy: {deregistrationGracePeriod: 0s}\n  notifications:\n    - "
           "slackWebhookSecretRef: {ssmParameter: /eb/slack}\n";
  };
  // Baseline without the notifier: reconciles that each register and deregister one target.
  const auto key = h.apply(manifest("10.0.1.5"));
  auto timed = [&] {
    const auto start = std::chrono::steady_clock::now();
    auto result = h.reconcile(key);
    EXPECT_TRUE(result.has_value()) << result.error().toString();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  timed();
  std::vector<double> baseline;
  for (const char* address : {"10.0.1.2", "10.0.1.3", "10.0.1.4"}) {
    h.apply(manifest(address));
    baseline.push_back(timed());
  }

  h.observer = &notifier;
  h.restart();
  h.apply(manifest("10.0.1.6"));
  timed();  // registers 10.0.1.6: a Registered message goes to the silent webhook
  for (int i = 0; i < 5000 && notifier.stats().inFlight == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(notifier.stats().inFlight, 1u) << "the webhook send should be hanging now";
  for (int i = 0; i < 5000 && silent.acceptedConnections() == 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_GE(silent.acceptedConnections(), 1);

  std::vector<double> during;
  for (const char* address : {"10.0.1.7", "10.0.1.8", "10.0.1.9"}) {
    h.apply(manifest(address));
    during.push_back(timed());
    EXPECT_EQ(notifier.stats().inFlight, 1u) << "still hanging: the reconcile did not wait";
  }
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.9:443"));
  std::printf(
      "reconcile latency: without notifications %.1f, %.1f, %.1f ms; with a hanging webhook "
      "%.1f, %.1f, %.1f ms\n",
      baseline[0], baseline[1], baseline[2], during[0], during[1], during[2]);

  const auto stopStart = std::chrono::steady_clock::now();
  notifier.stop(0s, [&] { (*transport)->shutDown(); });
  EXPECT_LT(std::chrono::steady_clock::now() - stopStart, 30s) << "cancelled, not waited out";
  h.observer = nullptr;
  h.restart();
}

}  // namespace
}  // namespace endpointbinder::runtime
