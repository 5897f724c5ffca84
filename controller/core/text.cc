#include "controller/core/text.h"

namespace endpointbinder::core {

std::string asciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string printableAscii(std::string_view text, size_t limit, char replacement) {
  text = text.substr(0, limit);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : replacement);
  }
  return out;
}

}  // namespace endpointbinder::core
