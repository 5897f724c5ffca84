// toError: a failed ResolveOutcome as the core::Error every other layer passes around.
// Thread-safety: a pure function.
#pragma once

#include "controller/core/error.h"
#include "controller/dns/resolver.h"

namespace endpointbinder::dns {

// The failure as a core::Error: kind kRetryable (DNS failures are transient by nature),
// code resolveStatusName(status), message the outcome's message (or the code when empty).
// REQUIRES: !outcome.ok().
core::Error toError(const ResolveOutcome& outcome);

}  // namespace endpointbinder::dns
