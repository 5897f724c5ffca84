// Elbv2Client: TargetGroupApi over the ELBv2 Query API (2015-12-01) — SigV4, standard-mode
// retries and per-action client-side token buckets, all through QueryClient. Batches as the
// API requires: DescribeTargetGroups pages with Marker/NextMarker (PageSize 400), Register/
// DeregisterTargets send at most 200 targets per call, DescribeTags at most 20 ARNs per call.
// A multi-call operation stops at the first failing call and returns its error; calls already
// made stay made (register/deregister are idempotent, so the next reconcile simply repeats).
// Thread-safety: all methods may be called concurrently (QueryClient is thread-safe).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controller/aws/elbv2.h"
#include "controller/aws/query_client.h"

namespace endpointbinder::aws {

struct Elbv2ClientOptions {
  int targetsPerCall = 200;      // Register/DeregisterTargets chunk size
  int arnsPerDescribeTags = 20;  // DescribeTags accepts at most 20 ResourceArns
  int pageSize = 400;            // DescribeTargetGroups PageSize (1..400)
  int maxPages = 1000;           // guard against a service that never stops paging
};

// Service options for ELBv2 in `region`. An empty `endpoint` means the public regional endpoint
// https://elasticloadbalancing.<region>.amazonaws.com; callers with an AWS_ENDPOINT_URL* value
// (or a VPC endpoint) pass it instead.
QueryServiceOptions elbv2ServiceOptions(std::string region, std::string endpoint = {},
                                        RetryOptions retry = {});

class Elbv2Client final : public TargetGroupApi {
 public:
  // `service` normally comes from elbv2ServiceOptions(). The references must outlive the client.
  Elbv2Client(QueryServiceOptions service, HttpTransport& transport,
              CredentialsProvider& credentials, const core::Clock& clock,
              QueryClientHooks hooks = {}, Elbv2ClientOptions options = {});

  // An empty `arns` returns an empty list without calling AWS (an empty filter would list every
  // target group in the account).
  core::Result<std::vector<TargetGroupInfo>> describeTargetGroups(
      const std::vector<std::string>& arns) override;
  core::Result<std::vector<core::ObservedTarget>> describeTargetHealth(
      const std::string& arn) override;
  // An empty `targets` succeeds without calling AWS.
  core::Result<void> registerTargets(const std::string& arn,
                                     const std::vector<core::Target>& targets) override;
  core::Result<void> deregisterTargets(const std::string& arn,
                                       const std::vector<core::Target>& targets) override;
  // An empty `arns` returns an empty map without calling AWS.
  core::Result<std::map<std::string, Tags>> describeTags(
      const std::vector<std::string>& arns) override;
  // An empty `tags` succeeds without calling AWS.
  core::Result<void> addTags(const std::string& arn, const Tags& tags) override;
  core::Result<void> removeTags(const std::string& arn,
                                const std::vector<std::string>& keys) override;

  const QueryClient& queryClient() const { return query_; }

 private:
  core::Result<void> changeTargets(std::string_view action, const std::string& arn,
                                   const std::vector<core::Target>& targets);

  QueryClient query_;
  Elbv2ClientOptions options_;
};

}  // namespace endpointbinder::aws
