#include "controller/runtime/leader_election.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <unistd.h>

#include <future>
#include <random>

#include "controller/core/thread_name.h"
#include "controller/runtime/metrics.h"

namespace endpointbinder::runtime {

namespace {

using core::LogLevel;
using std::chrono::nanoseconds;

std::string randomHex(int bytes) {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < bytes; ++i) {
    const int b = byte(engine);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::int64_t unixMillis(core::WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// "2s", "0.25s", "1.5s": milliseconds at most.
std::string secondsText(nanoseconds d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    text += "." + fraction;
  }
  return text + "s";
}

bool isWriteAction(std::string_view action) {
  return action == "RegisterTargets" || action == "DeregisterTargets" || action == "AddTags" ||
         action == "RemoveTags" || action == "ChangeResourceRecordSets";
}

const char* stepName(core::LeaseElector::StepKind kind) {
  switch (kind) {
    case core::LeaseElector::StepKind::kRead:
      return "read";
    case core::LeaseElector::StepKind::kAcquire:
      return "acquire";
    case core::LeaseElector::StepKind::kRenew:
      return "renew";
  }
  return "read";
}

}  // namespace

struct LeaderElection::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : leader(prometheus::BuildGauge()
                   .Name("endpointbinder_leader")
                   .Help("1 while this replica holds the leader-election lease and writes to "
                         "AWS, else 0.")
                   .Register(registry)
                   .Add({})),
        term(prometheus::BuildGauge()
                 .Name("endpointbinder_leader_term")
                 .Help("The lease term (fencing counter) this replica last led in; 0 if never.")
                 .Register(registry)
                 .Add({})),
        transitions(prometheus::BuildCounter()
                        .Name("endpointbinder_leader_transitions_total")
                        .Help("Changes of this replica's role, by the role it changed to.")
                        .Register(registry)) {
    transitions.Add({{"to", "leader"}});
    transitions.Add({{"to", "standby"}});
  }
  void set(bool leading, std::uint64_t led) {
    leader.Set(leading ? 1 : 0);
    if (led != 0) term.Set(static_cast<double>(led));
  }
  void transition(bool toLeader) {
    transitions.Add({{"to", toLeader ? "leader" : "standby"}}).Increment();
  }

  prometheus::Gauge& leader;
  prometheus::Gauge& term;
  prometheus::Family<prometheus::Counter>& transitions;
};

std::string defaultLeaderIdentity() {
  char host[256] = {};
  std::string name = gethostname(host, sizeof(host) - 1) == 0 ? host : "";
  if (name.empty()) name = "endpoint-binder";
  return name + "-" + randomHex(4);
}

LeaderElection::LeaderElection(Deps deps, LeaderElectionOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      elector_(options_.identity, options_.timing) {
  if (!deps_.newVersion) deps_.newVersion = [] { return randomHex(16); };
  if (deps_.metrics) metrics_ = std::make_unique<Metrics>(*deps_.metrics->registry());
}

LeaderElection::~LeaderElection() { stop(false); }

void LeaderElection::start(Callbacks callbacks) {
  deps_.log.log(LogLevel::kInfo, "leader election started",
                {core::field("identity", options_.identity), core::field("table", options_.table),
                 core::field("lease", options_.leaseName),
                 core::field("leaseDuration", secondsText(options_.timing.leaseDuration)),
                 core::field("renewDeadline", secondsText(options_.timing.renewDeadline)),
                 core::field("retryPeriod", secondsText(options_.timing.retryPeriod))});
  thread_ = std::thread([this, callbacks = std::move(callbacks)] { loop(callbacks); });
}

void LeaderElection::loop(Callbacks callbacks) {
  core::nameThisThread("eb-leader");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = deps_.clock.now();
    auto lost = elector_.checkDeadline(now);
    const auto due = elector_.nextStepAt();
    if (lost) {
      lock.unlock();
      announce(lost, callbacks);
      lock.lock();
      continue;
    }
    if (now < due) {
      // The real clock's monotonic time is steady_clock's.
      cv_.wait_until(lock, due);
      continue;
    }
    lock.unlock();
    step(/*async=*/true, callbacks);
    lock.lock();
  }
}

core::MonoTime LeaderElection::runOnce(const Callbacks& callbacks) {
  std::optional<core::LeaseTransition> lost;
  bool due = false;
  {
    std::lock_guard lock(mu_);
    const auto now = deps_.clock.now();
    lost = elector_.checkDeadline(now);
    due = now >= elector_.nextStepAt();
  }
  announce(lost, callbacks);
  if (due) step(/*async=*/false, callbacks);
  std::lock_guard lock(mu_);
  return elector_.nextStepAt();
}

void LeaderElection::step(bool async, const Callbacks& callbacks) {
  core::LeaseElector::Step next;
  std::optional<core::MonoTime> deadline;
  {
    std::lock_guard lock(mu_);
    next =
        elector_.nextStep(deps_.clock.now(), deps_.newVersion(), unixMillis(deps_.clock.wallNow()));
    if (elector_.leading()) deadline = elector_.renewedAt() + options_.timing.renewDeadline;
  }
  auto& store = deps_.store;
  const auto call = [&store, &next]() -> core::Result<std::optional<core::LeaseRecord>> {
    switch (next.kind) {
      case core::LeaseElector::StepKind::kRead:
        return store.read();
      case core::LeaseElector::StepKind::kAcquire:
        if (auto r = store.acquire(next.write, next.expectedVersion); !r) {
          return std::unexpected(r.error());
        }
        return std::nullopt;
      case core::LeaseElector::StepKind::kRenew:
        if (auto r = store.renew(next.write); !r) return std::unexpected(r.error());
        return std::nullopt;
    }
    return std::nullopt;
  };
  const auto sentAt = deps_.clock.now();
  core::Result<std::optional<core::LeaseRecord>> result;
  if (async) {
    auto pending = std::async(std::launch::async, call);
    // A renewal that hangs must not keep the leader past its deadline: step down on time.
    while (deadline && pending.wait_until(*deadline) == std::future_status::timeout) {
      std::optional<core::LeaseTransition> lost;
      {
        std::lock_guard lock(mu_);
        lost = elector_.checkDeadline(deps_.clock.now());
      }
      announce(lost, callbacks);
      deadline.reset();
    }
    result = pending.get();
  } else {
    result = call();
  }
  const auto returnedAt = deps_.clock.now();

  std::optional<core::LeaseTransition> transition;
  {
    std::lock_guard lock(mu_);
    std::optional<std::string> failure;
    if (!result && result.error().kind != core::ErrorKind::kConflict) {
      failure = result.error().toString();
    }
    switch (next.kind) {
      case core::LeaseElector::StepKind::kRead:
        transition = elector_.onRead(result, sentAt, returnedAt);
        break;
      case core::LeaseElector::StepKind::kAcquire:
        transition = elector_.onAcquire(
            next, result ? core::Result<void>() : std::unexpected(result.error()), sentAt,
            returnedAt);
        break;
      case core::LeaseElector::StepKind::kRenew:
        transition =
            elector_.onRenew(next, result ? core::Result<void>() : std::unexpected(result.error()),
                             sentAt, returnedAt);
        break;
    }
    const bool news = failure && *failure != lastError_;
    lastError_ = failure.value_or("");
    if (news) {
      deps_.log.log(LogLevel::kWarn, "leader election: lease call failed",
                    {core::field("operation", stepName(next.kind)), core::field("error", *failure),
                     core::field("table", options_.table)});
    }
  }
  announce(transition, callbacks);
}

void LeaderElection::announce(const std::optional<core::LeaseTransition>& transition,
                              const Callbacks& callbacks) {
  if (!transition) return;
  std::lock_guard order(announceMu_);
  const bool toLeader = transition->to == core::LeaseRole::kLeader;
  {
    std::lock_guard lock(mu_);
    ++transitions_;
  }
  deps_.log.log(
      toLeader ? LogLevel::kInfo : LogLevel::kWarn,
      toLeader ? "became the leader: writing to AWS" : "stopped leading: not writing to AWS",
      {core::field("identity", options_.identity),
       core::field("term", static_cast<long long>(transition->term)),
       core::field("reason", transition->reason)});
  if (metrics_) {
    metrics_->transition(toLeader);
    metrics_->set(toLeader, transition->term);
  }
  if (toLeader && callbacks.startedLeading) callbacks.startedLeading(transition->term);
  if (!toLeader && callbacks.stoppedLeading) callbacks.stoppedLeading();
}

void LeaderElection::closeGate() {
  std::lock_guard lock(mu_);
  gateClosed_ = true;
}

void LeaderElection::stop(bool release) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    gateClosed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::optional<core::LeaseRecord> freed;
  std::uint64_t term = 0;
  {
    std::lock_guard lock(mu_);
    term = elector_.term();
    if (release)
      freed = elector_.stepDownToRelease(deps_.newVersion(), unixMillis(deps_.clock.wallNow()));
  }
  if (!freed) return;
  if (metrics_) {
    metrics_->transition(false);
    metrics_->set(false, term);
  }
  const auto started = deps_.clock.now();
  auto released = deps_.store.release(options_.identity, *freed);
  if (released) {
    deps_.log.log(LogLevel::kInfo, "released the lease: a standby takes over at its next read",
                  {core::field("identity", options_.identity),
                   core::field("term", static_cast<long long>(term)),
                   core::field("seconds", secondsText(deps_.clock.now() - started))});
  } else {
    deps_.log.log(LogLevel::kWarn,
                  "could not release the lease: a standby takes over once it lapses",
                  {core::field("identity", options_.identity),
                   core::field("term", static_cast<long long>(term)),
                   core::field("error", released.error().toString())});
  }
}

core::Result<void> LeaderElection::refusal(std::optional<std::uint64_t> term,
                                           core::MonoTime now) const {
  const auto refuse = [](std::string why) {
    return core::makeError(core::ErrorKind::kRetryable, std::move(why), "NotLeader");
  };
  if (gateClosed_) return refuse("this replica is shutting down and no longer writes");
  if (!elector_.leading()) {
    return refuse("this replica does not lead (" + describeLeaderLocked() + ")");
  }
  if (term && *term != elector_.term()) {
    return refuse("the lease term changed from " + std::to_string(*term) + " to " +
                  std::to_string(elector_.term()) + " since this reconcile planned");
  }
  const auto sinceRenewal = now - elector_.renewedAt();
  if (!elector_.mayWrite(elector_.term(), now, options_.writeAllowance)) {
    return refuse("the lease (term " + std::to_string(elector_.term()) + ") was last renewed " +
                  secondsText(sinceRenewal) +
                  " ago: a write now could land after another replica takes over");
  }
  return {};
}

std::optional<std::uint64_t> LeaderElection::currentTerm() const {
  std::lock_guard lock(mu_);
  if (!refusal(std::nullopt, deps_.clock.now())) return std::nullopt;
  return elector_.term();
}

core::Result<void> LeaderElection::checkWrite(std::uint64_t term) const {
  std::lock_guard lock(mu_);
  return refusal(term, deps_.clock.now());
}

core::Result<void> LeaderElection::admitAttempt(std::string_view action) const {
  if (!isWriteAction(action)) return {};
  std::lock_guard lock(mu_);
  return refusal(std::nullopt, deps_.clock.now());
}

std::string LeaderElection::describeLeader() const {
  std::lock_guard lock(mu_);
  return describeLeaderLocked();
}

std::string LeaderElection::describeLeaderLocked() const {
  if (elector_.leading()) {
    return "this replica (" + options_.identity + ") leads (term " +
           std::to_string(elector_.term()) + ")";
  }
  const auto& observed = elector_.observed();
  if (!observed) {
    return lastError_.empty() ? "no replica leads yet" : "the lease cannot be read: " + lastError_;
  }
  if (observed->holder.empty()) {
    return "no replica leads: the lease is free (last term " + std::to_string(observed->fence) +
           ")";
  }
  return observed->holder + " leads (term " + std::to_string(observed->fence) + ")";
}

LeaderStatus LeaderElection::status() const {
  std::lock_guard lock(mu_);
  const auto now = deps_.clock.now();
  LeaderStatus out;
  out.identity = options_.identity;
  out.table = options_.table;
  out.leaseName = options_.leaseName;
  out.leading = !gateClosed_ && elector_.mayWrite(elector_.term(), now);
  const auto& observed = elector_.observed();
  out.recordExists = observed.has_value();
  if (observed) {
    out.holder = observed->holder;
    out.term = observed->fence;
    if (!elector_.leading()) out.unchangedFor = now - elector_.observedSince();
  }
  if (elector_.leading()) out.term = elector_.term();
  out.lastError = lastError_;
  out.transitions = transitions_;
  return out;
}

}  // namespace endpointbinder::runtime
