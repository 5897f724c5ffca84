// Fuzz target: SigV4 canonicalisation of arbitrary bytes. Input layout: first line = request
// path, second line = raw query, remaining lines = "Name:value" headers (a line starting with
// a blank continues the previous value). Checked invariants:
//  - path normalisation is idempotent and yields an absolute path without empty, "." or ".."
//    segments; canonical URIs and queries use only unreserved characters, '/', '&', '=' and
//    uppercase %XX escapes;
//  - the canonical query and header values are fixed points of their own canonicalisation;
//  - percentDecode(uriEncode(x)) == x;
//  - signing any request that parses is deterministic and yields 64 lowercase hex digits, and
//    re-signing the signed request gives the same signature (stale headers are replaced).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "controller/aws/sigv4.h"
#include "controller/aws/url.h"

namespace {

using namespace endpointbinder::aws;

void check(bool condition) {
  if (!condition) std::abort();
}

bool isHex(char c, bool upper) {
  return (c >= '0' && c <= '9') || (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f'));
}

// Only unreserved characters, the allowed separators, and well-formed uppercase escapes.
bool isStrictlyEncoded(std::string_view text, std::string_view separators) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || separators.find(c) != std::string_view::npos) continue;
    if (c == '%' && i + 2 < text.size() && isHex(text[i + 1], true) && isHex(text[i + 2], true)) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto firstBreak = input.find('\n');
  const std::string_view path = input.substr(0, firstBreak);
  std::string_view rest =
      firstBreak == std::string_view::npos ? std::string_view{} : input.substr(firstBreak + 1);
  const auto secondBreak = rest.find('\n');
  const std::string_view query = rest.substr(0, secondBreak);
  const std::string_view headerText =
      secondBreak == std::string_view::npos ? std::string_view{} : rest.substr(secondBreak + 1);

  // Paths.
  const std::string normalized = normalizeUriPath(path);
  check(normalizeUriPath(normalized) == normalized);
  check(!normalized.empty());
  // Request paths are absolute; a relative input stays relative (botocore does the same).
  if (path.starts_with('/')) check(normalized.front() == '/');
  check(normalized.find("//") == std::string::npos);
  check(normalized.find("/./") == std::string::npos &&
        normalized.find("/../") == std::string::npos);
  check(!normalized.ends_with("/.") && !normalized.ends_with("/.."));
  for (bool normalize : {true, false}) {
    const std::string uri = canonicalUri(path, normalize);
    check(!uri.empty());
    check(isStrictlyEncoded(uri, "/"));
  }

  // Query.
  const std::string canonicalQuery = canonicalQueryString(query);
  check(isStrictlyEncoded(canonicalQuery, "&="));
  check(canonicalQueryString(canonicalQuery) == canonicalQuery);

  // Encoding round trip.
  check(percentDecode(uriEncode(input)) == input);
  check(percentDecode(uriEncode(path, true)) == path);

  // Headers.
  Headers headers;
  size_t pos = 0;
  while (pos < headerText.size()) {
    auto end = headerText.find('\n', pos);
    if (end == std::string_view::npos) end = headerText.size();
    const std::string_view line = headerText.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
      headers.back().second += "\n";
      headers.back().second += line;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  for (const auto& [name, value] : headers) {
    const std::string canonical = canonicalHeaderValue(value);
    check(canonicalHeaderValue(canonical) == canonical);
    check(canonical.find_first_of("\r\n\t") == std::string::npos);
    check(canonical.find("  ") == std::string::npos);
    check(canonical.empty() || (canonical.front() != ' ' && canonical.back() != ' '));
  }
  const CanonicalHeaders canonicalHeaders = canonicalizeHeaders(headers);
  check(canonicalHeaders.signedHeaders.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
        std::string::npos);

  // Whole request.
  HttpRequest request;
  request.method = "POST";
  request.url = "https://example.amazonaws.com" + std::string(path) +
                (query.empty() ? std::string() : "?" + std::string(query));
  request.headers = headers;
  request.body = std::string(headerText);
  Credentials credentials;
  credentials.accessKeyId = "AKIDEXAMPLE";
  credentials.secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  credentials.sessionToken = size % 2 == 0 ? "token" : "";
  SigningParams params;
  params.region = "us-east-1";
  params.service = "service";
  params.time = endpointbinder::core::WallTime{std::chrono::seconds(1'440'938'160)};
  params.normalizePath = size % 3 != 0;

  HttpRequest copy = request;
  const SigningResult first = signRequest(request, credentials, params);
  if (parseUrl(copy.url)) {
    check(first.signature.size() == 64);
    for (char c : first.signature) check(isHex(c, false));
    check(signRequest(copy, credentials, params).signature == first.signature);
    // Re-signing the already signed request replaces the old signature headers.
    check(signRequest(request, credentials, params).signature == first.signature);
  } else {
    check(first.signature.empty());
  }
  return 0;
}
