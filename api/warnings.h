// manifestWarnings: what is valid in a manifest set but probably not what its author meant.
//
// `validate` prints these after the summary and `doctor` lists them as [WARN]; neither fails
// on them, and the controller runs such bindings as written. Today: a dns.hostname of a
// single label ("opensearch"), which the controller looks up as that exact name, never with
// resolv.conf's search domains (it queries absolute names only, as c-ares' ares_query does),
// so a name that resolves in a shell may resolve to nothing here.
// Thread-safety: a pure function over its argument.
#pragma once

#include "api/decode.h"
#include "api/diagnostic.h"

namespace endpointbinder::api {

// One Diagnostic per finding, located at the binding's document (path names the field), in
// the order of set.targetGroupBindings.
Diagnostics manifestWarnings(const ManifestSet& set);

}  // namespace endpointbinder::api
