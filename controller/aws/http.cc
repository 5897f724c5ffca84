#include "controller/aws/http.h"

#include <time.h>

#include <array>
#include <cctype>

#include "controller/aws/url.h"

namespace endpointbinder::aws {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string_view findHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return value;
  }
  return {};
}

std::string redactedUrl(std::string_view text) {
  auto url = parseUrl(text);
  if (!url) return "<redacted URL>";
  return url->origin() + "/<redacted path>";
}

void redactSecret(std::string& text, std::string_view secret, std::string_view replacement) {
  if (secret.size() < 4) return;
  for (auto at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + replacement.size())) {
    text.replace(at, secret.size(), replacement);
  }
}

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Reads `count` digits at `at` into `out`; false when they are not all digits.
bool digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

int month(std::string_view name) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// "HH:MM:SS" at `at`.
bool timeOfDay(std::string_view text, std::size_t at, std::tm& tm) {
  if (at + 8 > text.size() || text[at + 2] != ':' || text[at + 5] != ':') return false;
  return digits(text, at, 2, tm.tm_hour) && digits(text, at + 3, 2, tm.tm_min) &&
         digits(text, at + 6, 2, tm.tm_sec);
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  std::tm tm{};
  const auto comma = text.find(',');
  if (comma == 3 && text.size() == 29) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (text[4] != ' ' || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' || text[25] != ' ' ||
        text.substr(26) != "GMT") {
      return std::nullopt;
    }
    tm.tm_mon = month(text.substr(8, 3));
    if (!digits(text, 5, 2, tm.tm_mday) || !digits(text, 12, 4, tm.tm_year) ||
        !timeOfDay(text, 17, tm)) {
      return std::nullopt;
    }
    tm.tm_year -= 1900;
  } else if (comma != std::string_view::npos && comma > 3) {
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    const auto rest = text.substr(comma + 1);
    if (rest.size() != 23 || rest[0] != ' ' || rest[3] != '-' || rest[7] != '-' ||
        rest[10] != ' ' || rest[19] != ' ' || rest.substr(20) != "GMT") {
      return std::nullopt;
    }
    tm.tm_mon = month(rest.substr(4, 3));
    if (!digits(rest, 1, 2, tm.tm_mday) || !digits(rest, 8, 2, tm.tm_year) ||
        !timeOfDay(rest, 11, tm)) {
      return std::nullopt;
    }
    if (tm.tm_year < 70) tm.tm_year += 100;  // two-digit years: 1970..2069
  } else if (text.size() == 24) {
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (text[3] != ' ' || text[7] != ' ' || text[10] != ' ' || text[19] != ' ') {
      return std::nullopt;
    }
    tm.tm_mon = month(text.substr(4, 3));
    std::string_view day = text.substr(8, 2);
    if (day[0] == ' ') day.remove_prefix(1);
    if (!digits(day, 0, day.size(), tm.tm_mday) || !timeOfDay(text, 11, tm) ||
        !digits(text, 20, 4, tm.tm_year)) {
      return std::nullopt;
    }
    tm.tm_year -= 1900;
  } else {
    return std::nullopt;
  }
  if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  const time_t seconds = timegm(&tm);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds);
}

}  // namespace endpointbinder::aws
