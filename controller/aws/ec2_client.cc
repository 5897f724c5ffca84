#include "controller/aws/ec2_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "controller/aws/ec2_xml.h"

namespace endpointbinder::aws {
namespace {

std::unexpected<core::Error> pagingError(std::string_view action, std::string what) {
  return core::makeError(core::ErrorKind::kRetryable, fmt::format("{}: {}", action, what),
                         "MalformedResponse");
}

// Calls `action` page after page: `params(token)` builds a request, `parse(body)` returns a
// page with `nextToken`, `take(page)` keeps its items. Stops at the first error.
template <typename Params, typename Parse, typename Take>
core::Result<void> forEachPage(QueryClient& query, std::string_view action, int maxPages,
                               Params params, Parse parse, Take take) {
  std::string token;
  std::set<std::string> seen;
  for (int page = 0; page < maxPages; ++page) {
    auto response = query.call(action, params(token));
    if (!response) return std::unexpected(std::move(response.error()));
    auto parsed = parse(response->body);
    if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
    std::string next = std::move(parsed->nextToken);
    take(*parsed);
    if (next.empty()) return {};
    if (!seen.insert(next).second) {
      return pagingError(action, "NextToken repeats an earlier page");
    }
    token = std::move(next);
  }
  return pagingError(action, fmt::format("still paging after {} pages", maxPages));
}

QueryServiceOptions serviceOptions(std::string_view signingName, std::string_view version,
                                   std::string_view prefix, std::string region,
                                   std::string endpoint, RetryOptions retry) {
  QueryServiceOptions options;
  options.service = std::string(signingName);
  options.apiVersion = std::string(version);
  options.endpoint = endpoint.empty() ? fmt::format("https://{}.{}.amazonaws.com", prefix, region)
                                      : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  return options;
}

}  // namespace

bool spotFleetStateServes(const std::string& state) {
  return state == "submitted" || state == "active" || state == "modifying";
}

QueryServiceOptions ec2ServiceOptions(std::string region, std::string endpoint,
                                      RetryOptions retry) {
  return serviceOptions(kEc2SigningName, kEc2ApiVersion, "ec2", std::move(region),
                        std::move(endpoint), retry);
}

QueryServiceOptions autoScalingServiceOptions(std::string region, std::string endpoint,
                                              RetryOptions retry) {
  return serviceOptions(kAutoScalingSigningName, kAutoScalingApiVersion, "autoscaling",
                        std::move(region), std::move(endpoint), retry);
}

RateLimitOptions ec2RateLimits() {
  RateLimitOptions options;
  options.readDefault = BucketSpec{20.0, 90.0};
  options.writeDefault = BucketSpec{5.0, 10.0};  // none is made; kept small on purpose
  options.perAction.clear();
  return options;
}

RateLimitOptions autoScalingRateLimits() {
  RateLimitOptions options;
  options.readDefault = BucketSpec{10.0, 35.0};
  options.writeDefault = BucketSpec{5.0, 10.0};
  options.perAction.clear();
  return options;
}

Ec2Client::Ec2Client(QueryServiceOptions service, HttpTransport& transport,
                     CredentialsProvider& credentials, const core::Clock& clock,
                     QueryClientHooks hooks, Ec2ClientOptions options)
    : query_(std::move(service), transport, credentials, clock, std::move(hooks)),
      options_(options) {
  options_.maxResults = std::clamp(options_.maxResults, 5, 1000);
  options_.maxPages = std::max(1, options_.maxPages);
}

core::Result<std::vector<core::Instance>> Ec2Client::describeInstances(
    const std::vector<api::Ec2Filter>& filters) {
  std::vector<core::Instance> all;
  auto done = forEachPage(
      query_, "DescribeInstances", options_.maxPages,
      [&](const std::string& token) {
        return describeInstancesParams(filters, token, options_.maxResults);
      },
      parseDescribeInstances,
      [&](InstancesPage& page) {
        std::move(page.instances.begin(), page.instances.end(), std::back_inserter(all));
      });
  if (!done) return std::unexpected(std::move(done.error()));
  return all;
}

core::Result<std::vector<std::string>> Ec2Client::describeSpotFleetInstances(
    const std::string& requestId) {
  std::vector<std::string> ids;
  auto done = forEachPage(
      query_, "DescribeSpotFleetInstances", options_.maxPages,
      [&](const std::string& token) {
        return describeSpotFleetInstancesParams(requestId, token, options_.maxResults);
      },
      parseDescribeSpotFleetInstances,
      [&](SpotFleetInstancesPage& page) {
        std::move(page.instanceIds.begin(), page.instanceIds.end(), std::back_inserter(ids));
      });
  if (!done) return std::unexpected(std::move(done.error()));
  return ids;
}

core::Result<std::vector<SpotFleetRequestInfo>> Ec2Client::describeSpotFleetRequests(
    const std::vector<std::string>& requestIds) {
  std::vector<SpotFleetRequestInfo> requests;
  if (requestIds.empty()) return requests;
  auto done = forEachPage(
      query_, "DescribeSpotFleetRequests", options_.maxPages,
      [&](const std::string& token) {
        return describeSpotFleetRequestsParams(requestIds, token, options_.maxResults);
      },
      parseDescribeSpotFleetRequests,
      [&](SpotFleetRequestsPage& page) {
        std::move(page.requests.begin(), page.requests.end(), std::back_inserter(requests));
      });
  if (!done) return std::unexpected(std::move(done.error()));
  return requests;
}

AutoScalingClient::AutoScalingClient(QueryServiceOptions service, HttpTransport& transport,
                                     CredentialsProvider& credentials, const core::Clock& clock,
                                     QueryClientHooks hooks, AutoScalingClientOptions options)
    : query_(std::move(service), transport, credentials, clock, std::move(hooks)),
      options_(options) {
  options_.maxRecords = std::clamp(options_.maxRecords, 1, 100);
  options_.namesPerCall = std::max(1, options_.namesPerCall);
  options_.maxPages = std::max(1, options_.maxPages);
}

core::Result<std::vector<AutoScalingGroupInfo>> AutoScalingClient::describeAutoScalingGroups(
    const std::vector<std::string>& names) {
  std::vector<AutoScalingGroupInfo> groups;
  const auto chunk = static_cast<size_t>(options_.namesPerCall);
  for (size_t begin = 0; begin < names.size(); begin += chunk) {
    const size_t end = std::min(names.size(), begin + chunk);
    const std::vector<std::string> slice(names.begin() + static_cast<std::ptrdiff_t>(begin),
                                         names.begin() + static_cast<std::ptrdiff_t>(end));
    auto done = forEachPage(
        query_, "DescribeAutoScalingGroups", options_.maxPages,
        [&](const std::string& token) {
          return describeAutoScalingGroupsParams(slice, token, options_.maxRecords);
        },
        parseDescribeAutoScalingGroups,
        [&](AutoScalingGroupsPage& page) {
          std::move(page.groups.begin(), page.groups.end(), std::back_inserter(groups));
        });
    if (!done) return std::unexpected(std::move(done.error()));
  }
  return groups;
}

}  // namespace endpointbinder::aws
