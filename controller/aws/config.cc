#include "controller/aws/config.h"

#include <array>
#include <cctype>

#include "controller/aws/shared_config.h"
#include "controller/aws/url.h"
#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

using core::ErrorKind;

constexpr std::array<ServiceDescription, 10> kServices = {{
    {"Elastic Load Balancing v2", "ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing",
     "elasticloadbalancing"},
    {"STS", "STS", "sts", "sts"},
    {"Route 53", "ROUTE_53", "route53", "route53"},
    {"EC2", "EC2", "ec2", "ec2"},
    {"Auto Scaling", "AUTO_SCALING", "autoscaling", "autoscaling"},
    {"SQS", "SQS", "sqs", "sqs"},
    {"SSM", "SSM", "ssm", "ssm"},
    {"SNS", "SNS", "sns", "sns"},
    {"DynamoDB", "DYNAMODB", "dynamodb", "dynamodb"},
    {"S3", "S3", "s3", "s3"},
}};

constexpr std::array<AwsService, 10> kAllServices = {AwsService::kElasticLoadBalancingV2,
                                                     AwsService::kSts,
                                                     AwsService::kRoute53,
                                                     AwsService::kEc2,
                                                     AwsService::kAutoScaling,
                                                     AwsService::kSqs,
                                                     AwsService::kSsm,
                                                     AwsService::kSns,
                                                     AwsService::kDynamoDb,
                                                     AwsService::kS3};

enum class Partition { kAws, kAwsCn, kAwsUsGov, kAwsIso, kAwsIsoB };

struct PartitionInfo {
  std::string_view dnsSuffix;
  std::string_view route53Host;      // regular global Route 53 host
  std::string_view route53FipsHost;  // with FIPS
  std::string_view route53SigningRegion;
  bool regularEndpointsAreFips;  // GovCloud: FIPS asks for the regular host
};

const PartitionInfo& partitionInfo(Partition partition) {
  static const PartitionInfo kAws{"amazonaws.com", "route53.amazonaws.com",
                                  "route53-fips.amazonaws.com", "us-east-1", false};
  static const PartitionInfo kCn{"amazonaws.com.cn", "route53.amazonaws.com.cn",
                                 "route53-fips.amazonaws.com.cn", "cn-northwest-1", false};
  static const PartitionInfo kGov{"amazonaws.com", "route53.us-gov.amazonaws.com",
                                  "route53.us-gov.amazonaws.com", "us-gov-west-1", true};
  static const PartitionInfo kIso{"c2s.ic.gov", "route53.c2s.ic.gov", "route53-fips.c2s.ic.gov",
                                  "us-iso-east-1", false};
  static const PartitionInfo kIsoB{"sc2s.sgov.gov", "route53.sc2s.sgov.gov",
                                   "route53-fips.sc2s.sgov.gov", "us-isob-east-1", false};
  switch (partition) {
    case Partition::kAws:
      return kAws;
    case Partition::kAwsCn:
      return kCn;
    case Partition::kAwsUsGov:
      return kGov;
    case Partition::kAwsIso:
      return kIso;
    case Partition::kAwsIsoB:
      return kIsoB;
  }
  return kAws;
}

// botocore's partitions.json region regexes; unknown regions belong to "aws".
Partition partitionOf(std::string_view region) {
  if (region.starts_with("cn-")) return Partition::kAwsCn;
  if (region.starts_with("us-gov-")) return Partition::kAwsUsGov;
  if (region.starts_with("us-isob-")) return Partition::kAwsIsoB;
  if (region.starts_with("us-iso-")) return Partition::kAwsIso;
  return Partition::kAws;
}

std::unexpected<core::Error> configError(std::string code, std::string message) {
  return core::makeError(ErrorKind::kTerminal, std::move(message), std::move(code));
}

bool isTrue(std::string_view value) {
  return value.size() == 4 && core::asciiLower(value) == "true";
}

// Validates a configured endpoint URL and drops a trailing slash.
core::Result<std::string> checkEndpointUrl(std::string_view text, std::string_view source) {
  auto url = parseUrl(text);
  if (!url) {
    return configError(
        "InvalidEndpointUrl",
        std::string(source) + " is not a valid endpoint URL: " + url.error().message);
  }
  if (!url->userinfo.empty() || url->hasQuery || text.find('#') != std::string_view::npos) {
    return configError("InvalidEndpointUrl", std::string(source) +
                                                 " must be scheme://host[:port][/path] without "
                                                 "credentials, query or fragment");
  }
  std::string out(text);
  while (out.ends_with('/')) out.pop_back();
  return out;
}

}  // namespace

const ServiceDescription& describeService(AwsService service) {
  return kServices[static_cast<std::size_t>(service)];
}

bool isValidRegionName(std::string_view region) {
  if (region.empty() || region.size() > 63) return false;
  if (region.front() == '-' || region.back() == '-') return false;
  for (char c : region) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

core::Result<ResolvedEndpoint> defaultEndpoint(AwsService service, std::string_view region,
                                               bool useFips) {
  const ServiceDescription& description = describeService(service);
  const PartitionInfo& partition = partitionInfo(partitionOf(region));
  ResolvedEndpoint endpoint;
  endpoint.signingName = std::string(description.signingName);
  endpoint.source = "default";

  if (service == AwsService::kRoute53) {
    endpoint.url =
        "https://" + std::string(useFips ? partition.route53FipsHost : partition.route53Host);
    endpoint.signingRegion = std::string(partition.route53SigningRegion);
    return endpoint;
  }
  if (region.empty()) {
    if (service == AwsService::kSts) {
      endpoint.url =
          useFips ? "https://sts-fips.us-east-1.amazonaws.com" : "https://sts.amazonaws.com";
      endpoint.signingRegion = "us-east-1";
      return endpoint;
    }
    return configError("NoRegion", "no AWS region configured for " +
                                       std::string(description.serviceId) +
                                       ": set AWS_REGION (or --aws-region)");
  }
  if (!isValidRegionName(region)) {
    return configError("InvalidRegion", "\"" + std::string(region) + "\" is not a region name");
  }
  const bool fipsHost = useFips && !partition.regularEndpointsAreFips;
  endpoint.url = "https://" + std::string(description.endpointPrefix) +
                 (fipsHost ? "-fips." : ".") + std::string(region) + "." +
                 std::string(partition.dnsSuffix);
  endpoint.signingRegion = std::string(region);
  return endpoint;
}

core::Result<ResolvedEndpoint> AwsConfig::endpoint(AwsService service) const {
  if (auto it = configuredEndpoints.find(service); it != configuredEndpoints.end()) {
    return it->second;
  }
  if (!configuredAllServicesUrl.empty()) {
    ResolvedEndpoint endpoint;
    endpoint.url = configuredAllServicesUrl;
    endpoint.signingRegion = region.empty() ? "us-east-1" : region;
    endpoint.signingName = std::string(describeService(service).signingName);
    endpoint.source = configuredAllServicesSource;
    return endpoint;
  }
  return defaultEndpoint(service, region, useFipsEndpoint);
}

core::Result<AwsConfig> loadAwsConfig(const Environment& env, const ConfigOverrides& overrides) {
  AwsConfig config;
  config.profile = selectedProfileName(env);
  auto files = loadSharedConfigFiles(env);
  if (!files) return std::unexpected(files.error());
  if (profileExplicitlySelected(env) && !files->configProfiles.contains(config.profile) &&
      !files->credentialsProfiles.contains(config.profile)) {
    return configError("ProfileNotFound", "AWS_PROFILE names profile \"" + config.profile +
                                              "\", which is in neither " + files->configPath +
                                              " nor " + files->credentialsPath);
  }
  auto profileValue = [&](std::string_view key) {
    return configProfileValue(*files, config.profile, key);
  };

  // Region.
  if (!overrides.region.empty()) {
    config.region = overrides.region;
    config.regionSource = "--aws-region";
  } else if (auto value = env.getNonEmpty("AWS_REGION")) {
    config.region = *value;
    config.regionSource = "AWS_REGION";
  } else if (auto value = env.getNonEmpty("AWS_DEFAULT_REGION")) {
    config.region = *value;
    config.regionSource = "AWS_DEFAULT_REGION";
  } else if (auto value = profileValue("region"); value && !value->empty()) {
    config.region = *value;
    config.regionSource = "profile " + config.profile;
  }
  if (!config.region.empty() && !isValidRegionName(config.region)) {
    return configError("InvalidRegion", config.regionSource + " \"" + config.region +
                                            "\" is not a valid region name");
  }

  // FIPS.
  if (auto value = env.get("AWS_USE_FIPS_ENDPOINT")) {
    config.useFipsEndpoint = isTrue(*value);
  } else if (auto value = profileValue("use_fips_endpoint")) {
    config.useFipsEndpoint = isTrue(*value);
  }

  // Retries.
  if (auto value = env.getNonEmpty("AWS_MAX_ATTEMPTS")) {
    auto parsed = parseMaxAttempts(*value);
    if (!parsed) return std::unexpected(parsed.error());
    config.maxAttempts = *parsed;
  } else if (auto value = profileValue("max_attempts")) {
    auto parsed = parseMaxAttempts(*value);
    if (!parsed) return std::unexpected(parsed.error());
    config.maxAttempts = *parsed;
  }
  if (auto value = env.getNonEmpty("AWS_RETRY_MODE")) {
    auto parsed = parseRetryMode(*value);
    if (!parsed) return std::unexpected(parsed.error());
    config.retryMode = *parsed;
  } else if (auto value = profileValue("retry_mode")) {
    auto parsed = parseRetryMode(*value);
    if (!parsed) return std::unexpected(parsed.error());
    config.retryMode = *parsed;
  }

  // Endpoints: command line first, then (unless ignored) environment and profile.
  const std::string signingRegion = config.region.empty() ? "us-east-1" : config.region;
  auto addServiceEndpoint = [&](AwsService service, std::string_view text,
                                std::string source) -> core::Result<void> {
    if (config.configuredEndpoints.contains(service)) return {};
    auto url = checkEndpointUrl(text, source);
    if (!url) return std::unexpected(url.error());
    config.configuredEndpoints[service] = ResolvedEndpoint{
        *url, signingRegion, std::string(describeService(service).signingName), std::move(source)};
    return {};
  };
  for (const auto& [service, url] : overrides.serviceEndpointUrls) {
    if (url.empty()) continue;
    if (auto added = addServiceEndpoint(service, url, "--aws-endpoint-url"); !added) {
      return std::unexpected(added.error());
    }
  }
  if (!overrides.endpointUrl.empty()) {
    auto url = checkEndpointUrl(overrides.endpointUrl, "--aws-endpoint-url");
    if (!url) return std::unexpected(url.error());
    config.configuredAllServicesUrl = *url;
    config.configuredAllServicesSource = "--aws-endpoint-url";
  }
  const bool ignoreConfigured =
      isTrue(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or("")) ||
      (!env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") &&
       isTrue(profileValue("ignore_configured_endpoint_urls").value_or("")));
  if (!ignoreConfigured && overrides.endpointUrl.empty()) {
    for (AwsService service : kAllServices) {
      const std::string variable =
          "AWS_ENDPOINT_URL_" + std::string(describeService(service).envSuffix);
      if (auto value = env.getNonEmpty(variable)) {
        if (auto added = addServiceEndpoint(service, *value, variable); !added) {
          return std::unexpected(added.error());
        }
      }
    }
    if (auto value = env.getNonEmpty("AWS_ENDPOINT_URL")) {
      auto url = checkEndpointUrl(*value, "AWS_ENDPOINT_URL");
      if (!url) return std::unexpected(url.error());
      config.configuredAllServicesUrl = *url;
      config.configuredAllServicesSource = "AWS_ENDPOINT_URL";
    } else if (auto value = profileValue("endpoint_url"); value && !value->empty()) {
      const std::string source = "endpoint_url of profile " + config.profile;
      auto url = checkEndpointUrl(*value, source);
      if (!url) return std::unexpected(url.error());
      config.configuredAllServicesUrl = *url;
      config.configuredAllServicesSource = source;
    }
  }
  return config;
}

}  // namespace endpointbinder::aws
