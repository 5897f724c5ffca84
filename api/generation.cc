#include "api/generation.h"

#include <type_traits>
#include <variant>

namespace endpointbinder::api {

namespace {

class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::string_view header) { out_ = std::string(header) + "\n"; }

  void put(std::string_view path, std::string_view value) {
    out_.append(path);
    out_ += '=';
    out_ += std::to_string(value.size());
    out_ += ':';
    out_.append(value);
    out_ += '\n';
  }
  // Distinct names, not overloads: a string literal would otherwise convert to bool.
  void putInt(std::string_view path, int64_t value) { put(path, std::to_string(value)); }
  void putBool(std::string_view path, bool value) { put(path, value ? "true" : "false"); }
  // Milliseconds, so "90m" and "1h30m" serialize alike.
  void putDuration(std::string_view path, Duration value) {
    put(path, std::to_string(value.count()) + "ms");
  }
  void absent(std::string_view path) {
    out_.append(path);
    out_ += "~\n";
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string indexed(std::string_view path, size_t index, std::string_view field = {}) {
  std::string out(path);
  out += "[" + std::to_string(index) + "]";
  if (!field.empty()) out += "." + std::string(field);
  return out;
}

void writeSource(CanonicalWriter& w, const Source& source) {
  w.put("source.kind", sourceKindName(source));
  std::visit(
      [&w](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, DnsSource>) {
          w.put("source.dns.hostname", s.hostname);
          w.putBool("source.dns.ipv4", s.ipv4);
          w.putBool("source.dns.ipv6", s.ipv6);
          w.putInt("source.dns.lookupsPerRefresh", int64_t{s.lookupsPerRefresh});
          w.putDuration("source.dns.minRefreshInterval", s.minRefreshInterval);
          w.putDuration("source.dns.maxRefreshInterval", s.maxRefreshInterval);
        } else if constexpr (std::is_same_v<T, StaticSource>) {
          w.putInt("source.static.addresses.count", static_cast<int64_t>(s.addresses.size()));
          for (size_t i = 0; i < s.addresses.size(); ++i) {
            w.put(indexed("source.static.addresses", i), s.addresses[i].toString());
          }
        } else if constexpr (std::is_same_v<T, Ec2Source>) {
          w.putInt("source.ec2.filters.count", static_cast<int64_t>(s.filters.size()));
          for (size_t i = 0; i < s.filters.size(); ++i) {
            const auto& filter = s.filters[i];
            w.put(indexed("source.ec2.filters", i, "name"), filter.name);
            const std::string values = indexed("source.ec2.filters", i, "values");
            w.putInt(values + ".count", static_cast<int64_t>(filter.values.size()));
            for (size_t k = 0; k < filter.values.size(); ++k) {
              w.put(indexed(values, k), filter.values[k]);
            }
          }
          w.putInt("source.ec2.states.count", static_cast<int64_t>(s.states.size()));
          for (size_t i = 0; i < s.states.size(); ++i) {
            w.put(indexed("source.ec2.states", i), s.states[i]);
          }
        } else if constexpr (std::is_same_v<T, SpotFleetSource>) {
          w.put("source.spotFleet.requestId", s.requestId);
        } else {
          static_assert(std::is_same_v<T, AutoScalingGroupSource>);
          w.put("source.autoScalingGroup.name", s.name);
        }
      },
      source);
}

const char* eventName(NotificationEvent event) {
  switch (event) {
    case NotificationEvent::kRegistered:
      return "Registered";
    case NotificationEvent::kDeregistered:
      return "Deregistered";
    case NotificationEvent::kBlocked:
      return "Blocked";
    case NotificationEvent::kConflict:
      return "Conflict";
    case NotificationEvent::kFailing:
      return "Failing";
  }
  return "?";
}

std::string hex16(uint64_t value) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<size_t>(i)] = kDigits[value & 0xF];
  return out;
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string canonicalSpec(const TargetGroupBindingSpec& spec) {
  CanonicalWriter w("endpointbinder.io/v1alpha1 TargetGroupBinding canonical/1");
  w.put("targetGroupARN", spec.targetGroupArn.text);
  w.put("targetType", spec.targetType == TargetType::kIp ? "ip" : "instance");
  if (spec.port) {
    w.putInt("port", int64_t{*spec.port});
  } else {
    w.absent("port");
  }
  if (spec.availabilityZone) {
    w.put("availabilityZone", *spec.availabilityZone);
  } else {
    w.absent("availabilityZone");
  }
  writeSource(w, spec.source);
  // Written only when set, so the generations of bindings without a role stay what they were.
  if (spec.assumeRole) {
    w.put("assumeRoleARN", spec.assumeRole->role.text);
    w.put("externalId", spec.assumeRole->externalId);
  }
  const Policy& policy = spec.policy;
  w.putDuration("policy.deregistrationGracePeriod", policy.deregistrationGracePeriod);
  w.putDuration("policy.unhealthyGracePeriod", policy.unhealthyGracePeriod);
  w.putBool("policy.prune", policy.prune);
  w.putInt("policy.minTargets", int64_t{policy.minTargets});
  w.put("policy.maxDeregistrationsPerSync", policy.maxDeregistrationsPerSync.toString());
  // Written only when not the default, so adding the field kept every existing generation.
  if (!policy.requireHealthyReplacements) w.putBool("policy.requireHealthyReplacements", false);
  w.putInt("policy.allowedCIDRs.count", static_cast<int64_t>(policy.allowedCidrs.size()));
  for (size_t i = 0; i < policy.allowedCidrs.size(); ++i) {
    w.put(indexed("policy.allowedCIDRs", i), policy.allowedCidrs[i].toString());
  }
  w.put("policy.deletionPolicy",
        policy.deletionPolicy == DeletionPolicy::kRetain ? "Retain" : "Deregister");
  // Written only when it differs from the source kind's default, so adding the field kept
  // every existing generation and writing the default changes nothing.
  if (deregistersOnSpotInterruption(spec) != std::holds_alternative<SpotFleetSource>(spec.source)) {
    w.putBool("policy.deregisterOnSpotInterruption", deregistersOnSpotInterruption(spec));
  }
  w.putInt("notifications.count", static_cast<int64_t>(spec.notifications.size()));
  for (size_t i = 0; i < spec.notifications.size(); ++i) {
    const Notification& n = spec.notifications[i];
    const std::string slack = indexed("notifications", i, "slackWebhookSecretRef.ssmParameter");
    const std::string sns = indexed("notifications", i, "snsTopicARN");
    if (n.slackWebhookSsmParameter) {
      w.put(slack, *n.slackWebhookSsmParameter);
    } else {
      w.absent(slack);
    }
    if (n.snsTopicArn) {
      w.put(sns, *n.snsTopicArn);
    } else {
      w.absent(sns);
    }
    const std::string on = indexed("notifications", i, "on");
    w.putInt(on + ".count", static_cast<int64_t>(n.on.size()));
    for (size_t k = 0; k < n.on.size(); ++k) w.put(indexed(on, k), eventName(n.on[k]));
  }
  return w.take();
}

std::string canonicalSpec(const DnsRecordBindingSpec& spec) {
  CanonicalWriter w("endpointbinder.io/v1alpha1 DNSRecordBinding canonical/1");
  w.put("hostedZoneId", spec.hostedZoneId);
  writeSource(w, spec.source);
  w.put("record.nameFrom", spec.record.nameFrom);
  w.put("record.type", spec.record.type == RecordType::kA ? "A" : "AAAA");
  w.putInt("record.ttl", int64_t{spec.record.ttl});
  w.putDuration("policy.deregistrationGracePeriod", spec.policy.deregistrationGracePeriod);
  w.putBool("policy.prune", spec.policy.prune);
  // Fields added later are written only when not the default: existing generations stay.
  if (spec.reverseHostedZoneId) w.put("reverseHostedZoneId", *spec.reverseHostedZoneId);
  if (spec.policy.minRecords != 1) w.putInt("policy.minRecords", int64_t{spec.policy.minRecords});
  if (spec.policy.maxDeletionsPerSync.toString() != "50%") {
    w.put("policy.maxDeletionsPerSync", spec.policy.maxDeletionsPerSync.toString());
  }
  if (spec.policy.deletionPolicy != DeletionPolicy::kRetain)
    w.put("policy.deletionPolicy", "Delete");
  return w.take();
}

std::string specGeneration(const TargetGroupBindingSpec& spec) {
  return hex16(fnv1a64(canonicalSpec(spec)));
}

std::string specGeneration(const DnsRecordBindingSpec& spec) {
  return hex16(fnv1a64(canonicalSpec(spec)));
}

}  // namespace endpointbinder::api
