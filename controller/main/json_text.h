// Minimal JSON text output for machine-readable command results (`--output json`). Only
// writing, never parsing; values are built by the caller in a fixed key order.
// Thread-safety: free functions without state.
#pragma once

#include <string>
#include <string_view>

namespace endpointbinder::cli {

// `text` as a JSON string literal with quotes. Manifest text may hold invalid UTF-8; such
// bytes become U+FFFD so the output always parses.
std::string jsonString(std::string_view text);

}  // namespace endpointbinder::cli
