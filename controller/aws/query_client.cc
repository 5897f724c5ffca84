#include "controller/aws/query_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <pugixml.hpp>

#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

constexpr std::array<std::string_view, 21> kAuthCodes = {
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "InvalidSignatureException",
    "InvalidAccessKeyId",
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "OptInRequired",
    "NotAuthorized",
    "InvalidToken",
    "InvalidIdentityToken",
    "IDPRejectedClaim",
    "RegionDisabledException",
};

std::string htmlTitle(std::string_view body) {
  const std::string lower = core::asciiLower(body.substr(0, 4096));
  const size_t open = lower.find("<title>");
  if (open == std::string::npos) return {};
  const size_t start = open + 7;
  const size_t close = lower.find("</title>", start);
  if (close == std::string::npos) return {};
  return sanitizeResponseText(body.substr(start, close - start), 100);
}

}  // namespace

std::string formEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0f]);
    }
  }
  return out;
}

std::string encodeQueryBody(std::string_view action, std::string_view version,
                            const QueryParams& params) {
  std::string body = "Action=" + formEncode(action) + "&Version=" + formEncode(version);
  for (const auto& [key, value] : params) {
    body += '&';
    body += formEncode(key);
    body += '=';
    body += formEncode(value);
  }
  return body;
}

core::ErrorKind errorKindForAwsError(std::string_view code, int httpStatus) {
  core::Error probe;
  probe.code = std::string(code);
  probe.httpStatus = httpStatus == 0 ? 400 : httpStatus;  // a service answer, not transport
  if (classifyFailure(probe) != FailureClass::kNotRetryable) return core::ErrorKind::kRetryable;
  if (std::find(kAuthCodes.begin(), kAuthCodes.end(), code) != kAuthCodes.end()) {
    return core::ErrorKind::kAuth;
  }
  if (code.empty() && (httpStatus == 401 || httpStatus == 403)) return core::ErrorKind::kAuth;
  if (code.ends_with("NotFound") || code.ends_with("NotFoundException") ||
      code.starts_with("NoSuch")) {
    return core::ErrorKind::kNotFound;
  }
  return core::ErrorKind::kTerminal;
}

core::Error parseQueryError(const HttpResponse& response, std::string_view operation) {
  core::Error error;
  error.httpStatus = response.status;
  error.requestId = sanitizeResponseText(findHeader(response.headers, "x-amzn-RequestId"), 128);

  pugi::xml_document doc;
  const pugi::xml_parse_result parsed =
      doc.load_buffer(response.body.data(), response.body.size(), pugi::parse_default);
  pugi::xml_node errorNode;
  std::string bodyRequestId;
  if (parsed) {
    const pugi::xml_node root = doc.document_element();
    const std::string_view rootName = root.name();
    if (rootName == "ErrorResponse") {
      errorNode = root.child("Error");
      bodyRequestId = root.child_value("RequestId");
    } else if (rootName == "Response") {
      errorNode = root.child("Errors").child("Error");
      bodyRequestId = root.child_value("RequestID");
    } else if (rootName == "Error") {
      errorNode = root;
      bodyRequestId = root.child_value("RequestId");
    }
  }
  const std::string code = sanitizeResponseText(errorNode.child_value("Code"), 128);
  if (!code.empty()) {
    error.code = code;
    // AWS appends the canonical request and string to sign to SignatureDoesNotMatch messages
    // after a blank line; the canonical request holds x-amz-security-token, so only the first
    // paragraph is kept.
    std::string_view awsMessage = errorNode.child_value("Message");
    awsMessage = awsMessage.substr(0, awsMessage.find("\n\n"));
    const std::string message = sanitizeResponseText(awsMessage, 1024);
    error.message = fmt::format("{}: {}", operation, message.empty() ? code : message);
    if (!bodyRequestId.empty()) error.requestId = sanitizeResponseText(bodyRequestId, 128);
  } else {
    // Not an AWS error document: a proxy, load balancer or captive portal answered, or the
    // endpoint is not an AWS Query endpoint at all.
    const std::string contentType =
        sanitizeResponseText(findHeader(response.headers, "Content-Type"), 80);
    std::string message =
        fmt::format("{}: HTTP {} with a body that is not an AWS error document ({}, {} bytes)",
                    operation, response.status,
                    contentType.empty() ? "no content type" : contentType, response.body.size());
    if (const std::string title = htmlTitle(response.body); !title.empty()) {
      message += fmt::format(": \"{}\"", title);
    }
    error.message = std::move(message);
  }
  error.kind = errorKindForAwsError(error.code, error.httpStatus);
  return error;
}

core::Error withRequestId(core::Error error, const QueryResponse& response) {
  error.requestId = response.requestId;
  error.httpStatus = response.httpStatus;
  return error;
}

namespace {

SignedServiceOptions senderOptions(const QueryServiceOptions& options) {
  SignedServiceOptions sender;
  sender.service = options.service;
  sender.region = options.region;
  sender.rateLimitWait = options.rateLimitWait;
  sender.retry = options.retry;
  sender.requestIdInBody = true;
  sender.correctClockSkew = true;
  sender.adaptiveMode = true;
  return sender;
}

}  // namespace

QueryClient::QueryClient(QueryServiceOptions options, HttpTransport& transport,
                         CredentialsProvider& credentials, const core::Clock& clock,
                         QueryClientHooks hooks)
    : options_(std::move(options)),
      sender_(senderOptions(options_), parseQueryError, transport, credentials, clock,
              std::move(hooks)) {}

QueryClient::~QueryClient() = default;

core::Result<QueryResponse> QueryClient::call(std::string_view action, const QueryParams& params) {
  return sender_.sendForBody(
      action, rootPostRequest(options_.endpoint, "application/x-www-form-urlencoded; charset=utf-8",
                              encodeQueryBody(action, options_.apiVersion, params),
                              options_.attemptTimeout));
}

}  // namespace endpointbinder::aws
