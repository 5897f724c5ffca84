// Manifest types of endpointbinder.io/v1alpha1: the contract users write in git.
//
// These are plain values produced by the decoder (api/decode.h) with every default applied
// and every field validated, so code downstream never re-checks them. Field names follow
// the YAML (lowerCamel). See shared design API.md and README "Manifest reference".
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/net.h"

namespace endpointbinder::api {

inline constexpr const char* kApiVersion = "endpointbinder.io/v1alpha1";
inline constexpr const char* kKindTargetGroupBinding = "TargetGroupBinding";
inline constexpr const char* kKindDnsRecordBinding = "DNSRecordBinding";

using Duration = std::chrono::milliseconds;

// Where an object came from, for messages that point back at the manifest.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

struct ObjectMeta {
  std::string name;            // DNS-1123 label
  std::string ns = "default";  // "namespace" in YAML
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  std::string key() const { return ns + "/" + name; }
};

// arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>
struct TargetGroupArn {
  std::string text;  // as written (validated)
  std::string partition;
  std::string region;
  std::string account;
  std::string name;
  std::string id;
};

// An IAM role (spec.assumeRoleARN): the partition and account it lives in.
struct RoleArn {
  std::string text;  // as written (validated)
  std::string partition;
  std::string account;
  std::string name;  // the last path segment
};

// How to reach a target group in another account: assume `role` (with `externalId` when the
// role's trust policy asks for one) and call ELBv2 with those credentials.
struct AssumeRole {
  RoleArn role;
  std::string externalId;  // empty: none sent
};

enum class TargetType { kIp, kInstance };

// A count ("5") or a percentage ("50%") of the currently registered targets.
struct CountOrPercent {
  bool isPercent = false;
  int value = 0;
  // The absolute number for `total` targets; percentages round down but never to zero
  // when value > 0 and total > 0 (so "10%" of 3 still allows one removal).
  int resolve(int total) const;
  std::string toString() const;
};

// ---- sources: exactly one per binding ----
struct DnsSource {
  std::string hostname;  // RFC 1123, lowercased, no trailing dot
  bool ipv4 = true;      // addressFamilies: [IPv4] (default), [IPv6], [IPv4, IPv6] or [both]
  bool ipv6 = false;
  int lookupsPerRefresh = 1;  // 1..16; answers are unioned
  Duration minRefreshInterval = std::chrono::seconds(5);
  Duration maxRefreshInterval = std::chrono::seconds(60);
};

struct StaticSource {
  std::vector<IpAddress> addresses;  // non-empty, no duplicates
};

struct Ec2Filter {
  std::string name;  // e.g. "tag:role", "instance-state-name"
  std::vector<std::string> values;
};

struct Ec2Source {
  std::vector<Ec2Filter> filters;  // non-empty: "every instance in the account" is never meant
  std::vector<std::string> states = {"running"};
};

struct SpotFleetSource {
  std::string requestId;  // sfr-<uuid>
};

struct AutoScalingGroupSource {
  std::string name;
};

using Source =
    std::variant<DnsSource, StaticSource, Ec2Source, SpotFleetSource, AutoScalingGroupSource>;

// The YAML key of the alternative: "dns", "static", "ec2", "spotFleet", "autoScalingGroup".
const char* sourceKindName(const Source& source);

enum class DeletionPolicy { kRetain, kDeregister };

struct Policy {
  Duration deregistrationGracePeriod = std::chrono::minutes(3);
  Duration unhealthyGracePeriod = Duration::zero();  // zero: never act on health
  bool prune = true;
  int minTargets = 1;  // counts serving targets (healthy, or unavailable with checks disabled)
  CountOrPercent maxDeregistrationsPerSync{true, 50};
  // A serving target the source no longer lists waits while a target the source does list is
  // registered but not serving yet (a blue/green whose new side never passes health checks
  // must not become an outage). false: only grace, floors and caps apply.
  bool requireHealthyReplacements = true;
  std::vector<Cidr> allowedCidrs;  // default: RFC 1918 + 100.64.0.0/10 (see defaultAllowedCidrs)
  DeletionPolicy deletionPolicy = DeletionPolicy::kRetain;
  // Deregister an instance as soon as its Spot interruption warning arrives (two minutes'
  // notice), ahead of the grace period. Unset: the default of the source kind (on for
  // spotFleet, off for ec2 and autoScalingGroup); see deregistersOnSpotInterruption().
  // Instance sources only.
  std::optional<bool> deregisterOnSpotInterruption;
};

std::vector<Cidr> defaultAllowedCidrs();

enum class NotificationEvent { kRegistered, kDeregistered, kBlocked, kConflict, kFailing };

struct Notification {
  std::optional<std::string> slackWebhookSsmParameter;  // slackWebhookSecretRef.ssmParameter
  std::optional<std::string> snsTopicArn;               // snsTopicARN
  std::vector<NotificationEvent> on;
};

struct TargetGroupBindingSpec {
  TargetGroupArn targetGroupArn;
  TargetType targetType = TargetType::kIp;
  std::optional<int> port;                      // default: the target group's port
  std::optional<std::string> availabilityZone;  // "all" or an AZ name
  Source source;
  Policy policy;
  std::vector<Notification> notifications;
  // Target groups of another account (spec.assumeRoleARN, spec.externalId); nullopt: the
  // controller's own credentials.
  std::optional<AssumeRole> assumeRole;
};

// policy.deregisterOnSpotInterruption with its default applied: on for spotFleet sources.
bool deregistersOnSpotInterruption(const TargetGroupBindingSpec& spec);

struct TargetGroupBinding {
  ObjectMeta metadata;
  TargetGroupBindingSpec spec;
  // Stable content hash of the spec with defaults applied (16 lowercase hex digits): equal
  // specs give equal generations across runs, machines and key order in the YAML.
  std::string generation;
  SourceLocation origin;
};

enum class RecordType { kA, kAAAA };

struct DnsRecordSpec {
  std::string nameFrom = "tag:Name";  // "tag:<key>" or "instance-id"
  RecordType type = RecordType::kA;
  int ttl = 60;  // 0..2147483647 seconds, Route 53's range
};

struct DnsRecordPolicy {
  Duration deregistrationGracePeriod = std::chrono::minutes(3);
  bool prune = true;
  int minRecords = 1;  // deletions never leave fewer of the binding's records (floor)
  CountOrPercent maxDeletionsPerSync{true, 50};  // of the binding's records, per sync
  // What a deleted binding does with its records: kRetain leaves them (and their ownership
  // records, for a successor to adopt); kDeregister deletes them.
  DeletionPolicy deletionPolicy = DeletionPolicy::kRetain;
};

struct DnsRecordBindingSpec {
  std::string hostedZoneId;  // Z + 1..32 upper-case alphanumerics
  // Optional: a reverse zone (in-addr.arpa / ip6.arpa) for PTR records of the same instances.
  std::optional<std::string> reverseHostedZoneId;
  Source source;  // ec2, spotFleet or autoScalingGroup (instances with names)
  DnsRecordSpec record;
  DnsRecordPolicy policy;
};

struct DnsRecordBinding {
  ObjectMeta metadata;
  DnsRecordBindingSpec spec;
  std::string generation;
  SourceLocation origin;
};

}  // namespace endpointbinder::api
