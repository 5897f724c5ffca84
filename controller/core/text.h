// ASCII text helpers shared by the parsers of flags, environment variables, config files, URLs
// and HTTP headers, and by the error messages that quote what they could not parse. Those
// formats are defined over ASCII, so nothing here depends on the locale.
// Pure: no I/O. Thread-safety: free functions without state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace endpointbinder::core {

inline constexpr std::string_view kSpaceAndTab = " \t";
// What isspace() accepts in the C locale.
inline constexpr std::string_view kAsciiWhitespace = " \t\n\v\f\r";

// `text` without its leading and trailing characters that are in `strip`.
constexpr std::string_view trimmed(std::string_view text, std::string_view strip = kSpaceAndTab) {
  const size_t first = text.find_first_not_of(strip);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(strip) - first + 1);
}

// `text` with A-Z lowered; every other byte (UTF-8 included) unchanged.
std::string asciiLower(std::string_view text);

// The first `limit` bytes of `text` with every byte outside printable ASCII (0x20-0x7e)
// replaced by `replacement`: safe to quote in an error message or a log line.
std::string printableAscii(std::string_view text, size_t limit = std::string_view::npos,
                           char replacement = '?');

}  // namespace endpointbinder::core
