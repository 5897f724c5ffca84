// Route53Api: the Route 53 calls a DNSRecordBinding needs (read a hosted zone and its VPC
// associations, read every record set of a zone, write a change batch, follow a change until
// INSYNC), behind a small interface so the record reconciler can be tested with a fake. The
// real implementation (Route53Client) speaks Route 53's REST-XML API (2013-04-01) on the
// global endpoint (signed for us-east-1, service "route53"): SigV4, standard-mode retries
// (Throttling and PriorRequestNotComplete are retryable) and a client-side bucket under
// Route 53's 5 requests per second per account.
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/core/error.h"

namespace endpointbinder::aws {

struct HostedZoneVpc {
  std::string region;  // VPCRegion, e.g. eu-west-1
  std::string vpcId;   // vpc-...
};

// GetHostedZone. `id` without the "/hostedzone/" prefix; `name` as Route 53 returns it, with
// the trailing dot ("corp.internal."). `vpcs` is only filled for private zones.
struct HostedZoneInfo {
  std::string id;
  std::string name;
  bool privateZone = false;
  std::int64_t recordSetCount = 0;
  std::vector<HostedZoneVpc> vpcs;
};

// One resource record set as ListResourceRecordSets returns it. `name` is Route 53's form:
// lower case as written, absolute (trailing dot), with Route 53's escapes ("\052" for '*')
// left as they are. A set with an alias target or a routing policy (weighted, latency,
// failover, geolocation, multivalue: any SetIdentifier) is reported with `special` set and
// its values empty: the controller never writes such sets and treats their names as
// foreign.
struct ResourceRecordSet {
  std::string name;
  std::string type;  // A, AAAA, TXT, PTR, CNAME, ...
  std::int64_t ttl = 0;
  std::vector<std::string> values;  // ResourceRecord/Value, in the order Route 53 lists them
  std::string setIdentifier;        // empty for simple routing
  bool special = false;             // alias or routing policy: never ours
  bool operator==(const ResourceRecordSet&) const = default;
};

enum class ChangeAction { kCreate, kDelete, kUpsert };

struct RecordChange {
  ChangeAction action = ChangeAction::kUpsert;
  ResourceRecordSet set;  // a DELETE carries the exact current set (name, type, TTL, values)
};

// A change batch's progress: `status` is PENDING or INSYNC; `id` without "/change/".
struct ChangeInfo {
  std::string id;
  std::string status;
  std::string submittedAt;  // ISO 8601 as Route 53 returns it
};

class Route53Api {
 public:
  virtual ~Route53Api() = default;

  // GetHostedZone. An unknown zone is an Error of kind kNotFound (NoSuchHostedZone).
  virtual core::Result<HostedZoneInfo> getHostedZone(const std::string& zoneId) = 0;

  // ListResourceRecordSets, every page (StartRecordName/Type/Identifier continuation), in
  // Route 53's order.
  virtual core::Result<std::vector<ResourceRecordSet>> listResourceRecordSets(
      const std::string& zoneId) = 0;

  // ChangeResourceRecordSets with `changes` as one batch (the caller keeps a batch within
  // Route 53's limits: 1,000 records and 32,000 characters of values). Route 53 applies a
  // batch all or nothing: InvalidChangeBatch (a DELETE that does not match, a CREATE of an
  // existing set) is an Error of kind kTerminal whose message carries Route 53's messages.
  virtual core::Result<ChangeInfo> changeResourceRecordSets(
      const std::string& zoneId, const std::vector<RecordChange>& changes,
      const std::string& comment) = 0;

  // GetChange. An unknown id is kNotFound (NoSuchChange).
  virtual core::Result<ChangeInfo> getChange(const std::string& changeId) = 0;
};

}  // namespace endpointbinder::aws
