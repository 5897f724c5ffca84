// Minimal JSON text output for machine-readable command results (`--output json`). Only
// writing, never parsing; values are built by the caller in a fixed key order.
// Thread-safety: free functions without state.
#pragma once

#include <string>
#include <string_view>

#include "api/spec_json.h"

namespace endpointbinder::cli {

// `text` as a JSON string literal with quotes (see api::jsonQuote: invalid UTF-8 -> U+FFFD).
inline std::string jsonString(std::string_view text) { return api::jsonQuote(text); }

}  // namespace endpointbinder::cli
