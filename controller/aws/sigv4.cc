#include "controller/aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>

#include "controller/aws/url.h"

namespace endpointbinder::aws {
namespace {

using Digest = std::array<unsigned char, 32>;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string toHex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHexLower[data[i] >> 4]);
    out.push_back(kHexLower[data[i] & 0x0f]);
  }
  return out;
}

std::string asciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// HMAC-SHA256 over `data` keyed with `key`. A failure inside OpenSSL (allocation) leaves the
// digest zeroed, which yields a signature AWS rejects rather than a crash.
Digest hmacSha256(const unsigned char* key, size_t keySize, std::string_view data) {
  Digest out{};
  unsigned int outSize = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(keySize),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &outSize);
  return out;
}

// Headers the SDKs leave unsigned because proxies and tracing layers rewrite them.
bool isNeverSigned(std::string_view lowerName) {
  return lowerName == "user-agent" || lowerName == "expect" || lowerName == "x-amzn-trace-id";
}

bool hasHeader(const Headers& headers, std::string_view lowerName) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& header) { return asciiLower(header.first) == lowerName; });
}

void removeHeader(Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& header) { return asciiLower(header.first) == name; });
}

std::string hostHeaderFor(const Url& url) {
  std::string host = url.hostForHeader();
  if (url.hasNonDefaultPort()) host += ":" + std::to_string(url.port);
  return host;
}

}  // namespace

std::string uriEncode(std::string_view text, bool keepSlash) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (isUnreserved(c) || (keepSlash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0x0f]);
    }
  }
  return out;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string normalizeUriPath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string out;
  if (path.front() == '/') out.push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  // A relative path that normalises to nothing ("." or "a/..") still needs a URI.
  if (out.empty()) out = "/";
  return out;
}

std::string canonicalUri(std::string_view path, bool normalizePath) {
  if (path.empty()) return "/";
  return uriEncode(normalizePath ? normalizeUriPath(path) : std::string(path), true);
}

std::string canonicalQueryString(std::string_view rawQuery) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start <= rawQuery.size()) {
    const auto amp = rawQuery.find('&', start);
    const auto end = amp == std::string_view::npos ? rawQuery.size() : amp;
    const std::string_view item = rawQuery.substr(start, end - start);
    if (!item.empty()) {
      const auto eq = item.find('=');
      const std::string_view key = item.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
      pairs.emplace_back(uriEncode(percentDecode(key)), uriEncode(percentDecode(value)));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(key);
    out.push_back('=');
    out.append(value);
  }
  return out;
}

std::string canonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pendingSpace = false;
  for (char c : value) {
    if (isWhitespace(c)) {
      pendingSpace = !out.empty();
      continue;
    }
    if (pendingSpace) out.push_back(' ');
    pendingSpace = false;
    out.push_back(c);
  }
  return out;
}

CanonicalHeaders canonicalizeHeaders(const Headers& headers) {
  // std::map keeps names sorted bytewise, as SigV4 requires; values keep request order.
  std::map<std::string, std::vector<std::string>> byName;
  for (const auto& [name, value] : headers) {
    std::string lowerName = asciiLower(name);
    if (isNeverSigned(lowerName)) continue;
    byName[std::move(lowerName)].push_back(canonicalHeaderValue(value));
  }
  CanonicalHeaders result;
  for (const auto& [name, values] : byName) {
    result.canonical.append(name);
    result.canonical.push_back(':');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) result.canonical.push_back(',');
      result.canonical.append(values[i]);
    }
    result.canonical.push_back('\n');
    if (!result.signedHeaders.empty()) result.signedHeaders.push_back(';');
    result.signedHeaders.append(name);
  }
  return result;
}

std::string sha256Hex(std::string_view data) {
  Digest digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return toHex(digest.data(), digest.size());
}

std::string formatAmzDate(core::WallTime time) {
  using namespace std::chrono;
  const auto seconds = floor<std::chrono::seconds>(time);
  const auto days = floor<std::chrono::days>(seconds);
  const year_month_day ymd{days};
  const hh_mm_ss hms{seconds - days};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buffer;
}

SigningResult signRequest(HttpRequest& request, const Credentials& credentials,
                          const SigningParams& params) {
  SigningResult result;
  auto url = parseUrl(request.url);
  if (!url) return result;

  const std::string amzDate = formatAmzDate(params.time);
  const std::string date = amzDate.substr(0, 8);
  const bool hasToken = !credentials.sessionToken.empty();

  removeHeader(request.headers, "authorization");
  removeHeader(request.headers, "x-amz-date");
  removeHeader(request.headers, "x-amz-security-token");
  if (!hasHeader(request.headers, "host")) {
    request.headers.emplace_back("Host", hostHeaderFor(*url));
  }
  request.headers.emplace_back("X-Amz-Date", amzDate);
  if (hasToken && !params.omitSessionTokenFromSignature) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.sessionToken);
  }
  std::string payloadHash;
  if (params.signBody) {
    removeHeader(request.headers, "x-amz-content-sha256");
    payloadHash = sha256Hex(request.body);
    request.headers.emplace_back("x-amz-content-sha256", payloadHash);
  } else if (hasHeader(request.headers, "x-amz-content-sha256")) {
    // A caller that declares the payload hash (e.g. UNSIGNED-PAYLOAD) signs with it, as botocore.
    payloadHash = std::string(findHeader(request.headers, "x-amz-content-sha256"));
  } else {
    payloadHash = sha256Hex(request.body);
  }

  std::string method = request.method;
  std::transform(method.begin(), method.end(), method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const CanonicalHeaders headers = canonicalizeHeaders(request.headers);

  result.canonicalRequest = method;
  result.canonicalRequest.push_back('\n');
  result.canonicalRequest += canonicalUri(url->path, params.normalizePath);
  result.canonicalRequest.push_back('\n');
  result.canonicalRequest += canonicalQueryString(url->query);
  result.canonicalRequest.push_back('\n');
  result.canonicalRequest += headers.canonical;
  result.canonicalRequest.push_back('\n');
  result.canonicalRequest += headers.signedHeaders;
  result.canonicalRequest.push_back('\n');
  result.canonicalRequest += payloadHash;

  const std::string scope = date + "/" + params.region + "/" + params.service + "/aws4_request";
  result.stringToSign = std::string(kAlgorithm) + "\n" + amzDate + "\n" + scope + "\n" +
                        sha256Hex(result.canonicalRequest);

  // Signing key derivation; the intermediate keys are wiped because they are as good as the
  // secret for a day.
  std::string secret = "AWS4" + credentials.secretAccessKey;
  Digest kDate =
      hmacSha256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), date);
  OPENSSL_cleanse(secret.data(), secret.size());
  Digest kRegion = hmacSha256(kDate.data(), kDate.size(), params.region);
  Digest kService = hmacSha256(kRegion.data(), kRegion.size(), params.service);
  Digest kSigning = hmacSha256(kService.data(), kService.size(), "aws4_request");
  const Digest signature = hmacSha256(kSigning.data(), kSigning.size(), result.stringToSign);
  OPENSSL_cleanse(kDate.data(), kDate.size());
  OPENSSL_cleanse(kRegion.data(), kRegion.size());
  OPENSSL_cleanse(kService.data(), kService.size());
  OPENSSL_cleanse(kSigning.data(), kSigning.size());

  result.signature = toHex(signature.data(), signature.size());
  result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.accessKeyId + "/" +
                         scope + ", SignedHeaders=" + headers.signedHeaders +
                         ", Signature=" + result.signature;
  request.headers.emplace_back("Authorization", result.authorization);
  if (hasToken && params.omitSessionTokenFromSignature) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.sessionToken);
  }
  return result;
}

}  // namespace endpointbinder::aws
