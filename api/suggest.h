// "Did you mean" suggestions for misspelt field names and enum values.
// Thread-safety: free functions without state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace endpointbinder::api {

// Levenshtein distance between `a` and `b` (insert, delete, substitute cost 1), comparing
// ASCII letters case-insensitively so "targetGroupArn" is 0 away from "targetGroupARN".
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is plausibly a typo of it: distance at most
// max(2, length/3) of the candidate and less than its length. Ties go to the earlier candidate;
// nullopt when none is close enough or `word` equals a candidate exactly.
std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates);

}  // namespace endpointbinder::api
