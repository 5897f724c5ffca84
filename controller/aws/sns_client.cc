#include "controller/aws/sns_client.h"

#include <fmt/format.h>

#include <pugixml.hpp>

#include "controller/aws/query_xml.h"

namespace endpointbinder::aws {

QueryServiceOptions snsServiceOptions(std::string region, std::string endpoint,
                                      RetryOptions retry) {
  QueryServiceOptions options;
  options.service = std::string(kSnsSigningName);
  options.apiVersion = std::string(kSnsApiVersion);
  options.endpoint =
      endpoint.empty() ? fmt::format("https://sns.{}.amazonaws.com", region) : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  return options;
}

QueryParams publishParams(const SnsPublishRequest& request) {
  QueryParams params = {{"TopicArn", request.topicArn}, {"Message", request.message}};
  if (!request.subject.empty()) params.emplace_back("Subject", request.subject);
  for (size_t i = 0; i < request.attributes.size(); ++i) {
    const auto& attribute = request.attributes[i];
    const std::string prefix = fmt::format("MessageAttributes.entry.{}.", i + 1);
    params.emplace_back(prefix + "Name", attribute.name);
    params.emplace_back(prefix + "Value.DataType", attribute.dataType);
    params.emplace_back(prefix + "Value.StringValue", attribute.value);
  }
  if (!request.messageGroupId.empty())
    params.emplace_back("MessageGroupId", request.messageGroupId);
  if (!request.deduplicationId.empty()) {
    params.emplace_back("MessageDeduplicationId", request.deduplicationId);
  }
  return params;
}

core::Result<std::string> parsePublish(std::string_view xml) {
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, "Publish");
  if (!root) return std::unexpected(std::move(root.error()));
  std::string id = root->child("PublishResult").child_value("MessageId");
  if (id.empty()) return malformedResponse("Publish", "no MessageId");
  return id;
}

core::Result<std::map<std::string, std::string>> parseGetTopicAttributes(std::string_view xml) {
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, "GetTopicAttributes");
  if (!root) return std::unexpected(std::move(root.error()));
  std::map<std::string, std::string> out;
  for (const pugi::xml_node entry :
       root->child("GetTopicAttributesResult").child("Attributes").children("entry")) {
    out.insert_or_assign(std::string(entry.child_value("key")),
                         std::string(entry.child_value("value")));
  }
  return out;
}

std::string topicRegion(std::string_view topicArn) {
  // arn:<partition>:sns:<region>:<account>:<topic>
  size_t at = 0;
  for (int field = 0; field < 3; ++field) {
    at = topicArn.find(':', at);
    if (at == std::string_view::npos) return {};
    ++at;
  }
  const size_t end = topicArn.find(':', at);
  if (end == std::string_view::npos) return {};
  return std::string(topicArn.substr(at, end - at));
}

SnsClient::SnsClient(QueryServiceOptions service, HttpTransport& transport,
                     CredentialsProvider& credentials, const core::Clock& clock,
                     QueryClientHooks hooks)
    : query_(std::move(service), transport, credentials, clock, std::move(hooks)) {}

core::Result<std::string> SnsClient::publish(const SnsPublishRequest& request) {
  auto response = query_.call("Publish", publishParams(request));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parsePublish(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

core::Result<std::map<std::string, std::string>> SnsClient::getTopicAttributes(
    const std::string& topicArn) {
  auto response = query_.call("GetTopicAttributes", {{"TopicArn", topicArn}});
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseGetTopicAttributes(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

}  // namespace endpointbinder::aws
