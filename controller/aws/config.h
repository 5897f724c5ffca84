// AwsConfig: region, endpoints and retry settings, resolved from the sources AWS users already
// use, in the SDKs' order.
//
// Region: ConfigOverrides::region (--aws-region), then AWS_REGION, then AWS_DEFAULT_REGION,
// then "region" of the selected profile (AWS_PROFILE, default "default") in the shared config
// file. It must be a valid DNS label ("eu-west-1"); anything else is rejected so it can never
// inject into a host name.
//
// Endpoint of a service (first that applies):
//  1. ConfigOverrides::serviceEndpointUrls[service], then ConfigOverrides::endpointUrl
//     (--aws-endpoint-url): an explicit command-line choice beats the environment, as the AWS
//     CLI's --endpoint-url does;
//  2. AWS_ENDPOINT_URL_<SERVICE> (ELASTIC_LOAD_BALANCING_V2, STS, ROUTE_53, EC2, AUTO_SCALING, SQS,
//     SSM, SNS, DYNAMODB, S3),
//     then AWS_ENDPOINT_URL, then the profile's "endpoint_url" -- all skipped when
//     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile's
//     ignore_configured_endpoint_urls);
//  3. the AWS default for the region's partition, as botocore's endpoint rules give it:
//       https://elasticloadbalancing.{region}.{suffix} (ec2, autoscaling, sqs, ssm, sns,
//       dynamodb, s3 likewise)
//       https://sts.{region}.{suffix}; https://sts.amazonaws.com when no region is known
//       https://route53.amazonaws.com signed for us-east-1 (amazonaws.com.cn/cn-northwest-1 in
//       China, route53.us-gov.amazonaws.com/us-gov-west-1 in GovCloud, ...)
//     where suffix is amazonaws.com, amazonaws.com.cn (cn-*), c2s.ic.gov (us-iso-*) or
//     sc2s.sgov.gov (us-isob-*). With AWS_USE_FIPS_ENDPOINT=true (or the profile's
//     use_fips_endpoint) the host becomes {prefix}-fips.{region}.{suffix}; in GovCloud, whose
//     regular endpoints are already FIPS, it stays the same.
// A custom endpoint is signed for the configured region (us-east-1 when none), like botocore.
//
// Retries: AWS_MAX_ATTEMPTS then the profile's max_attempts (default 3); AWS_RETRY_MODE then
// the profile's retry_mode (default standard); parsed with retry.h's parsers.
//
// Thread-safety: loadAwsConfig is a pure function of its inputs plus reading the config file;
// AwsConfig is a plain value.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "controller/aws/environment.h"
#include "controller/aws/retry.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

enum class AwsService {
  kElasticLoadBalancingV2,
  kSts,
  kRoute53,
  kEc2,
  kAutoScaling,
  kSqs,
  kSsm,
  kSns,
  kDynamoDb,
  kS3,
};

struct ServiceDescription {
  std::string_view serviceId;       // botocore serviceId: "Elastic Load Balancing v2"
  std::string_view envSuffix;       // AWS_ENDPOINT_URL_<envSuffix>: "ELASTIC_LOAD_BALANCING_V2"
  std::string_view endpointPrefix;  // host prefix: "elasticloadbalancing"
  std::string_view signingName;     // SigV4 service name: "elasticloadbalancing"
};

const ServiceDescription& describeService(AwsService service);

struct ResolvedEndpoint {
  std::string url;            // scheme://host[:port][/path], no trailing slash
  std::string signingRegion;  // region for SigV4's credential scope
  std::string signingName;    // service for SigV4's credential scope
  std::string source;         // where it came from: "AWS_ENDPOINT_URL_STS", "default", ...
};

// Settings given on the command line; empty fields are unset.
struct ConfigOverrides {
  std::string region;                                     // --aws-region
  std::string endpointUrl;                                // --aws-endpoint-url (all services)
  std::map<AwsService, std::string> serviceEndpointUrls;  // per-service overrides
};

struct AwsConfig {
  std::string region;        // empty when no source names one
  std::string regionSource;  // "--aws-region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile NAME"
  std::string profile;       // the selected profile name
  bool useFipsEndpoint = false;
  int maxAttempts = 3;
  RetryMode retryMode = RetryMode::kStandard;

  // Configured endpoint URLs by precedence tier (already validated); used by endpoint().
  std::map<AwsService, ResolvedEndpoint> configuredEndpoints;
  std::string configuredAllServicesUrl;
  std::string configuredAllServicesSource;

  // The endpoint for `service`. Fails with kTerminal "NoRegion" when a regional service has
  // neither a region nor a configured endpoint.
  core::Result<ResolvedEndpoint> endpoint(AwsService service) const;
};

// Resolves everything above. Fails (kTerminal) on: an invalid region ("InvalidRegion"), an
// endpoint URL that is not http(s) ("InvalidEndpointUrl"), bad AWS_MAX_ATTEMPTS/AWS_RETRY_MODE
// values, an unreadable or malformed config file ("InvalidConfigFile"), or an AWS_PROFILE
// that names a profile present in neither shared file ("ProfileNotFound") -- botocore refuses
// to run with a missing explicit profile too.
core::Result<AwsConfig> loadAwsConfig(const Environment& env,
                                      const ConfigOverrides& overrides = {});

// True for a syntactically valid region name (a DNS label of letters, digits and '-').
bool isValidRegionName(std::string_view region);

// The default (no custom endpoint) endpoint for a service in `region`; pure. `region` may be
// empty for global services (STS falls back to its global endpoint); regional services then
// fail with "NoRegion".
core::Result<ResolvedEndpoint> defaultEndpoint(AwsService service, std::string_view region,
                                               bool useFips);

}  // namespace endpointbinder::aws
