#include "controller/aws/s3_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>

#include "controller/aws/sigv4.h"

namespace endpointbinder::aws {
namespace {

std::string printableOnly(std::string_view text, std::size_t limit) {
  std::string out;
  for (char c : text) {
    if (out.size() >= limit) break;
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) out.push_back(c);
  }
  return out;
}

bool validBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) return false;
  return std::ranges::all_of(bucket, [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

SignedServiceOptions senderOptions(const S3ServiceOptions& options) {
  SignedServiceOptions sender;
  sender.service = "s3";
  sender.region = options.region;
  sender.retry = options.retry;
  sender.normalizePath = false;
  sender.signBody = true;
  return sender;
}

}  // namespace

std::optional<S3Location> parseS3Url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const auto slash = url.find('/');
  S3Location location;
  location.bucket = std::string(url.substr(0, slash));
  if (slash != std::string_view::npos) location.prefix = std::string(url.substr(slash + 1));
  if (!validBucket(location.bucket)) return std::nullopt;
  return location;
}

bool isPlainS3Key(std::string_view key) {
  return !key.empty() && std::ranges::all_of(key, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~' || c == '/';
  });
}

std::string s3Url(const S3ServiceOptions& options, const std::string& bucket,
                  const std::string& key, const std::string& query) {
  std::string url;
  if (!options.endpoint.empty()) {
    url = options.endpoint;
    while (url.ends_with('/')) url.pop_back();
    url += "/" + bucket + "/" + key;
  } else if (bucket.find('.') != std::string::npos) {
    url = fmt::format("https://s3.{}.amazonaws.com/{}/{}", options.region, bucket, key);
  } else {
    url = fmt::format("https://{}.s3.{}.amazonaws.com/{}", bucket, options.region, key);
  }
  if (!query.empty()) url += "?" + query;
  return url;
}

core::Result<S3ListPage> parseListObjectsV2(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return core::makeError(core::ErrorKind::kRetryable, "ListObjectsV2 response: not XML",
                           "MalformedResponse");
  }
  const auto result = doc.child("ListBucketResult");
  if (!result) {
    return core::makeError(core::ErrorKind::kRetryable,
                           "ListObjectsV2 response: no ListBucketResult", "MalformedResponse");
  }
  S3ListPage page;
  for (auto contents : result.children("Contents")) {
    S3Object object;
    object.key = contents.child_value("Key");
    object.etag = contents.child_value("ETag");
    const std::string_view size = contents.child_value("Size");
    std::from_chars(size.data(), size.data() + size.size(), object.size);
    if (object.key.empty()) {
      return core::makeError(core::ErrorKind::kRetryable,
                             "ListObjectsV2 response: an object without Key", "MalformedResponse");
    }
    page.objects.push_back(std::move(object));
  }
  if (std::string_view(result.child_value("IsTruncated")) == "true") {
    const std::string token = result.child_value("NextContinuationToken");
    if (token.empty()) {
      return core::makeError(core::ErrorKind::kRetryable,
                             "ListObjectsV2 response: truncated without NextContinuationToken",
                             "MalformedResponse");
    }
    page.nextContinuationToken = token;
  }
  return page;
}

core::Error parseS3Error(const HttpResponse& response, std::string_view operation) {
  core::Error error;
  error.httpStatus = response.status;
  error.requestId = printableOnly(findHeader(response.headers, "x-amz-request-id"), 128);
  pugi::xml_document doc;
  std::string code;
  std::string message;
  if (doc.load_buffer(response.body.data(), response.body.size())) {
    const auto node = doc.child("Error");
    code = printableOnly(node.child_value("Code"), 128);
    message = printableOnly(node.child_value("Message"), 1024);
    if (error.requestId.empty())
      error.requestId = printableOnly(node.child_value("RequestId"), 128);
  }
  if (code.empty() && response.status == 404) code = "NotFound";
  if (code.empty() && response.status == 403) code = "AccessDenied";
  error.code = code;
  error.message = fmt::format("{}: {}", operation,
                              !message.empty() ? message
                              : !code.empty()  ? code
                                               : fmt::format("HTTP {}", response.status));
  error.kind = errorKindForAwsError(code, response.status);
  if (code == "AccessDenied") error.kind = core::ErrorKind::kAuth;
  return error;
}

S3Client::S3Client(S3ServiceOptions options, HttpTransport& transport,
                   CredentialsProvider& credentials, const core::Clock& clock,
                   QueryClientHooks hooks)
    : options_(std::move(options)),
      sender_(senderOptions(options_), parseS3Error, transport, credentials, clock,
              std::move(hooks)) {}

core::Result<HttpResponse> S3Client::get(std::string_view operation, const std::string& url) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.timeout = options_.attemptTimeout;
  auto sent = sender_.send(operation, request);
  if (!sent) return std::unexpected(std::move(sent.error()));
  return std::move(sent->response);
}

core::Result<std::vector<S3Object>> S3Client::listObjects(const std::string& bucket,
                                                          const std::string& prefix) {
  std::vector<S3Object> out;
  std::optional<std::string> token;
  for (int page = 0; page < 1000; ++page) {
    // Query parameters in canonical (sorted) order, values encoded as SigV4 wants.
    std::string query;
    if (token) query += "continuation-token=" + uriEncode(*token) + "&";
    query += "list-type=2";
    if (!prefix.empty()) query += "&prefix=" + uriEncode(prefix);
    auto response = get("ListObjectsV2", s3Url(options_, bucket, "", query));
    if (!response) return std::unexpected(std::move(response.error()));
    auto parsed = parseListObjectsV2(response->body);
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    for (auto& object : parsed->objects) out.push_back(std::move(object));
    token = parsed->nextContinuationToken;
    if (!token) {
      std::ranges::sort(out, {}, &S3Object::key);
      return out;
    }
  }
  return core::makeError(core::ErrorKind::kTerminal,
                         "ListObjectsV2: more than 1000 pages under s3://" + bucket + "/" + prefix,
                         "TooManyObjects");
}

core::Result<S3ObjectBody> S3Client::getObject(const std::string& bucket, const std::string& key,
                                               std::size_t maxBytes) {
  if (!isPlainS3Key(key)) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "object key \"" + printableOnly(key, 200) +
                               "\" holds characters other than A-Z a-z 0-9 - _ . ~ /",
                           "UnsupportedKey");
  }
  auto response = get("GetObject", s3Url(options_, bucket, key));
  if (!response) return std::unexpected(std::move(response.error()));
  if (response->body.size() > maxBytes) {
    return core::makeError(core::ErrorKind::kTerminal,
                           fmt::format("s3://{}/{} is {} bytes, over the limit of {}", bucket, key,
                                       response->body.size(), maxBytes),
                           "ObjectTooLarge");
  }
  return S3ObjectBody{std::move(response->body),
                      std::string(findHeader(response->headers, "ETag"))};
}

}  // namespace endpointbinder::aws
