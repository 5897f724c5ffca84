// The parts every Query-protocol XML parser shares (ELBv2, EC2, SQS, SNS): parsing a response
// document, checking its <{Action}Response> root, and the error for a response that is not
// what the action returns. Malformed responses are retryable ("MalformedResponse"): a proxy
// or a truncated body, not a refusal.
// Thread-safety: pure functions.
#pragma once

#include <expected>
#include <pugixml.hpp>
#include <string_view>

#include "controller/core/error.h"

namespace endpointbinder::aws {

// "<action> response: <what>", kRetryable, code MalformedResponse.
std::unexpected<core::Error> malformedResponse(std::string_view action, std::string_view what);

// Parses `xml` into `doc` and returns its root element, which must be <{action}Response>.
core::Result<pugi::xml_node> responseRoot(pugi::xml_document& doc, std::string_view xml,
                                          std::string_view action);

}  // namespace endpointbinder::aws
