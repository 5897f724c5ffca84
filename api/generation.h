// Generations: a stable content hash of a binding's spec, so the controller (and users reading
// status.observedGeneration) can tell whether the spec it acted on is the one in git.
//
// The hash is FNV-1a 64 over a canonical serialization of the spec *after* defaults are
// applied: it ignores YAML key order, formatting, comments, quoting and spelling of equal
// values ("1h30m" and "90m"), and leaving a field out equals writing its default. It changes
// whenever any spec field's value changes. Metadata (labels, annotations) is not part of it.
// The serialization is versioned by its first line; changing it changes every generation
// once, which is harmless (the controller re-plans, and plans are minimal).
// Thread-safety: free functions without state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/manifest.h"

namespace endpointbinder::api {

// One "path=<length>:<value>" line per field, in a fixed order; list elements keep their
// order. Exposed for tests and for debugging ("why did the generation change?").
std::string canonicalSpec(const TargetGroupBindingSpec& spec);
std::string canonicalSpec(const DnsRecordBindingSpec& spec);

// 16 lowercase hex digits of fnv1a64(canonicalSpec(spec)).
std::string specGeneration(const TargetGroupBindingSpec& spec);
std::string specGeneration(const DnsRecordBindingSpec& spec);

uint64_t fnv1a64(std::string_view bytes);

}  // namespace endpointbinder::api
