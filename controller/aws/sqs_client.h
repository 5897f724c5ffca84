// SqsClient: QueueApi over the SQS Query API (2012-11-05) — SigV4, standard-mode retries,
// per-action client-side buckets — through QueryClient, plus the pure response parsers.
// Requests go to the service endpoint with the queue named by QueueUrl (as botocore does), so
// one client serves any queue of the Region. A long poll waits up to 20 s: the service's
// attemptTimeout must exceed the wait (sqsServiceOptions sets 30 s).
// SQS answers in the Query shape (<ReceiveMessageResponse><ReceiveMessageResult><Message>…,
// lists flattened). Parsers return kRetryable "MalformedResponse" errors for malformed XML,
// an unexpected root element or a message without MessageId/ReceiptHandle, and never throw.
// Thread-safety: all methods may be called concurrently; parsers are pure.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/query_client.h"
#include "controller/aws/rate_limiter.h"
#include "controller/aws/sqs.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kSqsApiVersion = "2012-11-05";
inline constexpr std::string_view kSqsSigningName = "sqs";

QueryServiceOptions sqsServiceOptions(std::string region, std::string endpoint = {},
                                      RetryOptions retry = {});
// SQS has no published per-account request quota for these calls; the buckets only keep a
// malfunctioning loop from hammering it (ReceiveMessage 5/s, DeleteMessage 50/s).
RateLimitOptions sqsRateLimits();

core::Result<std::vector<QueueMessage>> parseReceiveMessage(std::string_view xml);
core::Result<std::map<std::string, std::string>> parseGetQueueAttributes(std::string_view xml);
// DeleteMessage: checks the root element is <DeleteMessageResponse>.
core::Result<void> parseDeleteMessage(std::string_view xml);

class SqsClient final : public QueueApi {
 public:
  SqsClient(QueryServiceOptions service, HttpTransport& transport, CredentialsProvider& credentials,
            const core::Clock& clock, QueryClientHooks hooks = {});

  core::Result<std::vector<QueueMessage>> receiveMessages(const std::string& queueUrl,
                                                          int maxMessages,
                                                          std::chrono::seconds wait) override;
  core::Result<void> deleteMessage(const std::string& queueUrl,
                                   const std::string& receiptHandle) override;
  core::Result<std::map<std::string, std::string>> getQueueAttributes(
      const std::string& queueUrl, const std::vector<std::string>& names) override;

 private:
  QueryClient query_;
};

}  // namespace endpointbinder::aws
