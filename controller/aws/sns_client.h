// Amazon SNS, the calls notifications need: Publish (with a subject and message attributes so
// subscriptions can filter) and GetTopicAttributes (`doctor` checks a topic exists and is
// reachable). Query protocol, Version 2010-03-31, SigV4 service "sns", through QueryClient.
// A topic lives in one Region and is published to through that Region's endpoint: callers keep
// one client per Region (snsServiceOptions for the topic's Region).
// Parsers return kRetryable "MalformedResponse" for malformed XML or an unexpected root element
// and never throw.
// Thread-safety: SnsClient may be used concurrently; parsers are pure.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/query_client.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kSnsApiVersion = "2010-03-31";
inline constexpr std::string_view kSnsSigningName = "sns";
// SNS refuses subjects of 100 characters or more ("must be less than 100 characters long").
inline constexpr size_t kSnsMaxSubjectLength = 99;

struct SnsMessageAttribute {
  std::string name;
  std::string dataType = "String";  // "String", "String.Array" or "Number"
  std::string value;
};

struct SnsPublishRequest {
  std::string topicArn;
  std::string subject;  // ASCII, no line breaks, < 100 characters; empty: none
  std::string message;
  std::vector<SnsMessageAttribute> attributes;
  // FIFO topics (".fifo") only: the ordering group and the deduplication id.
  std::string messageGroupId;
  std::string deduplicationId;
};

// Where notifications are published. Tests substitute a fake.
class TopicPublisher {
 public:
  virtual ~TopicPublisher() = default;
  // Publishes one message; returns its MessageId. kNotFound for a topic that does not exist,
  // kAuth without sns:Publish, kRetryable for throttling and transport failures.
  virtual core::Result<std::string> publish(const SnsPublishRequest& request) = 0;
  // The topic's attributes (TopicArn, DisplayName, ...). Errors as publish().
  virtual core::Result<std::map<std::string, std::string>> getTopicAttributes(
      const std::string& topicArn) = 0;
};

// Options for SNS in `region`; an empty `endpoint` means https://sns.<region>.amazonaws.com.
QueryServiceOptions snsServiceOptions(std::string region, std::string endpoint = {},
                                      RetryOptions retry = {});

// The Publish parameters: TopicArn, Message, Subject (when set),
// MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}, and for FIFO topics
// MessageGroupId and MessageDeduplicationId.
QueryParams publishParams(const SnsPublishRequest& request);

// <PublishResponse><PublishResult><MessageId>: the MessageId (non-empty).
core::Result<std::string> parsePublish(std::string_view xml);
// <GetTopicAttributesResponse><GetTopicAttributesResult><Attributes><entry><key/><value/>.
core::Result<std::map<std::string, std::string>> parseGetTopicAttributes(std::string_view xml);

// The Region of a topic ARN ("arn:aws:sns:eu-west-1:123456789012:ops" -> "eu-west-1"); empty
// when the ARN has no Region field.
std::string topicRegion(std::string_view topicArn);

class SnsClient final : public TopicPublisher {
 public:
  SnsClient(QueryServiceOptions service, HttpTransport& transport, CredentialsProvider& credentials,
            const core::Clock& clock, QueryClientHooks hooks = {});

  core::Result<std::string> publish(const SnsPublishRequest& request) override;
  core::Result<std::map<std::string, std::string>> getTopicAttributes(
      const std::string& topicArn) override;

 private:
  QueryClient query_;
};

}  // namespace endpointbinder::aws
