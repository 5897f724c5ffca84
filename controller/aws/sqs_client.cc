#include "controller/aws/sqs_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>

#include "controller/aws/query_xml.h"

namespace endpointbinder::aws {

QueryServiceOptions sqsServiceOptions(std::string region, std::string endpoint,
                                      RetryOptions retry) {
  QueryServiceOptions options;
  options.service = std::string(kSqsSigningName);
  options.apiVersion = std::string(kSqsApiVersion);
  options.endpoint =
      endpoint.empty() ? fmt::format("https://sqs.{}.amazonaws.com", region) : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  options.attemptTimeout = std::chrono::seconds(30);
  return options;
}

RateLimitOptions sqsRateLimits() {
  RateLimitOptions options;
  options.readDefault = BucketSpec{10.0, 20.0};
  options.writeDefault = BucketSpec{50.0, 100.0};
  options.perAction.clear();
  options.perAction.emplace("ReceiveMessage", BucketSpec{5.0, 10.0});
  return options;
}

core::Result<std::vector<QueueMessage>> parseReceiveMessage(std::string_view xml) {
  constexpr std::string_view kAction = "ReceiveMessage";
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kAction);
  if (!root) return std::unexpected(std::move(root.error()));
  std::vector<QueueMessage> messages;
  int index = 0;
  for (const pugi::xml_node m : root->child("ReceiveMessageResult").children("Message")) {
    ++index;
    QueueMessage message;
    message.messageId = m.child_value("MessageId");
    message.receiptHandle = m.child_value("ReceiptHandle");
    message.body = m.child_value("Body");
    if (message.messageId.empty() || message.receiptHandle.empty()) {
      return malformedResponse(kAction,
                               fmt::format("message {} has no MessageId or ReceiptHandle", index));
    }
    for (const pugi::xml_node a : m.children("Attribute")) {
      if (std::string_view(a.child_value("Name")) != "ApproximateReceiveCount") continue;
      const std::string_view value = a.child_value("Value");
      int count = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
      if (ec == std::errc() && end == value.data() + value.size()) message.receiveCount = count;
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

core::Result<std::map<std::string, std::string>> parseGetQueueAttributes(std::string_view xml) {
  constexpr std::string_view kAction = "GetQueueAttributes";
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kAction);
  if (!root) return std::unexpected(std::move(root.error()));
  std::map<std::string, std::string> attributes;
  for (const pugi::xml_node a : root->child("GetQueueAttributesResult").children("Attribute")) {
    attributes.insert_or_assign(std::string(a.child_value("Name")),
                                std::string(a.child_value("Value")));
  }
  return attributes;
}

core::Result<void> parseDeleteMessage(std::string_view xml) {
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, "DeleteMessage");
  if (!root) return std::unexpected(std::move(root.error()));
  return {};
}

SqsClient::SqsClient(QueryServiceOptions service, HttpTransport& transport,
                     CredentialsProvider& credentials, const core::Clock& clock,
                     QueryClientHooks hooks)
    : query_(std::move(service), transport, credentials, clock, std::move(hooks)) {}

core::Result<std::vector<QueueMessage>> SqsClient::receiveMessages(const std::string& queueUrl,
                                                                   int maxMessages,
                                                                   std::chrono::seconds wait) {
  const QueryParams params = {
      {"QueueUrl", queueUrl},
      {"AttributeName.1", "ApproximateReceiveCount"},
      {"MaxNumberOfMessages", std::to_string(std::clamp(maxMessages, 1, 10))},
      {"WaitTimeSeconds", std::to_string(std::clamp<long long>(wait.count(), 0, 20))},
  };
  auto response = query_.call("ReceiveMessage", params);
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseReceiveMessage(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

core::Result<void> SqsClient::deleteMessage(const std::string& queueUrl,
                                            const std::string& receiptHandle) {
  auto response =
      query_.call("DeleteMessage", {{"QueueUrl", queueUrl}, {"ReceiptHandle", receiptHandle}});
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseDeleteMessage(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return {};
}

core::Result<std::map<std::string, std::string>> SqsClient::getQueueAttributes(
    const std::string& queueUrl, const std::vector<std::string>& names) {
  QueryParams params = {{"QueueUrl", queueUrl}};
  for (size_t i = 0; i < names.size(); ++i) {
    params.emplace_back(fmt::format("AttributeName.{}", i + 1), names[i]);
  }
  auto response = query_.call("GetQueueAttributes", params);
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseGetQueueAttributes(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

}  // namespace endpointbinder::aws
