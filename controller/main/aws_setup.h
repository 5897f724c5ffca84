// AwsSetup: the AWS client stack every command that talks to AWS builds the same way —
// environment snapshot, region and endpoints, HTTPS transport, credentials chain, per-action
// rate limiters and the clients (ELBv2; EC2 and Auto Scaling for instance sources; SQS for the
// events queue; Route 53 for record bindings, built on first use by route53()) — from the
// flags a user gave. Each service has its own rate limiter (action names are per service;
// EC2's, Auto Scaling's and Route 53's buckets default to ec2RateLimits(),
// autoScalingRateLimits() and route53RateLimits(); --aws-rate-limits tunes ELBv2's, and any
// service's with a "service:" prefix, e.g. "ec2:DescribeInstances=10:50"). SQS has its own
// transport, so the event reader's 20 s long poll can be cut short at shutdown without touching
// other requests. Thread-safety: build once; the clients inside (and route53()) are safe for
// concurrent use.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/aws/account_apis.h"
#include "controller/aws/call_observer.h"
#include "controller/aws/config.h"
#include "controller/aws/cpprest_transport.h"
#include "controller/aws/credentials.h"
#include "controller/aws/dynamodb_client.h"
#include "controller/aws/ec2_client.h"
#include "controller/aws/elbv2_client.h"
#include "controller/aws/environment.h"
#include "controller/aws/rate_limiter.h"
#include "controller/aws/route53_client.h"
#include "controller/aws/sqs_client.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"

namespace endpointbinder::cli {

struct AwsFlags {
  std::string region;       // --aws-region (else AWS_REGION, AWS_DEFAULT_REGION, profile)
  std::string endpointUrl;  // --aws-endpoint-url (else AWS_ENDPOINT_URL[_<SERVICE>])
  // --aws-rate-limits "RegisterTargets=4:20,Describe*=10:40,ec2:Describe*=10:50,route53:*=2:5"
  std::string rateLimits;
  std::chrono::milliseconds attemptTimeout{10'000};
  std::optional<int> maxAttempts;  // overrides AWS_MAX_ATTEMPTS (doctor: 1, to fail fast)
  // Not flags. One DynamoDB attempt (the leader-election lease; 0: attemptTimeout), and the
  // ELBv2 client's per-attempt write fencing (QueryClientHooks::beforeSend; empty: none).
  std::chrono::milliseconds dynamoDbAttemptTimeout{0};
  std::function<core::Result<void>(std::string_view action)> elbv2BeforeSend;
  // The same for the Route 53 client (ChangeResourceRecordSets is its one write; empty: none).
  std::function<core::Result<void>(std::string_view action)> route53BeforeSend;
  // Not a flag: the RoleSessionName of assumed roles (aws::roleSessionNameFor(controller id)).
  std::string roleSessionName = "endpoint-binder";
};

struct AwsSetup {
  aws::Environment environment;
  aws::AwsConfig config;
  std::unique_ptr<aws::CpprestTransport> transport;
  std::shared_ptr<aws::CredentialsProvider> credentials;
  std::unique_ptr<aws::RateLimiter> rateLimiter;
  std::unique_ptr<aws::Elbv2Client> elbv2;
  aws::ResolvedEndpoint elbv2Endpoint;
  aws::ResolvedEndpoint stsEndpoint;
  // ELBv2 in other accounts (spec.assumeRoleARN): STS AssumeRole with `credentials`, one
  // client per role, one rate limiter per account. Calls nothing until a binding needs it.
  std::unique_ptr<aws::AssumeRoleApis> accounts;

  std::unique_ptr<aws::RateLimiter> ec2RateLimiter;
  std::unique_ptr<aws::Ec2Client> ec2;
  aws::ResolvedEndpoint ec2Endpoint;
  std::unique_ptr<aws::RateLimiter> autoScalingRateLimiter;
  std::unique_ptr<aws::AutoScalingClient> autoScaling;
  aws::ResolvedEndpoint autoScalingEndpoint;
  std::unique_ptr<aws::CpprestTransport> sqsTransport;
  std::unique_ptr<aws::RateLimiter> sqsRateLimiter;
  std::unique_ptr<aws::SqsClient> sqs;
  aws::ResolvedEndpoint sqsEndpoint;
  // DynamoDB (leader election's lease) on its own transport: lease calls never wait behind
  // other requests, and cancelling those at shutdown leaves the lease release alone.
  std::unique_ptr<aws::CpprestTransport> dynamoDbTransport;
  std::unique_ptr<aws::DynamoDbClient> dynamoDb;
  aws::ResolvedEndpoint dynamoDbEndpoint;

  // Route 53 (record bindings), on the shared transport with its own account-wide budget
  // (route53RateLimits()). Built on the first call, so commands that never read a hosted zone
  // build nothing for it; later calls return the same client. Safe to call from any thread.
  core::Result<aws::Route53Client*> route53();
  // Its endpoint (AWS_ENDPOINT_URL_ROUTE_53, AWS_ENDPOINT_URL, else the global one); empty
  // until route53() has succeeded.
  aws::ResolvedEndpoint route53Endpoint() const;

  // --aws-rate-limits split by service (aws::splitRateLimitSpecByService).
  std::map<std::string, std::string, std::less<>> rateLimitSpecs;

  // What route53() builds with, kept by buildAwsSetup.
  core::Clock* clock = nullptr;
  aws::QueryClientHooks hooks;  // observer, logger and AwsFlags::route53BeforeSend
  aws::RetryOptions retry;
  std::chrono::milliseconds attemptTimeout{10'000};

 private:
  mutable std::mutex route53Mu_;
  std::unique_ptr<aws::RateLimiter> route53RateLimiter_;  // guarded by route53Mu_
  std::unique_ptr<aws::Route53Client> route53_;           // guarded by route53Mu_
  aws::ResolvedEndpoint route53Endpoint_;                 // guarded by route53Mu_
};

// Builds the stack. Fails with a message a user can act on (no region, bad endpoint URL,
// unreadable CA bundle, malformed --aws-rate-limits). Nothing here calls AWS.
core::Result<std::unique_ptr<AwsSetup>> buildAwsSetup(const AwsFlags& flags, core::Clock& clock,
                                                      core::Logger& log,
                                                      aws::AwsCallObserver* observer);

}  // namespace endpointbinder::cli
