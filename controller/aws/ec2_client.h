// Ec2Client (Ec2Api over the EC2 Query API 2016-11-15) and AutoScalingClient (AutoScalingApi
// over the Auto Scaling Query API 2011-01-01): SigV4, standard-mode retries and per-action
// client-side token buckets, all through QueryClient, as Elbv2Client does. Paged calls follow
// NextToken until it is empty; a token that repeats, or more than maxPages pages, is a
// kRetryable "MalformedResponse" (a service that never stops paging must not hang a refresh).
// EC2 reports throttling as RequestLimitExceeded, Auto Scaling as Throttling: both are
// retried by QueryClient and, when retries run out, come back as kRetryable errors.
// Thread-safety: all methods may be called concurrently (QueryClient is thread-safe).
#pragma once

#include <string>
#include <vector>

#include "controller/aws/instances.h"
#include "controller/aws/query_client.h"
#include "controller/aws/rate_limiter.h"

namespace endpointbinder::aws {

struct Ec2ClientOptions {
  int maxResults = 1000;  // DescribeInstances / DescribeSpotFleetInstances page size (5..1000)
  int maxPages = 1000;    // guard against a service that never stops paging
};

struct AutoScalingClientOptions {
  int maxRecords = 100;   // DescribeAutoScalingGroups page size (1..100)
  int namesPerCall = 50;  // AutoScalingGroupNames per call; more are split
  int maxPages = 1000;
};

// Service options for EC2 / Auto Scaling in `region`. An empty `endpoint` means the public
// regional endpoint (https://ec2.<region>.amazonaws.com, https://autoscaling.<region>...);
// callers with an AWS_ENDPOINT_URL* value (or a VPC endpoint) pass it instead.
QueryServiceOptions ec2ServiceOptions(std::string region, std::string endpoint = {},
                                      RetryOptions retry = {});
QueryServiceOptions autoScalingServiceOptions(std::string region, std::string endpoint = {},
                                              RetryOptions retry = {});

// Client-side buckets for EC2, from AWS's published defaults for non-mutating actions
// (Describe*: bucket 100, refill 20 per second, per account and Region), with half a second's
// worth of tokens taken off the burst as for ELBv2 (rate_limiter.h explains why): 20/s, 90.
// EC2's quotas are shared by everything in the account; the inventory's calls per minute do
// not grow with the number of bindings, so these buckets only ever bite on a burst of events.
RateLimitOptions ec2RateLimits();
// Auto Scaling publishes no token-bucket sizes; ELBv2's documented Describe* defaults (10/s,
// burst 40, less the margin) are used.
RateLimitOptions autoScalingRateLimits();

class Ec2Client final : public Ec2Api {
 public:
  // `service` normally comes from ec2ServiceOptions(). The references must outlive the client.
  Ec2Client(QueryServiceOptions service, HttpTransport& transport, CredentialsProvider& credentials,
            const core::Clock& clock, QueryClientHooks hooks = {}, Ec2ClientOptions options = {});

  core::Result<std::vector<core::Instance>> describeInstances(
      const std::vector<api::Ec2Filter>& filters) override;
  core::Result<std::vector<std::string>> describeSpotFleetInstances(
      const std::string& requestId) override;
  core::Result<std::vector<SpotFleetRequestInfo>> describeSpotFleetRequests(
      const std::vector<std::string>& requestIds) override;

  const QueryClient& queryClient() const { return query_; }

 private:
  QueryClient query_;
  Ec2ClientOptions options_;
};

class AutoScalingClient final : public AutoScalingApi {
 public:
  AutoScalingClient(QueryServiceOptions service, HttpTransport& transport,
                    CredentialsProvider& credentials, const core::Clock& clock,
                    QueryClientHooks hooks = {}, AutoScalingClientOptions options = {});

  core::Result<std::vector<AutoScalingGroupInfo>> describeAutoScalingGroups(
      const std::vector<std::string>& names) override;

  const QueryClient& queryClient() const { return query_; }

 private:
  QueryClient query_;
  AutoScalingClientOptions options_;
};

}  // namespace endpointbinder::aws
