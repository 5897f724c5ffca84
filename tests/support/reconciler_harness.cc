#include "tests/support/reconciler_harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <variant>

namespace endpointbinder::testing {

using web::json::value;

// ---- ScriptedSource ---------------------------------------------------------------------------

runtime::SourceSnapshot ScriptedSource::snapshot(const api::TargetGroupBinding& binding) {
  runtime::SourceSnapshot out;
  if (const auto* fixed = std::get_if<api::StaticSource>(&binding.spec.source)) {
    out.hasAnswer = true;
    for (const auto& a : fixed->addresses) out.ids.push_back(a.toString());
    return out;
  }
  const auto* dns = std::get_if<api::DnsSource>(&binding.spec.source);
  if (dns == nullptr) {
    out.failing = true;
    out.failureReason = "not scripted";
    return out;
  }
  const auto it = answers.find(dns->hostname);
  if (it == answers.end()) {
    out.failing = true;
    out.failureReason = "waiting for the first DNS answer";
    return out;
  }
  const Answer& a = it->second;
  out.hasAnswer = a.hasAnswer;
  out.ids = a.ids;
  out.failing = a.failing || !a.hasAnswer;
  out.failureReason = a.reason;
  out.departed = a.departed;
  out.lastSuccess = a.lastSuccess;
  if (a.failing) out.failingSince = a.lastSuccess;
  return out;
}

void ScriptedSource::answer(const std::string& hostname, std::vector<std::string> ids,
                            core::MonoTime now) {
  Answer& a = answers[hostname];
  for (const auto& old : a.ids) {
    if (std::find(ids.begin(), ids.end(), old) == ids.end()) {
      std::erase_if(a.departed, [&](const auto& d) { return d.id == old; });
      a.departed.push_back(runtime::DepartedId{old, now});
    }
  }
  std::erase_if(a.departed, [&](const auto& d) {
    return std::find(ids.begin(), ids.end(), d.id) != ids.end();
  });
  a.ids = std::move(ids);
  a.failing = false;
  a.reason.clear();
  a.hasAnswer = true;
  a.lastSuccess = now;
}

void ScriptedSource::fail(const std::string& hostname, std::string reason) {
  Answer& a = answers[hostname];
  a.failing = true;
  a.reason = std::move(reason);
}

// ---- RecordingApi -------------------------------------------------------------------------------

std::optional<core::Error> RecordingApi::beforeSending(const std::string& action) {
  ++calls[action];
  if (beforeCall) beforeCall(action);
  if (!failNext.erase(action)) return std::nullopt;
  return core::makeError(core::ErrorKind::kRetryable, "injected failure of " + action,
                         "ServiceUnavailable")
      .error();
}

core::Result<std::vector<aws::TargetGroupInfo>> RecordingApi::describeTargetGroups(
    const std::vector<std::string>& arns) {
  if (auto e = beforeSending("DescribeTargetGroups")) return std::unexpected(*e);
  return inner_.describeTargetGroups(arns);
}

core::Result<std::vector<core::ObservedTarget>> RecordingApi::describeTargetHealth(
    const std::string& arn) {
  if (auto e = beforeSending("DescribeTargetHealth")) return std::unexpected(*e);
  return inner_.describeTargetHealth(arn);
}

core::Result<void> RecordingApi::registerTargets(const std::string& arn,
                                                 const std::vector<core::Target>& targets) {
  if (auto e = beforeSending("RegisterTargets")) return std::unexpected(*e);
  auto r = inner_.registerTargets(arn, targets);
  if (r) {
    Write w{"RegisterTargets", arn, {}, clock_.now()};
    for (const auto& t : targets) w.keys.push_back(t.key());
    writes.push_back(std::move(w));
  }
  return r;
}

core::Result<void> RecordingApi::deregisterTargets(const std::string& arn,
                                                   const std::vector<core::Target>& targets) {
  if (auto e = beforeSending("DeregisterTargets")) return std::unexpected(*e);
  auto r = inner_.deregisterTargets(arn, targets);
  if (r) {
    Write w{"DeregisterTargets", arn, {}, clock_.now()};
    for (const auto& t : targets) w.keys.push_back(t.key());
    writes.push_back(std::move(w));
  }
  return r;
}

core::Result<std::map<std::string, aws::Tags>> RecordingApi::describeTags(
    const std::vector<std::string>& arns) {
  if (auto e = beforeSending("DescribeTags")) return std::unexpected(*e);
  return inner_.describeTags(arns);
}

core::Result<void> RecordingApi::addTags(const std::string& arn, const aws::Tags& tags) {
  if (auto e = beforeSending("AddTags")) return std::unexpected(*e);
  auto r = inner_.addTags(arn, tags);
  if (r) {
    Write w{"AddTags", arn, {}, clock_.now()};
    for (const auto& [k, v] : tags) w.keys.push_back(k + "=" + v);
    writes.push_back(std::move(w));
  }
  return r;
}

core::Result<void> RecordingApi::removeTags(const std::string& arn,
                                            const std::vector<std::string>& keys) {
  if (auto e = beforeSending("RemoveTags")) return std::unexpected(*e);
  auto r = inner_.removeTags(arn, keys);
  if (r) writes.push_back(Write{"RemoveTags", arn, keys, clock_.now()});
  return r;
}

std::vector<RecordingApi::Write> RecordingApi::writesOf(const std::string& action) const {
  std::vector<Write> out;
  for (const auto& w : writes) {
    if (w.action == action) out.push_back(w);
  }
  return out;
}

// ---- ReconcilerHarness ------------------------------------------------------------------------

namespace {

// What the harness's AWS clients retry with (quickly: the emulator is local), and their
// backoff jitter (fixed: runs repeat).
aws::RetryOptions clientRetry() {
  aws::RetryOptions retry;
  retry.maxAttempts = 2;
  retry.baseDelay = std::chrono::milliseconds(5);
  retry.maxBackoff = std::chrono::milliseconds(20);
  return retry;
}

aws::QueryClientHooks clientHooks() {
  aws::QueryClientHooks hooks;
  hooks.random = [] { return 0.5; };
  return hooks;
}

}  // namespace

ReconcilerHarness::ReconcilerHarness(runtime::ReconcilerOptions options)
    : options_(std::move(options)) {
  clock.advance(std::chrono::hours(1000));  // far from the epoch: "never" is distinguishable
  EmulatorOptions emulatorOptions;
  emulatorOptions.args = {"--no-throttle", "--healthy-after", "0"};
  auto emulator = EmulatorProcess::start(std::move(emulatorOptions));
  if (!emulator) {
    error_ = emulator.error().toString();
    return;
  }
  emulator_ = std::move(*emulator);
  auto transport = aws::CpprestTransport::create(aws::CpprestTransportOptions{});
  if (!transport) {
    error_ = transport.error().toString();
    return;
  }
  transport_ = std::move(*transport);
  aws::Credentials credentials;
  credentials.accessKeyId = "test";
  credentials.secretAccessKey = "test";
  credentials.providerName = "static";
  credentials_.set(std::move(credentials));
  client_ = std::make_unique<aws::Elbv2Client>(
      aws::elbv2ServiceOptions("us-east-1", emulator_->url(), clientRetry()), *transport_,
      credentials_, signingClock_, clientHooks());
  api = std::make_unique<RecordingApi>(*client_, clock);
  build();
}

ReconcilerHarness::~ReconcilerHarness() = default;

void ReconcilerHarness::build() {
  reconciler_.reset();
  // A new process assumes its roles again (and asks STS who it is).
  aws::AssumeRoleApisOptions accountOptions;
  accountOptions.sts = aws::stsServiceOptions("us-east-1", emulator_->url(), clientRetry());
  accountOptions.elbv2 = aws::elbv2ServiceOptions("us-east-1", emulator_->url(), clientRetry());
  accountOptions.caching.retryAfterFailure = std::chrono::seconds(1);  // tests wait it out
  accounts_ = std::make_unique<aws::AssumeRoleApis>(
      std::move(accountOptions), *transport_, credentials_, signingClock_, clientHooks(), nullptr);
  observed_ = std::make_unique<runtime::ObservedCache>(
      clock, runtime::ObservedCache::Options{options_.resyncPeriod, std::chrono::minutes(2)});
  reconciler_ = std::make_unique<runtime::Reconciler>(
      runtime::Reconciler::Deps{
          [this](const std::string& key) -> std::optional<runtime::DesiredBinding> {
            const auto it = desired_.find(key);
            if (it == desired_.end()) return std::nullopt;
            return it->second;
          },
          source, *api, *observed_, *status_, clock, log_, nullptr,
          [this](const std::string& arn) {
            std::vector<std::string> keys;
            for (const auto& [key, d] : desired_) {
              if (d.binding->spec.targetGroupArn.text == arn) keys.push_back(key);
            }
            return keys;
          },
          [this] { return manifestsSettled; }, observer, writeGate, accounts_.get()},
      options_);
}

void ReconcilerHarness::restart() {
  status_ = std::make_unique<runtime::StatusStore>();
  build();
}

std::string ReconcilerHarness::createGroup(const std::string& name,
                                           std::map<std::string, std::string> tags,
                                           const std::string& ipAddressType) {
  return createGroupIn("", name, std::move(tags), ipAddressType);
}

std::string ReconcilerHarness::createGroupIn(const std::string& account, const std::string& name,
                                             std::map<std::string, std::string> tags,
                                             const std::string& ipAddressType) {
  value spec = value::object();
  spec["name"] = value::string(name);
  if (!account.empty()) spec["account"] = value::string(account);
  spec["protocol"] = value::string("HTTPS");
  spec["port"] = value::number(443);
  spec["targetType"] = value::string("ip");
  spec["ipAddressType"] = value::string(ipAddressType);
  spec["deregistrationDelay"] = value::number(300);
  value tagObject = value::object();
  for (const auto& [k, v] : tags) tagObject[k] = value::string(v);
  spec["tags"] = tagObject;
  auto arn = emulator_->createTargetGroup(spec);
  EXPECT_TRUE(arn.has_value()) << arn.error().toString();
  return arn.value_or("");
}

void ReconcilerHarness::putRole(const std::string& roleArn, const std::string& externalId,
                                const std::vector<std::string>& trusted) {
  value role = value::object();
  role["arn"] = value::string(roleArn);
  if (!externalId.empty()) role["externalId"] = value::string(externalId);
  value list = value::array();
  for (size_t i = 0; i < trusted.size(); ++i) list[i] = value::string(trusted[i]);
  role["trusted"] = list;
  auto put = emulator_->control("POST", "roles", role);
  EXPECT_TRUE(put.has_value()) << put.error().toString();
}

void ReconcilerHarness::deleteRole(const std::string& roleArn) {
  auto removed = emulator_->control("DELETE", "roles?arn=" + web::uri::encode_data_string(roleArn));
  EXPECT_TRUE(removed.has_value()) << removed.error().toString();
}

std::vector<RecordingApi::Write> ReconcilerHarness::loggedDeregistrations(const std::string& arn,
                                                                          long long& since) {
  std::vector<RecordingApi::Write> out;
  auto log = emulator_->control("GET", "requests?since=" + std::to_string(since));
  EXPECT_TRUE(log.has_value()) << log.error().toString();
  if (!log) return out;
  for (const value& entry : log->at("requests").as_array()) {
    since = std::max<long long>(since, entry.at("seq").as_number().to_int64());
    if (entry.at("action").as_string() != "DeregisterTargets" ||
        entry.at("status").as_integer() != 200 || !entry.at("params").is_object()) {
      continue;
    }
    const value& params = entry.at("params");
    if (!params.has_string_field("TargetGroupArn") ||
        params.at("TargetGroupArn").as_string() != arn) {
      continue;
    }
    RecordingApi::Write write{"DeregisterTargets", arn, {}, clock.now()};
    for (int i = 1;; ++i) {
      const std::string prefix = "Targets.member." + std::to_string(i) + ".";
      if (!params.has_string_field(prefix + "Id")) break;
      const std::string port = params.has_string_field(prefix + "Port")
                                   ? params.at(prefix + "Port").as_string()
                                   : std::string("?");
      write.keys.push_back(params.at(prefix + "Id").as_string() + ":" + port);
    }
    out.push_back(std::move(write));
  }
  return out;
}

std::string ReconcilerHarness::apply(const std::string& yaml) {
  auto set = api::decodeManifests(yaml, "m" + std::to_string(++fileCounter_) + ".yaml");
  EXPECT_TRUE(set.ok()) << (set.errors.empty() ? "" : set.errors.front().toString());
  EXPECT_EQ(set.targetGroupBindings.size(), 1u);
  if (set.targetGroupBindings.empty()) return "";
  auto binding = set.targetGroupBindings.front();
  const auto key = binding.metadata.key();
  source.track(binding);
  desired_[key] = runtime::DesiredBinding{
      std::make_shared<const api::TargetGroupBinding>(std::move(binding)), false, "", false};
  return key;
}

core::Result<runtime::ReconcileResult> ReconcilerHarness::reconcile(const std::string& key) {
  return reconciler_->reconcile(key);
}

void ReconcilerHarness::expireAll() {
  auto state = emulator_->state();
  if (!state) return;
  for (const value& group : state->at("targetGroups").as_array()) {
    observed_->expire(group.at("arn").as_string());
  }
}

std::map<std::string, std::string> ReconcilerHarness::targets(const std::string& arn) {
  std::map<std::string, std::string> out;
  auto state = emulator_->state();
  EXPECT_TRUE(state.has_value());
  if (!state) return out;
  for (const value& group : state->at("targetGroups").as_array()) {
    if (group.at("arn").as_string() != arn) continue;
    for (const value& t : group.at("targets").as_array()) {
      out[t.at("id").as_string() + ":" + std::to_string(t.at("port").as_integer())] =
          t.at("state").as_string();
    }
  }
  return out;
}

std::set<std::string> ReconcilerHarness::registered(const std::string& arn) {
  std::set<std::string> out;
  for (const auto& [key, state] : targets(arn)) {
    if (state != "draining" && state != "unhealthy.draining") out.insert(key);
  }
  return out;
}

std::optional<std::string> ReconcilerHarness::owner(const std::string& arn) {
  auto state = emulator_->state();
  if (!state) return std::nullopt;
  for (const value& group : state->at("targetGroups").as_array()) {
    if (group.at("arn").as_string() != arn) continue;
    const value& tags = group.at("tags");
    if (tags.has_field(runtime::kOwnerTagKey)) {
      return tags.at(runtime::kOwnerTagKey).as_string();
    }
  }
  return std::nullopt;
}

void ReconcilerHarness::setDead(const std::vector<std::string>& ids, bool dead) {
  value body = value::object();
  std::vector<value> list;
  for (const auto& id : ids) list.push_back(value::string(id));
  body["ids"] = value::array(list);
  body["dead"] = value::boolean(dead);
  auto r = emulator_->control("POST", "dead-targets", body);
  EXPECT_TRUE(r.has_value()) << r.error().toString();
}

void ReconcilerHarness::registerByHand(const std::string& arn,
                                       const std::vector<std::string>& ids) {
  value body = value::object();
  body["arn"] = value::string(arn);
  std::vector<value> list;
  for (const auto& id : ids) list.push_back(value::string(id));
  body["targets"] = value::array(list);
  body["state"] = value::string("healthy");
  auto r = emulator_->control("POST", "targets", body);
  EXPECT_TRUE(r.has_value()) << r.error().toString();
}

void ReconcilerHarness::tag(const std::string& arn, const std::string& key,
                            const std::string& tagValue) {
  auto r = client_->addTags(arn, {{key, tagValue}});
  EXPECT_TRUE(r.has_value()) << r.error().toString();
}

void ReconcilerHarness::untag(const std::string& arn, const std::string& key) {
  auto r = client_->removeTags(arn, {key});
  EXPECT_TRUE(r.has_value()) << r.error().toString();
}

bool ReconcilerHarness::hasEvent(const std::string& key, const std::string& reason) {
  auto s = status_->get(key);
  if (!s) return false;
  return std::any_of(s->events.begin(), s->events.end(),
                     [&](const runtime::Event& e) { return e.reason == reason; });
}

std::string ReconcilerHarness::condition(const std::string& key, const std::string& type) {
  auto s = status_->get(key);
  if (!s) return "";
  const auto* c = s->condition(type);
  if (!c) return "";
  return std::string(runtime::conditionStatusName(c->status)) + " " + c->reason;
}

std::vector<std::string> ReconcilerHarness::held(const std::string& key,
                                                 const std::string& reason) {
  std::vector<std::string> out;
  auto s = status_->get(key);
  if (!s || !s->lastPlan) return out;
  for (const auto& h : s->lastPlan->held) {
    // "id:port: Reason: message"
    const auto first = h.find(": ");
    if (first == std::string::npos) continue;
    const auto rest = h.substr(first + 2);
    if (rest.rfind(reason + ":", 0) == 0) out.push_back(h.substr(0, first));
  }
  return out;
}

}  // namespace endpointbinder::testing
