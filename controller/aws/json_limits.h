// jsonNestingWithinLimit: the guard run on untrusted JSON (credential documents, EventBridge
// events from the queue) before cpprest's recursive parser sees it, so a deep "[[[[..." cannot
// exhaust the stack.
// Pure. Thread-safety: a free function.
#pragma once

#include <string_view>

namespace endpointbinder::aws {

// False when objects and arrays nest deeper than `maxNesting` (brackets inside strings, with
// their escapes, do not count).
bool jsonNestingWithinLimit(std::string_view body, int maxNesting);

}  // namespace endpointbinder::aws
