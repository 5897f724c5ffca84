#include "controller/core/instance.h"

#include <algorithm>
#include <array>

namespace endpointbinder::core {

namespace {

// One pattern element: a literal character, `?` or `*`.
struct Token {
  enum Kind { kLiteral, kOne, kAny } kind;
  char c;
};

std::vector<Token> tokenize(std::string_view pattern) {
  std::vector<Token> tokens;
  tokens.reserve(pattern.size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      // An escaped character is literal; a trailing backslash is itself.
      tokens.push_back({Token::kLiteral, i + 1 < pattern.size() ? pattern[++i] : '\\'});
    } else if (c == '*') {
      tokens.push_back({Token::kAny, c});
    } else if (c == '?') {
      tokens.push_back({Token::kOne, c});
    } else {
      tokens.push_back({Token::kLiteral, c});
    }
  }
  return tokens;
}

bool anyValueMatches(const std::vector<std::string>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return ec2WildcardMatch(p, text); });
}

constexpr std::array<std::string_view, 11> kLocalFilters = {
    "tag-key",
    "tag-value",
    "vpc-id",
    "subnet-id",
    "instance-type",
    "instance-id",
    "availability-zone",
    "image-id",
    "private-ip-address",
    "instance-lifecycle",
    "instance-state-name",
};

}  // namespace

bool ec2WildcardMatch(std::string_view pattern, std::string_view text) {
  // Most values are literal: no need to tokenize (one account-wide listing is matched against
  // every source's filters each round).
  if (pattern.find_first_of("*?\\") == std::string_view::npos) return pattern == text;
  const auto tokens = tokenize(pattern);
  // Greedy matching with backtracking to the last `*` (linear in practice, never exponential).
  size_t t = 0;
  size_t s = 0;
  size_t starToken = std::string_view::npos;
  size_t starText = 0;
  while (s < text.size()) {
    if (t < tokens.size() && tokens[t].kind == Token::kAny) {
      starToken = t++;
      starText = s;
    } else if (t < tokens.size() &&
               (tokens[t].kind == Token::kOne ||
                (tokens[t].kind == Token::kLiteral && tokens[t].c == text[s]))) {
      ++t;
      ++s;
    } else if (starToken != std::string_view::npos) {
      t = starToken + 1;
      s = ++starText;
    } else {
      return false;
    }
  }
  while (t < tokens.size() && tokens[t].kind == Token::kAny) ++t;
  return t == tokens.size();
}

bool isInstanceId(std::string_view id) {
  return id.size() > 2 && id.size() <= 19 && id.starts_with("i-") &&
         std::all_of(id.begin() + 2, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool ec2FilterEvaluatedLocally(std::string_view name) {
  if (name.starts_with("tag:")) return name.size() > 4;
  return std::find(kLocalFilters.begin(), kLocalFilters.end(), name) != kLocalFilters.end();
}

bool ec2FiltersEvaluatedLocally(const std::vector<api::Ec2Filter>& filters) {
  return std::all_of(filters.begin(), filters.end(),
                     [](const api::Ec2Filter& f) { return ec2FilterEvaluatedLocally(f.name); });
}

bool ec2FilterMatches(const api::Ec2Filter& filter, const Instance& instance) {
  const std::string_view name = filter.name;
  const auto& values = filter.values;
  const auto field = [&](const std::string& text) {
    return !text.empty() && anyValueMatches(values, text);
  };
  if (name.starts_with("tag:")) {
    const auto it = instance.tags.find(name.substr(4));
    return it != instance.tags.end() && anyValueMatches(values, it->second);
  }
  if (name == "tag-key") {
    return std::any_of(instance.tags.begin(), instance.tags.end(),
                       [&](const auto& tag) { return anyValueMatches(values, tag.first); });
  }
  if (name == "tag-value") {
    return std::any_of(instance.tags.begin(), instance.tags.end(),
                       [&](const auto& tag) { return anyValueMatches(values, tag.second); });
  }
  if (name == "vpc-id") return field(instance.vpcId);
  if (name == "subnet-id") return field(instance.subnetId);
  if (name == "instance-type") return field(instance.instanceType);
  if (name == "instance-id") return field(instance.id);
  if (name == "availability-zone") return field(instance.availabilityZone);
  if (name == "image-id") return field(instance.imageId);
  if (name == "private-ip-address") return field(instance.privateIpAddress);
  if (name == "instance-lifecycle") return field(instance.lifecycle);
  if (name == "instance-state-name") return field(instance.state);
  return false;
}

bool ec2SourceMatches(const std::vector<api::Ec2Filter>& filters,
                      const std::vector<std::string>& states, const Instance& instance) {
  if (std::find(states.begin(), states.end(), instance.state) == states.end()) return false;
  return std::all_of(filters.begin(), filters.end(),
                     [&](const api::Ec2Filter& f) { return ec2FilterMatches(f, instance); });
}

InstanceIndex::InstanceIndex(const std::vector<Instance>& instances) : instances_(instances) {
  for (size_t i = 0; i < instances.size(); ++i) {
    for (const auto& [key, value] : instances[i].tags) {
      std::string entry = key;
      entry.push_back('\0');
      entry += value;
      byTag_[entry].push_back(i);
    }
  }
}

std::vector<const Instance*> InstanceIndex::matching(const std::vector<api::Ec2Filter>& filters,
                                                     const std::vector<std::string>& states) const {
  const auto literal = [](const std::string& v) {
    return v.find_first_of("*?\\") == std::string::npos;
  };
  const api::Ec2Filter* indexed = nullptr;
  for (const auto& f : filters) {
    if (f.name.starts_with("tag:") && f.name.size() > 4 &&
        std::all_of(f.values.begin(), f.values.end(), literal)) {
      indexed = &f;
      break;
    }
  }
  std::vector<const Instance*> out;
  if (indexed == nullptr) {
    for (const auto& instance : instances_) {
      if (ec2SourceMatches(filters, states, instance)) out.push_back(&instance);
    }
    return out;
  }
  std::vector<size_t> candidates;
  for (const auto& value : indexed->values) {
    std::string entry = indexed->name.substr(4);
    entry.push_back('\0');
    entry += value;
    if (const auto it = byTag_.find(entry); it != byTag_.end()) {
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (size_t i : candidates) {
    if (ec2SourceMatches(filters, states, instances_[i])) out.push_back(&instances_[i]);
  }
  return out;
}

AsgMembership asgMembership(std::string_view lifecycleState) {
  if (lifecycleState == "InService") return AsgMembership::kListed;
  if (lifecycleState.starts_with("Terminating") || lifecycleState == "Terminated") {
    return AsgMembership::kLeaving;
  }
  return AsgMembership::kNotListed;
}

}  // namespace endpointbinder::core
