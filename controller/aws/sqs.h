// QueueApi: the SQS calls the event reader makes (ReceiveMessage with long polling,
// DeleteMessage) and doctor's reachability check (GetQueueAttributes), behind a small
// interface so the reader can be tested with a fake. The real implementation (SqsClient)
// speaks the SQS Query API (2012-11-05) through QueryClient.
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "controller/core/error.h"

namespace endpointbinder::aws {

struct QueueMessage {
  std::string messageId;
  std::string receiptHandle;  // what DeleteMessage needs; never logged
  std::string body;
  int receiveCount = 0;  // ApproximateReceiveCount (0 when not reported)
};

class QueueApi {
 public:
  virtual ~QueueApi() = default;

  // ReceiveMessage: up to `maxMessages` (1..10), waiting up to `wait` (0..20 s, long
  // polling) for the first one. An empty list when none arrived.
  virtual core::Result<std::vector<QueueMessage>> receiveMessages(const std::string& queueUrl,
                                                                  int maxMessages,
                                                                  std::chrono::seconds wait) = 0;
  // DeleteMessage. Deleting a message already deleted succeeds (as on SQS).
  virtual core::Result<void> deleteMessage(const std::string& queueUrl,
                                           const std::string& receiptHandle) = 0;
  // GetQueueAttributes for `names` ("QueueArn", "ApproximateNumberOfMessages", "All", ...).
  virtual core::Result<std::map<std::string, std::string>> getQueueAttributes(
      const std::string& queueUrl, const std::vector<std::string>& names) = 0;
};

}  // namespace endpointbinder::aws
