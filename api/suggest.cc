#include "api/suggest.h"

#include <algorithm>
#include <numeric>

namespace endpointbinder::api {

namespace {
char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

size_t editDistance(std::string_view a, std::string_view b) {
  // Field names are short; anything longer is not a typo worth a quadratic table.
  constexpr size_t kMaxLength = 256;
  if (a.size() > kMaxLength || b.size() > kMaxLength) return std::max(a.size(), b.size());
  std::vector<size_t> previous(b.size() + 1);
  std::vector<size_t> current(b.size() + 1);
  std::iota(previous.begin(), previous.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = previous[j - 1] + (fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string> best;
  size_t bestDistance = 0;
  for (std::string_view candidate : candidates) {
    if (candidate == word) return std::nullopt;
    const size_t allowed = std::max<size_t>(2, candidate.size() / 3);
    // The length difference is a lower bound of the distance: skip hopeless candidates.
    const size_t gap = word.size() > candidate.size() ? word.size() - candidate.size()
                                                      : candidate.size() - word.size();
    if (gap > allowed) continue;
    const size_t distance = editDistance(word, candidate);
    if (distance <= allowed && distance < candidate.size() && (!best || distance < bestDistance)) {
      best = std::string(candidate);
      bestDistance = distance;
    }
  }
  return best;
}

}  // namespace endpointbinder::api
