#include "controller/runtime/target_registration.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <utility>

#include "api/net.h"

namespace endpointbinder::runtime {
namespace {

// QueryClient prefixes AWS's message with the operation (parseQueryError).
constexpr std::string_view kOperationPrefix = "RegisterTargets: ";

// Characters of target ids: IPv4/IPv6 literals, instance ids, ARNs.
bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == ':' || c == '-' || c == '_' || c == '/';
}

bool isEdgePunctuation(char c) { return c == '.' || c == ':' || c == '-' || c == '/'; }

// The form ids are compared in: IP literals canonical ("FD00::01" → "fd00::1"), others as given.
std::string comparable(std::string_view id) {
  if (const std::optional<api::IpAddress> address = api::IpAddress::parse(id)) {
    return address->toString();
  }
  return std::string(id);
}

char lowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool containsIgnoringCase(std::string_view haystack, std::string_view lowerNeedle) {
  if (lowerNeedle.size() > haystack.size()) return false;
  for (size_t start = 0; start + lowerNeedle.size() <= haystack.size(); ++start) {
    size_t i = 0;
    while (i < lowerNeedle.size() && lowerChar(haystack[start + i]) == lowerNeedle[i]) ++i;
    if (i == lowerNeedle.size()) return true;
  }
  return false;
}

std::string awsMessage(const core::Error& error) {
  std::string_view message = error.message;
  if (message.starts_with(kOperationPrefix)) message.remove_prefix(kOperationPrefix.size());
  return std::string(message);
}

enum class TargetOutcome { kPending, kRegistered, kRejected, kDeferred };

}  // namespace

bool isTargetRefusal(const core::Error& error, std::string_view arn) {
  if (error.code == "InvalidTarget" || error.code == "TooManyRegistrationsForTargetId") {
    return true;
  }
  if (error.code != "ValidationError") return false;
  // A malformed or foreign ARN is the group's problem: splitting the targets would only
  // repeat the same refusal for every one of them.
  if (!arn.empty() && error.message.find(arn) != std::string::npos) return false;
  return !containsIgnoringCase(error.message, "targetgrouparn") &&
         !containsIgnoringCase(error.message, "target group arn");
}

std::vector<size_t> targetsNamedIn(std::string_view message,
                                   const std::vector<core::Target>& targets, size_t truncatedAt) {
  std::vector<std::string_view> tokens;
  for (size_t i = 0; i < message.size();) {
    if (!isIdChar(message[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < message.size() && isIdChar(message[end])) ++end;
    tokens.push_back(message.substr(i, end - i));
    i = end;
  }
  // A message cut at the length limit may end inside an id ("10.0.1.5" of "10.0.1.55").
  if (message.size() >= truncatedAt && !tokens.empty() &&
      tokens.back().data() + tokens.back().size() == message.data() + message.size()) {
    tokens.pop_back();
  }

  std::set<std::string> names;
  for (std::string_view token : tokens) {
    // The token itself ("fd00::" ends in ':'), and without sentence punctuation around it
    // ("'i-0abc'." → "i-0abc", "address: 10.0.1.5." → "10.0.1.5").
    std::string_view trailing = token;
    while (!trailing.empty() && isEdgePunctuation(trailing.back())) trailing.remove_suffix(1);
    std::string_view both = trailing;
    while (!both.empty() && isEdgePunctuation(both.front())) both.remove_prefix(1);
    for (std::string_view candidate : {token, trailing, both}) {
      if (!candidate.empty()) names.insert(comparable(candidate));
    }
  }

  std::vector<size_t> named;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i].id.empty() && names.contains(comparable(targets[i].id))) named.push_back(i);
  }
  return named;
}

core::Result<RegistrationReport> registerReportingRejections(
    aws::TargetGroupApi& api, const std::string& arn, const std::vector<core::Target>& targets,
    RegistrationOptions options) {
  const size_t perCall = static_cast<size_t>(std::max(1, options.targetsPerCall));
  const int maxCalls = std::max(1, options.maxCalls);

  RegistrationReport report;
  std::vector<TargetOutcome> outcomes(targets.size(), TargetOutcome::kPending);
  std::vector<std::optional<RejectedTarget>> rejections(targets.size());

  // Sets of target indexes still to send. Whole chunks first, in order; a set whose refused
  // targets were named is resent next (it most likely succeeds); halves queue at the back, so
  // a budget that runs out has tried the largest sets first.
  std::deque<std::vector<size_t>> pending;
  for (size_t begin = 0; begin < targets.size(); begin += perCall) {
    std::vector<size_t> chunk;
    for (size_t i = begin; i < std::min(targets.size(), begin + perCall); ++i) chunk.push_back(i);
    pending.push_back(std::move(chunk));
  }

  while (!pending.empty()) {
    std::vector<size_t> set = std::move(pending.front());
    pending.pop_front();
    if (report.calls >= maxCalls) {
      for (size_t index : set) outcomes[index] = TargetOutcome::kDeferred;
      for (const std::vector<size_t>& rest : pending) {
        for (size_t index : rest) outcomes[index] = TargetOutcome::kDeferred;
      }
      break;
    }
    std::vector<core::Target> batch;
    batch.reserve(set.size());
    for (size_t index : set) batch.push_back(targets[index]);

    ++report.calls;
    const core::Result<void> result = api.registerTargets(arn, batch);
    if (result) {
      for (size_t index : set) outcomes[index] = TargetOutcome::kRegistered;
      continue;
    }
    const core::Error& error = result.error();
    if (!isTargetRefusal(error, arn)) return std::unexpected(error);

    const std::string message = awsMessage(error);
    auto reject = [&](size_t index) {
      outcomes[index] = TargetOutcome::kRejected;
      rejections[index] = RejectedTarget{targets[index], error.code, message, error.requestId};
    };
    const std::vector<size_t> named = targetsNamedIn(message, batch);
    if (!named.empty()) {
      std::vector<size_t> rest;
      size_t next = 0;  // `named` is ascending positions in `set`
      for (size_t position = 0; position < set.size(); ++position) {
        if (next < named.size() && named[next] == position) {
          reject(set[position]);
          ++next;
        } else {
          rest.push_back(set[position]);
        }
      }
      if (!rest.empty()) pending.push_front(std::move(rest));
    } else if (set.size() == 1) {
      reject(set.front());
    } else {
      const auto middle = set.begin() + static_cast<std::ptrdiff_t>(set.size() / 2);
      pending.emplace_back(set.begin(), middle);
      pending.emplace_back(middle, set.end());
    }
  }

  for (size_t i = 0; i < targets.size(); ++i) {
    switch (outcomes[i]) {
      case TargetOutcome::kRegistered:
        report.registered.push_back(targets[i]);
        break;
      case TargetOutcome::kRejected:
        report.rejected.push_back(std::move(*rejections[i]));
        break;
      case TargetOutcome::kDeferred:
      case TargetOutcome::kPending:  // unreachable: every set ends registered, rejected or deferred
        report.deferred.push_back(targets[i]);
        break;
    }
  }
  return report;
}

}  // namespace endpointbinder::runtime
