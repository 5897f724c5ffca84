#include "controller/aws/json_client.h"

#include <cpprest/json.h>
#include <fmt/format.h>

namespace endpointbinder::aws {
namespace {

// "com.amazonaws.ssm#ParameterNotFound:http://..." -> "ParameterNotFound".
std::string errorCodeFromType(std::string_view type) {
  if (const auto hash = type.rfind('#'); hash != std::string_view::npos) {
    type = type.substr(hash + 1);
  }
  if (const auto colon = type.find(':'); colon != std::string_view::npos) {
    type = type.substr(0, colon);
  }
  return sanitizeResponseText(type, 128);
}

SignedServiceOptions senderOptions(const JsonServiceOptions& options) {
  SignedServiceOptions sender;
  sender.service = options.service;
  sender.region = options.region;
  sender.rateLimitWait = options.rateLimitWait;
  sender.retry = options.retry;
  return sender;
}

}  // namespace

core::Error parseJsonError(const HttpResponse& response, std::string_view operation) {
  core::Error error;
  error.httpStatus = response.status;
  error.requestId = sanitizeResponseText(findHeader(response.headers, "x-amzn-RequestId"), 128);
  std::string code;
  std::string message;
  try {
    std::error_code parseError;
    const auto doc = web::json::value::parse(response.body, parseError);
    if (!parseError && doc.is_object()) {
      const auto& object = doc.as_object();
      for (const auto& [key, value] : object) {
        if (!value.is_string()) continue;
        if (key == "__type") code = errorCodeFromType(value.as_string());
        if (key == "message" || key == "Message")
          message = sanitizeResponseText(value.as_string(), 1024);
      }
    }
  } catch (const std::exception&) {
    // Not JSON we understand: handled below like any other non-AWS body.
  }
  if (code.empty()) code = errorCodeFromType(findHeader(response.headers, "x-amzn-ErrorType"));
  if (!code.empty()) {
    error.code = code;
    error.message = fmt::format("{}: {}", operation, message.empty() ? code : message);
  } else {
    const std::string contentType =
        sanitizeResponseText(findHeader(response.headers, "Content-Type"), 80);
    error.message =
        fmt::format("{}: HTTP {} with a body that is not an AWS error document ({}, {} bytes)",
                    operation, response.status,
                    contentType.empty() ? "no content type" : contentType, response.body.size());
  }
  error.kind = errorKindForAwsError(error.code, error.httpStatus);
  return error;
}

JsonClient::JsonClient(JsonServiceOptions options, HttpTransport& transport,
                       CredentialsProvider& credentials, const core::Clock& clock,
                       QueryClientHooks hooks)
    : options_(std::move(options)),
      sender_(senderOptions(options_), parseJsonError, transport, credentials, clock,
              std::move(hooks)) {}

core::Result<JsonResponse> JsonClient::call(std::string_view operation, const std::string& input) {
  HttpRequest request =
      rootPostRequest(options_.endpoint, "application/x-amz-json-" + options_.jsonVersion, input,
                      options_.attemptTimeout);
  request.headers.emplace_back("X-Amz-Target",
                               options_.targetPrefix + "." + std::string(operation));
  return sender_.sendForBody(operation, request);
}

}  // namespace endpointbinder::aws
