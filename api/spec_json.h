// specToJson: a binding's spec, defaults applied, as JSON text in the manifest's own field
// names (targetGroupARN, source.dns.hostname, policy.deregistrationGracePeriod "3m", ...).
// The status API serves it as the object's `spec`, so `describe` shows what is in effect.
// Thread-safety: free functions without state.
#pragma once

#include <string>

#include "api/manifest.h"

namespace endpointbinder::api {

std::string specToJson(const TargetGroupBindingSpec& spec);

// `text` as a JSON string literal, quotes included: control characters escaped, and bytes
// that are not well-formed UTF-8 (manifests may hold any) become U+FFFD so output always parses.
std::string jsonQuote(std::string_view text);

}  // namespace endpointbinder::api
