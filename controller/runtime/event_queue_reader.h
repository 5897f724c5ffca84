// EventQueueReader: reads EC2 and Auto Scaling events from an SQS queue (fed by EventBridge
// rules) and hands them to the instance inventory, so a launched, stopped or interrupted
// instance is acted on within seconds instead of at the next poll. Polling stays on: the
// queue only makes things faster, and nothing breaks while it is unreachable.
//
// One thread long-polls the queue (ReceiveMessage, up to 10 messages, WaitTimeSeconds 20).
// Per batch:
//  * every body is parsed (instance_events.h); events are handed to `handle` together;
//  * a message is deleted only after it was handled: events when `handle` succeeded (when it
//    fails they stay in the queue and come back after the visibility timeout; the queue's
//    redrive policy moves a message that keeps failing to its dead-letter queue);
//  * foreign and malformed messages are counted, logged (never their body) and deleted:
//    never fatal, never retried.
// A failed receive is logged and retried after 1 s, doubling up to 30 s.
// Counters (stats()) feed endpointbinder_event_queue_messages_total{outcome}.
// Thread-safety: start/stop from one thread; pollOnce (tests) must not run beside the thread;
// stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/aws/sqs.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/runtime/instance_inventory.h"

namespace endpointbinder::runtime {

struct EventReaderOptions {
  std::string queueUrl;
  int maxMessages = 10;
  std::chrono::seconds wait{20};
  std::chrono::nanoseconds errorBackoffBase = std::chrono::seconds(1);
  std::chrono::nanoseconds errorBackoffCap = std::chrono::seconds(30);
};

struct EventReaderStats {
  uint64_t received = 0;   // messages received
  uint64_t handled = 0;    // events handed to the inventory successfully
  uint64_t deleted = 0;    // messages deleted
  uint64_t foreign = 0;    // valid JSON, not an event we act on
  uint64_t malformed = 0;  // not an event at all, or one missing its instance id
  uint64_t failed = 0;     // events whose handling failed (left in the queue)
  uint64_t receiveErrors = 0;
  uint64_t deleteErrors = 0;
};

class EventQueueReader {
 public:
  using Handler = std::function<core::Result<void>(const std::vector<InstanceEvent>&)>;

  struct Deps {
    aws::QueueApi& queue;
    Handler handle;
    core::Logger& log;
    // Called by stop() to cut short a long poll in flight (e.g. shut the SQS transport down);
    // optional: without it stop() waits for the poll to return (at most `wait`).
    std::function<void()> interrupt;
  };

  EventQueueReader(Deps deps, EventReaderOptions options);
  ~EventQueueReader();
  EventQueueReader(const EventQueueReader&) = delete;
  EventQueueReader& operator=(const EventQueueReader&) = delete;

  void start();
  // Stops taking messages and cuts a long poll short (Deps::interrupt); returns at once.
  void requestStop();
  // requestStop(), then waits for the batch in hand to be handled. Idempotent.
  void stop();

  // One receive and its handling. Returns false when the receive failed. For tests (and the
  // thread).
  bool pollOnce();

  EventReaderStats stats() const;

 private:
  void threadLoop();

  Deps deps_;
  EventReaderOptions options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;

  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> handled_{0};
  std::atomic<uint64_t> deleted_{0};
  std::atomic<uint64_t> foreign_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> receiveErrors_{0};
  std::atomic<uint64_t> deleteErrors_{0};
};

}  // namespace endpointbinder::runtime
