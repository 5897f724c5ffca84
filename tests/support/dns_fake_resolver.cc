#include "tests/support/dns_fake_resolver.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace endpointbinder::dns::testing {

ResolveOutcome answerOf(const std::vector<std::string>& addresses, int ttlSeconds,
                        std::vector<std::string> cnameChain) {
  Answer answer;
  for (const auto& text : addresses) {
    auto address = api::IpAddress::parse(text);
    if (!address) {
      std::cerr << "answerOf: bad address " << text << "\n";
      std::abort();
    }
    answer.addresses.push_back(*address);
  }
  std::sort(answer.addresses.begin(), answer.addresses.end());
  answer.ttl = std::chrono::seconds(ttlSeconds);
  answer.cnameChain = std::move(cnameChain);
  return ResolveOutcome::success(std::move(answer));
}

ResolveOutcome failureOf(ResolveStatus status, std::string message) {
  if (message.empty()) message = resolveStatusName(status);
  return ResolveOutcome::failure(status, std::move(message));
}

void FakeResolver::setOutcome(const std::string& hostname, ResolveOutcome outcome) {
  std::lock_guard lock(mutex_);
  standing_[hostname] = std::move(outcome);
}

void FakeResolver::queueOutcome(const std::string& hostname, ResolveOutcome outcome) {
  std::lock_guard lock(mutex_);
  queued_[hostname].push_back(std::move(outcome));
}

void FakeResolver::setBlocking(const std::string& hostname, bool blocking) {
  {
    std::lock_guard lock(mutex_);
    blocking_[hostname] = blocking;
  }
  changed_.notify_all();
}

ResolveOutcome FakeResolver::resolve(std::string_view hostname, AddressFamilies families,
                                     std::stop_token stop) {
  const std::string name(hostname);
  std::unique_lock lock(mutex_);
  calls_.push_back(Call{name, families});
  inProgress_++;
  maxConcurrent_ = std::max(maxConcurrent_, inProgress_);
  ResolveOutcome outcome;
  if (blocking_[name]) {
    changed_.wait(lock, stop, [&] { return !blocking_[name]; });
    if (stop.stop_requested()) {
      inProgress_--;
      return failureOf(ResolveStatus::kTimeout, "cancelled");
    }
  }
  if (auto& queue = queued_[name]; !queue.empty()) {
    outcome = std::move(queue.front());
    queue.pop_front();
  } else if (auto it = standing_.find(name); it != standing_.end()) {
    outcome = it->second;
  } else {
    outcome = failureOf(ResolveStatus::kNxDomain);
  }
  inProgress_--;
  return outcome;
}

std::vector<FakeResolver::Call> FakeResolver::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

int FakeResolver::callCount(const std::string& hostname) const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(std::count_if(calls_.begin(), calls_.end(),
                                        [&](const Call& c) { return c.hostname == hostname; }));
}

int FakeResolver::maxConcurrent() const {
  std::lock_guard lock(mutex_);
  return maxConcurrent_;
}

int FakeResolver::inProgress() const {
  std::lock_guard lock(mutex_);
  return inProgress_;
}

}  // namespace endpointbinder::dns::testing
