#include "controller/aws/credentials_json.h"

#include <cpprest/json.h>

#include <chrono>
#include <cstdio>
#include <system_error>

#include "controller/aws/json_limits.h"

namespace endpointbinder::aws {
namespace {

constexpr std::size_t kMaxDocumentBytes = 64 * 1024;
constexpr int kMaxNesting = 32;

// Reads exactly `digits` decimal digits at `pos`.
bool readNumber(std::string_view text, std::size_t& pos, int digits, int& out) {
  if (pos + static_cast<std::size_t>(digits) > text.size()) return false;
  int value = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = text[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(digits);
  out = value;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

std::unexpected<core::Error> invalidDocument(std::string_view provider, std::string what) {
  return core::makeError(core::ErrorKind::kRetryable,
                         std::string(provider) + ": unusable credentials response: " + what,
                         "InvalidCredentialsResponse");
}

// Printable ASCII only, at most 64 characters: for echoing an error code from a response.
std::string sanitizeCode(std::string_view code) {
  std::string out;
  for (char c : code.substr(0, 64)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

}  // namespace

std::optional<core::WallTime> parseIso8601(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!readNumber(text, pos, 4, y) || !expect(text, pos, '-') || !readNumber(text, pos, 2, mo) ||
      !expect(text, pos, '-') || !readNumber(text, pos, 2, d)) {
    return std::nullopt;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't')) return std::nullopt;
  ++pos;
  if (!readNumber(text, pos, 2, h) || !expect(text, pos, ':') || !readNumber(text, pos, 2, mi) ||
      !expect(text, pos, ':') || !readNumber(text, pos, 2, s)) {
    return std::nullopt;
  }
  nanoseconds fraction{0};
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    int digits = 0;
    long long value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        value = value * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) value *= 10;
    fraction = nanoseconds(value);
  }
  minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!readNumber(text, pos, 2, oh)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!readNumber(text, pos, 2, om)) return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset = minutes(sign * (oh * 60 + om));
  } else {
    return std::nullopt;  // a timestamp without zone is ambiguous
  }
  if (pos != text.size()) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  const auto local = sys_days{date} + hours{h} + minutes{mi} + seconds{s};
  return time_point_cast<core::WallTime::duration>(local - offset + fraction);
}

std::string formatIso8601(core::WallTime time) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(time);
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss hms{secs - days};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buffer;
}

core::Result<Credentials> parseCredentialsJson(std::string_view body,
                                               std::string_view providerName) {
  if (body.size() > kMaxDocumentBytes) return invalidDocument(providerName, "document too large");
  if (!aws::jsonNestingWithinLimit(body, kMaxNesting))
    return invalidDocument(providerName, "document nested too deeply");
  web::json::value document;
  try {
    std::error_code ec;
    document = web::json::value::parse(std::string(body), ec);
    if (ec) return invalidDocument(providerName, "malformed JSON");
  } catch (const std::exception&) {
    return invalidDocument(providerName, "malformed JSON");
  }
  if (!document.is_object()) return invalidDocument(providerName, "not a JSON object");

  try {
    const auto& object = document.as_object();
    auto stringMember = [&](const char* name) -> std::optional<std::string> {
      const auto it = object.find(name);
      if (it == object.end() || !it->second.is_string()) return std::nullopt;
      return it->second.as_string();
    };
    if (const auto it = object.find("Code"); it != object.end()) {
      if (!it->second.is_string() || it->second.as_string() != "Success") {
        return invalidDocument(
            providerName,
            "error code " + (it->second.is_string() ? sanitizeCode(it->second.as_string())
                                                    : std::string("(not a string)")));
      }
    }
    Credentials credentials;
    credentials.providerName = std::string(providerName);
    struct Field {
      const char* name;
      std::string* target;
    };
    std::string expiration;
    for (const Field& field :
         {Field{"AccessKeyId", &credentials.accessKeyId},
          Field{"SecretAccessKey", &credentials.secretAccessKey},
          Field{"Token", &credentials.sessionToken}, Field{"Expiration", &expiration}}) {
      auto value = stringMember(field.name);
      if (!value)
        return invalidDocument(providerName, std::string("missing string member ") + field.name);
      if (value->empty())
        return invalidDocument(providerName, std::string("empty member ") + field.name);
      *field.target = std::move(*value);
    }
    credentials.expiration = parseIso8601(expiration);
    if (!credentials.expiration)
      return invalidDocument(providerName, "Expiration is not an ISO-8601 time");
    return credentials;
  } catch (const std::exception&) {
    return invalidDocument(providerName, "unexpected JSON shape");
  }
}

}  // namespace endpointbinder::aws
