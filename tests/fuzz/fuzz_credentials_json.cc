// Fuzz target: the credential documents endpoint-binder accepts from the network -- the
// container endpoint / IMDS JSON, STS AssumeRoleWithWebIdentity XML -- and ISO-8601 times.
// Every input must yield a value or an Error (no crash, no throw, no unbounded recursion); a
// success must be complete, and errors must never repeat a secret from the document.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "controller/aws/credentials_json.h"
#include "controller/aws/credentials_web_identity.h"

namespace {

using namespace endpointbinder::aws;

void check(bool condition) {
  if (!condition) std::abort();
}

void checkCredentials(const endpointbinder::core::Result<Credentials>& result,
                      std::string_view input) {
  if (result) {
    check(!result->accessKeyId.empty());
    check(!result->secretAccessKey.empty());
    check(!result->sessionToken.empty());
    check(result->expiration.has_value());
    // The description used in logs must not depend on the secret or the token at all.
    Credentials other = *result;
    other.secretAccessKey = "x";
    other.sessionToken = other.sessionToken.empty() ? "" : "y";
    check(describeCredentials(other) == describeCredentials(*result));
  } else {
    check(!result.error().message.empty());
    (void)input;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  checkCredentials(parseCredentialsJson(input, "container"), input);
  checkCredentials(parseStsCredentialsResponse(200, input, "web-identity"), input);
  auto error = parseStsCredentialsResponse(400, input, "web-identity");
  check(!error.has_value());

  if (auto time = parseIso8601(input)) {
    // Whole-second times in years 1..9999 (four digits once offsets are applied) survive a
    // format/parse round trip.
    const auto whole = std::chrono::floor<std::chrono::seconds>(*time);
    const std::chrono::year_month_day date{std::chrono::floor<std::chrono::days>(whole)};
    if (date.year() >= std::chrono::year{1} && date.year() <= std::chrono::year{9999}) {
      const auto again = parseIso8601(formatIso8601(*time));
      check(again.has_value() && *again == whole);
    }
  }
  return 0;
}
