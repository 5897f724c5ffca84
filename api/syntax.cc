#include "api/syntax.h"

#include <array>
#include <cstdint>
#include <vector>

namespace endpointbinder::api {

namespace {

constexpr std::string_view kArnShape =
    "arn:<partition>:elasticloadbalancing:<region>:<account-id>:targetgroup/<name>/<id>";
constexpr std::string_view kSnsArnShape = "arn:<partition>:sns:<region>:<account-id>:<topic>";
constexpr std::string_view kUnitHint = "(use h, m, s or ms)";

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isAlpha(char c) { return isLower(c) || isUpper(c); }
bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }
bool isLowerHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f'); }
bool isControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

template <typename Pred>
bool allOf(std::string_view text, Pred pred) {
  for (char c : text) {
    if (!pred(c)) return false;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::unexpected<std::string> fail(std::string message) {
  return std::unexpected(std::move(message));
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool isDns1123Label(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  if (!allOf(text, [](char c) { return isLower(c) || isDigit(c) || c == '-'; })) return false;
  return text.front() != '-' && text.back() != '-';
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], the Kubernetes "qualified name" part.
bool isQualifiedNamePart(std::string_view text) {
  if (text.empty()) return false;
  if (!allOf(text, [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; })) {
    return false;
  }
  return isAlnum(text.front()) && isAlnum(text.back());
}

// aws, aws-cn, aws-us-gov, aws-iso, aws-iso-<letter> (aws-iso-b, aws-iso-e, aws-iso-f).
bool isPartition(std::string_view text) {
  if (text == "aws" || text == "aws-cn" || text == "aws-us-gov" || text == "aws-iso") return true;
  return text.size() == 9 && text.starts_with("aws-iso-") && isLower(text[8]);
}

// [a-z]{2}(-[a-z]+)+-[0-9]+, e.g. ap-northeast-1, us-gov-west-1, us-isob-east-1.
bool isRegion(std::string_view text) {
  const auto parts = split(text, '-');
  if (parts.size() < 3) return false;
  if (parts.front().size() != 2 || !allOf(parts.front(), isLower)) return false;
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    if (parts[i].empty() || !allOf(parts[i], isLower)) return false;
  }
  return !parts.back().empty() && allOf(parts.back(), isDigit);
}

bool isAccount(std::string_view text) { return text.size() == 12 && allOf(text, isDigit); }

Check checkPartition(std::string_view partition) {
  if (!isPartition(partition)) {
    return fail("unknown partition " + quoteForMessage(partition) +
                " (aws, aws-cn, aws-us-gov or aws-iso*)");
  }
  return {};
}

Check checkRegionAndAccount(std::string_view region, std::string_view account) {
  if (!isRegion(region)) {
    return fail("region " + quoteForMessage(region) +
                " is not a region name such as \"ap-northeast-1\"");
  }
  if (!isAccount(account)) {
    return fail("account " + quoteForMessage(account) + " is not 12 digits");
  }
  return {};
}

}  // namespace

std::string quoteForMessage(std::string_view text) {
  constexpr size_t kMaxBytes = 80;
  bool truncated = false;
  if (text.size() > kMaxBytes) {
    size_t cut = kMaxBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
    truncated = true;
  }
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (isControl(byte)) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  out += truncated ? "...\"" : "\"";
  return out;
}

size_t codePointCount(std::string_view text) {
  size_t count = 0;
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    if (byte >= 0xF0 && byte <= 0xF4) {
      length = 4;
    } else if (byte >= 0xE0) {
      length = byte <= 0xEF ? 3 : 1;
    } else if (byte >= 0xC2) {
      length = 2;
    }
    bool valid = i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    i += valid ? length : 1;
    ++count;
  }
  return count;
}

std::expected<Duration, std::string> parseDuration(std::string_view text) {
  const std::string prefix = "invalid duration " + quoteForMessage(text) + ": ";
  if (text.empty()) return fail("invalid duration \"\": write a duration such as \"90s\"");
  if (text[0] == '-') return fail(prefix + "negative durations are not allowed");
  if (text.find_first_of(" \t") != std::string_view::npos) {
    return fail(prefix +
                "spaces are not allowed; write units directly after numbers, such as \"1h30m\"");
  }
  // Rank of the previous unit: units must strictly decrease (h=3, m=2, s=1, ms=0).
  int previousRank = 4;
  constexpr int64_t kLimitMs = int64_t{1} << 50;  // ~35,000 years: far beyond any range check
  int64_t totalMs = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t numberStart = pos;
    int64_t number = 0;
    bool tooLarge = false;
    while (pos < text.size() && isDigit(text[pos])) {
      number = number * 10 + (text[pos] - '0');
      if (number > kLimitMs) tooLarge = true, number = kLimitMs;
      ++pos;
    }
    if (pos < text.size() && text[pos] == '.') {
      return fail(prefix + "fractions are not supported; use whole units such as \"1h30m\"");
    }
    if (pos == numberStart) {
      return fail(prefix + "expected a number followed by a unit, such as \"90s\" or \"1h30m\"");
    }
    const size_t unitStart = pos;
    while (pos < text.size() && !isDigit(text[pos]) && text[pos] != '.') ++pos;
    const std::string_view unit = text.substr(unitStart, pos - unitStart);
    if (unit.empty()) {
      return fail(prefix + "missing unit after " +
                  quoteForMessage(text.substr(numberStart, pos - numberStart)) + " " +
                  std::string(kUnitHint));
    }
    int rank = 0;
    int64_t unitMs = 0;
    if (unit == "h") {
      rank = 3, unitMs = 3'600'000;
    } else if (unit == "m") {
      rank = 2, unitMs = 60'000;
    } else if (unit == "s") {
      rank = 1, unitMs = 1'000;
    } else if (unit == "ms") {
      rank = 0, unitMs = 1;
    } else {
      return fail(prefix + "unknown unit " + quoteForMessage(unit) + " " + std::string(kUnitHint));
    }
    if (rank >= previousRank) {
      return fail(prefix + "each unit may appear once, largest first (h, m, s, ms)");
    }
    previousRank = rank;
    if (tooLarge || number > kLimitMs / unitMs || totalMs + number * unitMs > kLimitMs) {
      return fail(prefix + "too large");
    }
    totalMs += number * unitMs;
  }
  return Duration(totalMs);
}

std::string formatDuration(Duration duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const int64_t hours = ms / 3'600'000;
  const int64_t minutes = ms / 60'000 % 60;
  const int64_t seconds = ms / 1000 % 60;
  const int64_t millis = ms % 1000;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (seconds) out += std::to_string(seconds) + "s";
  if (millis) out += std::to_string(millis) + "ms";
  return out;
}

std::expected<CountOrPercent, std::string> parsePercent(std::string_view text) {
  const std::string_view digits = text.ends_with('%') ? text.substr(0, text.size() - 1) : "";
  const bool wellFormed =
      !digits.empty() && allOf(digits, isDigit) && (digits.size() == 1 || digits[0] != '0');
  if (!wellFormed) {
    if (!text.empty() && allOf(text, isDigit)) {
      return fail(quoteForMessage(text) + " is a string; write " + std::string(text) +
                  " without quotes for a count, or \"" + std::string(text) +
                  "%\" for a percentage");
    }
    return fail(quoteForMessage(text) + " is neither a count nor a percentage such as \"50%\"");
  }
  int value = 0;
  for (char c : digits) {
    value = value * 10 + (c - '0');
    if (value > 100) return fail(quoteForMessage(text) + " exceeds 100%");
  }
  return CountOrPercent{true, value};
}

std::expected<TargetGroupArn, std::string> parseTargetGroupArn(std::string_view text) {
  const auto parts = split(text, ':');
  if (parts.size() != 6 || parts[0] != "arn") {
    return fail(quoteForMessage(text) + " is not a target group ARN (" + std::string(kArnShape) +
                ")");
  }
  if (auto partition = checkPartition(parts[1]); !partition) {
    return std::unexpected(partition.error());
  }
  if (parts[2] != "elasticloadbalancing") {
    return fail("service " + quoteForMessage(parts[2]) + " is not elasticloadbalancing");
  }
  if (auto common = checkRegionAndAccount(parts[3], parts[4]); !common) {
    return std::unexpected(common.error());
  }
  const auto resource = split(parts[5], '/');
  if (resource.size() != 3 || resource[0] != "targetgroup") {
    return fail("resource " + quoteForMessage(parts[5]) +
                " is not a target group (targetgroup/<name>/<id>)");
  }
  const std::string_view name = resource[1];
  if (name.empty() || name.size() > 32) {
    return fail("target group name " + quoteForMessage(name) + " must be 1 to 32 characters");
  }
  if (!allOf(name, [](char c) { return isAlnum(c) || c == '-'; })) {
    return fail("target group name " + quoteForMessage(name) +
                " may contain only letters, digits and hyphens");
  }
  if (name.front() == '-' || name.back() == '-') {
    return fail("target group name " + quoteForMessage(name) +
                " must not start or end with a hyphen");
  }
  const std::string_view id = resource[2];
  if (id.size() != 16 || !allOf(id, isLowerHex)) {
    return fail("target group id " + quoteForMessage(id) +
                " is not 16 lowercase hexadecimal digits");
  }
  TargetGroupArn arn;
  arn.text = std::string(text);
  arn.partition = std::string(parts[1]);
  arn.region = std::string(parts[3]);
  arn.account = std::string(parts[4]);
  arn.name = std::string(name);
  arn.id = std::string(id);
  return arn;
}

bool isIamNameChar(char c) {
  return isAlnum(c) || c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' ||
         c == '-';
}

std::expected<RoleArn, std::string> parseRoleArn(std::string_view text) {
  constexpr std::string_view kShape = "arn:<partition>:iam::<account-id>:role/<name>";
  const auto parts = split(text, ':');
  if (parts.size() != 6 || parts[0] != "arn") {
    return fail(quoteForMessage(text) + " is not an IAM role ARN (" + std::string(kShape) + ")");
  }
  if (text.size() > 2048) return fail("an IAM role ARN is at most 2048 characters");
  if (auto partition = checkPartition(parts[1]); !partition) {
    return std::unexpected(partition.error());
  }
  if (parts[2] != "iam") return fail("service " + quoteForMessage(parts[2]) + " is not iam");
  if (!parts[3].empty()) return fail("an IAM role ARN has no region (" + std::string(kShape) + ")");
  if (!isAccount(parts[4])) {
    return fail("account " + quoteForMessage(parts[4]) + " is not 12 digits");
  }
  const auto resource = split(parts[5], '/');
  if (resource.size() < 2 || resource[0] != "role") {
    return fail("resource " + quoteForMessage(parts[5]) + " is not a role (role/<name>)");
  }
  for (size_t i = 1; i < resource.size(); ++i) {
    const std::string_view segment = resource[i];
    if (segment.empty() || segment.size() > 64 || !allOf(segment, isIamNameChar)) {
      return fail("role name or path segment " + quoteForMessage(segment) +
                  " must be 1 to 64 of letters, digits and _+=,.@-");
    }
  }
  RoleArn arn;
  arn.text = std::string(text);
  arn.partition = std::string(parts[1]);
  arn.account = std::string(parts[4]);
  arn.name = std::string(resource.back());
  return arn;
}

Check checkExternalId(std::string_view text) {
  if (text.size() < 2 || text.size() > 1224) {
    return fail("an external id is 2 to 1224 characters, not " + std::to_string(text.size()));
  }
  if (!allOf(text, [](char c) { return isIamNameChar(c) || c == ':' || c == '/'; })) {
    return fail("an external id may contain only letters, digits and _+=,.@:/-");
  }
  return {};
}

Check checkSnsTopicArn(std::string_view text) {
  const auto parts = split(text, ':');
  if (parts.size() != 6 || parts[0] != "arn") {
    return fail(quoteForMessage(text) + " is not an SNS topic ARN (" + std::string(kSnsArnShape) +
                ")");
  }
  if (auto partition = checkPartition(parts[1]); !partition) return partition;
  if (parts[2] != "sns") return fail("service " + quoteForMessage(parts[2]) + " is not sns");
  if (auto common = checkRegionAndAccount(parts[3], parts[4]); !common) return common;
  std::string_view topic = parts[5];
  if (topic.ends_with(".fifo")) topic.remove_suffix(5);
  if (topic.empty() || topic.size() > 256 ||
      !allOf(topic, [](char c) { return isAlnum(c) || c == '-' || c == '_'; })) {
    return fail("topic name " + quoteForMessage(parts[5]) +
                " must be 1 to 256 letters, digits, \"-\" or \"_\" (optionally ending \".fifo\")");
  }
  return {};
}

std::expected<std::string, std::string> normalizeHostname(std::string_view text) {
  if (text.empty()) return fail("hostname must not be empty");
  if (IpAddress::parse(text)) {
    return fail(quoteForMessage(text) +
                " is an IP address, not a hostname; use a static source for fixed addresses");
  }
  std::string_view name = text;
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.size() > 253) return fail("hostname is longer than 253 characters");
  for (char c : name) {
    if (!isAlnum(c) && c != '-' && c != '.') {
      const bool ascii = static_cast<unsigned char>(c) < 0x80;
      return fail(quoteForMessage(text) + " contains " +
                  (ascii ? quoteForMessage(std::string_view(&c, 1)) : "a non-ASCII character") +
                  "; a hostname has only letters, digits, \"-\" and \".\"");
    }
  }
  const auto labels = split(name, '.');
  for (std::string_view label : labels) {
    if (label.empty()) return fail(quoteForMessage(text) + " has an empty label");
    if (label.size() > 63) {
      return fail("label " + quoteForMessage(label) + " is longer than 63 characters");
    }
    if (label.front() == '-' || label.back() == '-') {
      return fail("label " + quoteForMessage(label) + " starts or ends with \"-\"");
    }
  }
  if (allOf(labels.back(), isDigit)) {
    return fail("the last label " + quoteForMessage(labels.back()) + " is all digits");
  }
  std::string lowered(name);
  for (char& c : lowered) {
    if (isUpper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  return lowered;
}

Check checkDns1123Label(std::string_view text) {
  if (text.empty()) return fail("must not be empty");
  if (text.size() > 63) return fail(quoteForMessage(text) + " is longer than 63 characters");
  if (!isDns1123Label(text)) {
    return fail(quoteForMessage(text) +
                " is not a DNS-1123 label (lowercase letters, digits and \"-\", starting and "
                "ending with a letter or digit)");
  }
  return {};
}

Check checkLabelKey(std::string_view text) {
  std::string_view name = text;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = text.substr(0, slash);
    name = text.substr(slash + 1);
    if (prefix.size() > 253) {
      return fail("prefix of key " + quoteForMessage(text) + " is longer than 253 characters");
    }
    const auto labels = split(prefix, '.');
    for (std::string_view label : labels) {
      if (!isDns1123Label(label)) {
        return fail("prefix " + quoteForMessage(prefix) + " of key " + quoteForMessage(text) +
                    " is not a DNS-1123 subdomain (lowercase letters, digits, \"-\" and \".\")");
      }
    }
  }
  if (name.size() > 63) {
    return fail("name part of key " + quoteForMessage(text) + " is longer than 63 characters");
  }
  if (!isQualifiedNamePart(name)) {
    return fail("key " + quoteForMessage(text) +
                " is not a valid label key ([prefix/]name: the name has letters, digits, \"-\", "
                "\"_\" and \".\", starting and ending with a letter or digit)");
  }
  return {};
}

Check checkLabelValue(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() > 63) return fail(quoteForMessage(text) + " is longer than 63 characters");
  if (!isQualifiedNamePart(text)) {
    return fail(quoteForMessage(text) +
                " is not a valid label value (letters, digits, \"-\", \"_\" and \".\", "
                "starting and ending with a letter or digit)");
  }
  return {};
}

Check checkAvailabilityZone(std::string_view text) {
  if (text == "all") return {};
  // <region><letter> (ap-northeast-1a) or <region>-<zone group>-<n><letter> (us-west-2-lax-1a).
  auto isZone = [](std::string_view zone) {
    if (zone.size() < 2 || !isLower(zone.back())) return false;
    zone.remove_suffix(1);
    if (isRegion(zone)) return true;
    const auto parts = split(zone, '-');
    if (parts.size() < 5) return false;
    const std::string_view groupDigits = parts.back();
    const std::string_view group = parts[parts.size() - 2];
    const std::string_view region =
        zone.substr(0, zone.size() - groupDigits.size() - group.size() - 2);
    return isRegion(region) && !group.empty() && allOf(group, isLower) && !groupDigits.empty() &&
           allOf(groupDigits, isDigit);
  };
  if (!isZone(text)) {
    return fail(quoteForMessage(text) +
                " is not \"all\" or an availability zone name such as \"ap-northeast-1a\"");
  }
  return {};
}

Check checkHostedZoneId(std::string_view text) {
  if (text.size() < 2 || text.size() > 33 || text[0] != 'Z' ||
      !allOf(text.substr(1), [](char c) { return isUpper(c) || isDigit(c); })) {
    return fail(quoteForMessage(text) +
                " is not a hosted zone id (\"Z\" and 1 to 32 uppercase letters and digits)");
  }
  return {};
}

Check checkSpotFleetRequestId(std::string_view text) {
  constexpr std::array<size_t, 5> kGroups = {8, 4, 4, 4, 12};
  bool ok = text.starts_with("sfr-");
  if (ok) {
    const auto groups = split(text.substr(4), '-');
    ok = groups.size() == kGroups.size();
    for (size_t i = 0; ok && i < groups.size(); ++i) {
      ok = groups[i].size() == kGroups[i] && allOf(groups[i], isLowerHex);
    }
  }
  if (!ok) {
    return fail(quoteForMessage(text) +
                " is not a Spot Fleet request id (sfr- and a lowercase UUID, such as "
                "\"sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a\")");
  }
  return {};
}

Check checkAutoScalingGroupName(std::string_view text) {
  if (text.empty()) return fail("must not be empty");
  if (codePointCount(text) > 255) {
    return fail(quoteForMessage(text) + " is longer than 255 characters");
  }
  for (char c : text) {
    if (isControl(static_cast<unsigned char>(c))) {
      return fail(quoteForMessage(text) + " contains a control character");
    }
  }
  return {};
}

Check checkSsmParameterName(std::string_view text) {
  if (text.size() > 1011) {
    return fail("SSM parameter name is longer than 1011 characters");
  }
  bool ok = text.size() >= 2 && text[0] == '/';
  if (ok) {
    for (std::string_view segment : split(text.substr(1), '/')) {
      ok = ok && !segment.empty() &&
           allOf(segment, [](char c) { return isAlnum(c) || c == '_' || c == '.' || c == '-'; });
    }
  }
  if (!ok) {
    return fail(quoteForMessage(text) +
                " is not an SSM parameter name such as \"/endpoint-binder/slack\" (\"/\" and "
                "segments of letters, digits, \"_\", \".\" and \"-\")");
  }
  return {};
}

Check checkRecordNameFrom(std::string_view text) {
  if (text == "instance-id") return {};
  if (text.starts_with("tag:")) {
    const std::string_view key = text.substr(4);
    if (key.empty()) return fail("\"tag:\" needs a tag key, such as \"tag:Name\"");
    if (codePointCount(key) > 128) return fail("tag key is longer than 128 characters");
    for (char c : key) {
      if (isControl(static_cast<unsigned char>(c))) {
        return fail("tag key " + quoteForMessage(key) + " contains a control character");
      }
    }
    return {};
  }
  return fail(quoteForMessage(text) + " is not \"instance-id\" or \"tag:<key>\"");
}

}  // namespace endpointbinder::api
