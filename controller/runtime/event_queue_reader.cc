#include "controller/runtime/event_queue_reader.h"

#include <algorithm>

#include "controller/core/thread_name.h"
#include "controller/runtime/instance_events.h"

namespace endpointbinder::runtime {

namespace {
using core::LogLevel;
}  // namespace

EventQueueReader::EventQueueReader(Deps deps, EventReaderOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

EventQueueReader::~EventQueueReader() { stop(); }

void EventQueueReader::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { threadLoop(); });
}

void EventQueueReader::requestStop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && deps_.interrupt) deps_.interrupt();
}

void EventQueueReader::stop() {
  requestStop();
  if (thread_.joinable()) thread_.join();
}

bool EventQueueReader::pollOnce() {
  auto messages =
      deps_.queue.receiveMessages(options_.queueUrl, options_.maxMessages, options_.wait);
  if (!messages) {
    ++receiveErrors_;
    deps_.log.log(LogLevel::kWarn, "cannot read the events queue; polling continues",
                  {core::field("error", messages.error().toString())});
    return false;
  }
  received_ += messages->size();
  std::vector<InstanceEvent> events;
  std::vector<const aws::QueueMessage*> eventMessages;
  std::vector<const aws::QueueMessage*> discard;
  for (const auto& message : *messages) {
    auto parsed = parseEventMessage(message.body);
    switch (parsed.kind) {
      case EventMessageKind::kInstanceEvent:
        events.push_back(std::move(parsed.event));
        eventMessages.push_back(&message);
        break;
      case EventMessageKind::kForeign:
        ++foreign_;
        deps_.log.log(LogLevel::kInfo, "ignoring a foreign message on the events queue",
                      {core::field("messageId", message.messageId),
                       core::field("detailType", parsed.detailType),
                       core::field("reason", parsed.description)});
        discard.push_back(&message);
        break;
      case EventMessageKind::kMalformed:
        ++malformed_;
        deps_.log.log(LogLevel::kWarn, "deleting a malformed message from the events queue",
                      {core::field("messageId", message.messageId),
                       core::field("detailType", parsed.detailType),
                       core::field("reason", parsed.description)});
        discard.push_back(&message);
        break;
    }
  }
  if (!events.empty()) {
    auto handled = deps_.handle(events);
    if (handled) {
      handled_ += events.size();
      discard.insert(discard.end(), eventMessages.begin(), eventMessages.end());
    } else {
      failed_ += events.size();
      deps_.log.log(LogLevel::kWarn,
                    "could not act on instance events; they stay in the queue and polling "
                    "continues",
                    {core::field("events", static_cast<long long>(events.size())),
                     core::field("error", handled.error().toString())});
    }
  }
  for (const auto* message : discard) {
    auto deleted = deps_.queue.deleteMessage(options_.queueUrl, message->receiptHandle);
    if (deleted) {
      ++deleted_;
    } else {
      ++deleteErrors_;
      deps_.log.log(LogLevel::kWarn, "cannot delete a message from the events queue",
                    {core::field("messageId", message->messageId),
                     core::field("error", deleted.error().toString())});
    }
  }
  return true;
}

void EventQueueReader::threadLoop() {
  core::nameThisThread("eb-sqs-events");
  auto backoff = options_.errorBackoffBase;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (pollOnce()) {
      backoff = options_.errorBackoffBase;
      continue;
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, options_.errorBackoffCap);
  }
}

EventReaderStats EventQueueReader::stats() const {
  EventReaderStats s;
  s.received = received_;
  s.handled = handled_;
  s.deleted = deleted_;
  s.foreign = foreign_;
  s.malformed = malformed_;
  s.failed = failed_;
  s.receiveErrors = receiveErrors_;
  s.deleteErrors = deleteErrors_;
  return s;
}

}  // namespace endpointbinder::runtime
