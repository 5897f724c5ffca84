#include "controller/aws/elbv2_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "controller/aws/elbv2_xml.h"

namespace endpointbinder::aws {

QueryServiceOptions elbv2ServiceOptions(std::string region, std::string endpoint,
                                        RetryOptions retry) {
  QueryServiceOptions options;
  options.service = std::string(kElbv2SigningName);
  options.apiVersion = std::string(kElbv2ApiVersion);
  options.endpoint = endpoint.empty()
                         ? fmt::format("https://elasticloadbalancing.{}.amazonaws.com", region)
                         : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  return options;
}

Elbv2Client::Elbv2Client(QueryServiceOptions service, HttpTransport& transport,
                         CredentialsProvider& credentials, const core::Clock& clock,
                         QueryClientHooks hooks, Elbv2ClientOptions options)
    : query_(std::move(service), transport, credentials, clock, std::move(hooks)),
      options_(options) {
  options_.targetsPerCall = std::max(1, options_.targetsPerCall);
  options_.arnsPerDescribeTags = std::max(1, options_.arnsPerDescribeTags);
  options_.pageSize = std::clamp(options_.pageSize, 1, 400);
  options_.maxPages = std::max(1, options_.maxPages);
}

core::Result<std::vector<TargetGroupInfo>> Elbv2Client::describeTargetGroups(
    const std::vector<std::string>& arns) {
  std::vector<TargetGroupInfo> all;
  if (arns.empty()) return all;
  std::string marker;
  std::set<std::string> seenMarkers;
  for (int page = 0; page < options_.maxPages; ++page) {
    auto response = query_.call("DescribeTargetGroups",
                                describeTargetGroupsParams(arns, marker, options_.pageSize));
    if (!response) return std::unexpected(std::move(response.error()));
    auto parsed = parseDescribeTargetGroups(response->body);
    if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
    std::move(parsed->targetGroups.begin(), parsed->targetGroups.end(), std::back_inserter(all));
    if (parsed->nextMarker.empty()) return all;
    if (!seenMarkers.insert(parsed->nextMarker).second) {
      return core::makeError(core::ErrorKind::kRetryable,
                             "DescribeTargetGroups response: NextMarker repeats an earlier page",
                             "MalformedResponse");
    }
    marker = std::move(parsed->nextMarker);
  }
  return core::makeError(
      core::ErrorKind::kRetryable,
      fmt::format("DescribeTargetGroups: still paging after {} pages", options_.maxPages),
      "MalformedResponse");
}

core::Result<std::vector<core::ObservedTarget>> Elbv2Client::describeTargetHealth(
    const std::string& arn) {
  auto response = query_.call("DescribeTargetHealth", describeTargetHealthParams(arn));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseDescribeTargetHealth(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

core::Result<void> Elbv2Client::changeTargets(std::string_view action, const std::string& arn,
                                              const std::vector<core::Target>& targets) {
  const size_t chunk = static_cast<size_t>(options_.targetsPerCall);
  for (size_t begin = 0; begin < targets.size(); begin += chunk) {
    const size_t end = std::min(targets.size(), begin + chunk);
    const std::vector<core::Target> slice(targets.begin() + static_cast<std::ptrdiff_t>(begin),
                                          targets.begin() + static_cast<std::ptrdiff_t>(end));
    auto response = query_.call(action, registerTargetsParams(arn, slice));
    if (!response) return std::unexpected(std::move(response.error()));
    auto parsed = parseEmptyResponse(response->body, action);
    if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  }
  return {};
}

core::Result<void> Elbv2Client::registerTargets(const std::string& arn,
                                                const std::vector<core::Target>& targets) {
  return changeTargets("RegisterTargets", arn, targets);
}

core::Result<void> Elbv2Client::deregisterTargets(const std::string& arn,
                                                  const std::vector<core::Target>& targets) {
  return changeTargets("DeregisterTargets", arn, targets);
}

core::Result<std::map<std::string, Tags>> Elbv2Client::describeTags(
    const std::vector<std::string>& arns) {
  std::map<std::string, Tags> all;
  const size_t chunk = static_cast<size_t>(options_.arnsPerDescribeTags);
  for (size_t begin = 0; begin < arns.size(); begin += chunk) {
    const size_t end = std::min(arns.size(), begin + chunk);
    const std::vector<std::string> slice(arns.begin() + static_cast<std::ptrdiff_t>(begin),
                                         arns.begin() + static_cast<std::ptrdiff_t>(end));
    auto response = query_.call("DescribeTags", describeTagsParams(slice));
    if (!response) return std::unexpected(std::move(response.error()));
    auto parsed = parseDescribeTags(response->body);
    if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
    for (auto& [arn, tags] : *parsed) all[arn].merge(tags);
  }
  return all;
}

core::Result<void> Elbv2Client::addTags(const std::string& arn, const Tags& tags) {
  if (tags.empty()) return {};
  auto response = query_.call("AddTags", addTagsParams(arn, tags));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseEmptyResponse(response->body, "AddTags");
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return {};
}

core::Result<void> Elbv2Client::removeTags(const std::string& arn,
                                           const std::vector<std::string>& keys) {
  if (keys.empty()) return {};
  auto response = query_.call("RemoveTags", removeTagsParams(arn, keys));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseEmptyResponse(response->body, "RemoveTags");
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return {};
}

}  // namespace endpointbinder::aws
