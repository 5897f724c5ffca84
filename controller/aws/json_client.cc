#include "controller/aws/json_client.h"

#include <cpprest/json.h>
#include <fmt/format.h>

#include <thread>

#include "controller/aws/sigv4.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;

// Printable ASCII only, at most `limit` characters: text from a response goes into logs.
std::string sanitize(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text) {
    if (out.size() >= limit) break;
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "com.amazonaws.ssm#ParameterNotFound:http://..." -> "ParameterNotFound".
std::string errorCodeFromType(std::string_view type) {
  if (const auto hash = type.rfind('#'); hash != std::string_view::npos) {
    type = type.substr(hash + 1);
  }
  if (const auto colon = type.find(':'); colon != std::string_view::npos) {
    type = type.substr(0, colon);
  }
  return sanitize(type, 128);
}

CallOutcome outcomeFor(const core::Error& error, FailureClass failure) {
  switch (failure) {
    case FailureClass::kThrottling:
      return CallOutcome::kThrottled;
    case FailureClass::kTransient:
    case FailureClass::kTimeout:
      return CallOutcome::kTransient;
    case FailureClass::kNotRetryable:
      break;
  }
  switch (error.kind) {
    case core::ErrorKind::kRetryable:
      return CallOutcome::kTransient;
    case core::ErrorKind::kTerminal:
      return CallOutcome::kTerminal;
    case core::ErrorKind::kAuth:
      return CallOutcome::kAuth;
    case core::ErrorKind::kNotFound:
      return CallOutcome::kNotFound;
    case core::ErrorKind::kConflict:
      return CallOutcome::kConflict;
  }
  return CallOutcome::kTerminal;
}

void defaultSleep(nanoseconds duration) { std::this_thread::sleep_for(duration); }

}  // namespace

core::Error parseJsonError(const HttpResponse& response, std::string_view operation) {
  core::Error error;
  error.httpStatus = response.status;
  error.requestId = sanitize(findHeader(response.headers, "x-amzn-RequestId"), 128);
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
        if (key == "message" || key == "Message") message = sanitize(value.as_string(), 1024);
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
    const std::string contentType = sanitize(findHeader(response.headers, "Content-Type"), 80);
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
      transport_(transport),
      credentials_(credentials),
      clock_(clock),
      hooks_(std::move(hooks)),
      retry_(options_.retry, hooks_.random ? hooks_.random : defaultRandom()) {
  if (!hooks_.sleep) hooks_.sleep = defaultSleep;
}

core::Result<JsonResponse> JsonClient::call(std::string_view operation, const std::string& input) {
  const core::MonoTime start = clock_.now();
  CallRecord record;
  record.service = options_.service;
  record.operation = std::string(operation);
  RetryPolicy::CallState state;

  const auto finish = [&] {
    record.latency = std::chrono::duration_cast<nanoseconds>(clock_.now() - start);
    if (hooks_.observer) hooks_.observer->onCall(record);
  };
  const auto fail = [&](core::Error error, FailureClass failure) -> core::Result<JsonResponse> {
    record.outcome = outcomeFor(error, failure);
    record.httpStatus = error.httpStatus;
    record.errorCode = error.code;
    record.requestId = error.requestId;
    if (record.attempts > 1) {
      error.message += fmt::format(" (gave up after {} attempts)", record.attempts);
    }
    finish();
    return std::unexpected(std::move(error));
  };

  for (;;) {
    if (hooks_.rateLimiter) {
      auto waited = hooks_.rateLimiter->acquire(operation, clock_.now() + options_.rateLimitWait);
      if (!waited) return fail(std::move(waited.error()), FailureClass::kNotRetryable);
      record.rateLimitWait += *waited;
    }
    core::Result<Credentials> credentials = credentials_.credentials();
    if (!credentials) return fail(std::move(credentials.error()), FailureClass::kNotRetryable);

    HttpRequest request;
    request.method = "POST";
    request.url = options_.endpoint;
    if (request.url.empty() || request.url.back() != '/') request.url += '/';
    request.headers.emplace_back("Content-Type", "application/x-amz-json-" + options_.jsonVersion);
    request.headers.emplace_back("X-Amz-Target",
                                 options_.targetPrefix + "." + std::string(operation));
    request.body = input;
    request.timeout = options_.attemptTimeout;
    SigningParams signing;
    signing.region = options_.region;
    signing.service = options_.service;
    signing.time = clock_.wallNow();
    signRequest(request, *credentials, signing);

    const core::MonoTime attemptStart = clock_.now();
    core::Result<HttpResponse> response = transport_.send(request);
    AttemptRecord attempt;
    attempt.service = options_.service;
    attempt.operation = record.operation;
    attempt.attempt = state.attempt;
    attempt.latency = std::chrono::duration_cast<nanoseconds>(clock_.now() - attemptStart);
    record.attempts = state.attempt;

    if (response && response->status >= 200 && response->status < 300) {
      attempt.httpStatus = response->status;
      if (hooks_.observer) hooks_.observer->onAttempt(attempt);
      retry_.onCallSucceeded(state);
      JsonResponse result;
      result.httpStatus = response->status;
      result.attempts = state.attempt;
      result.requestId = sanitize(findHeader(response->headers, "x-amzn-RequestId"), 128);
      result.body = std::move(response->body);
      record.httpStatus = result.httpStatus;
      record.requestId = result.requestId;
      record.outcome = CallOutcome::kSuccess;
      finish();
      return result;
    }

    core::Error error;
    if (response) {
      error = parseJsonError(*response, operation);
      redactSecret(error.message, credentials->sessionToken, "<redacted>");
      redactSecret(error.message, credentials->secretAccessKey, "<redacted>");
    } else {
      error = std::move(response.error());
      error.httpStatus = 0;
      error.kind = core::ErrorKind::kRetryable;
      error.message = fmt::format("{}: {}", operation, error.message);
    }
    const RetryPolicy::Decision decision = retry_.onAttemptFailed(state, error);
    attempt.outcome = outcomeFor(error, decision.failure);
    attempt.httpStatus = error.httpStatus;
    attempt.errorCode = error.code;
    if (hooks_.observer) hooks_.observer->onAttempt(attempt);
    if (!decision.retry) return fail(std::move(error), decision.failure);
    hooks_.sleep(decision.delay);
  }
}

}  // namespace endpointbinder::aws
