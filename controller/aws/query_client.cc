#include "controller/aws/query_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <pugixml.hpp>
#include <thread>

#include "controller/aws/sigv4.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;

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

// Printable ASCII only, at most `limit` characters: text from a response body goes into logs.
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

std::string htmlTitle(std::string_view body) {
  std::string lower(body.substr(0, 4096));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const size_t open = lower.find("<title>");
  if (open == std::string::npos) return {};
  const size_t start = open + 7;
  const size_t close = lower.find("</title>", start);
  if (close == std::string::npos) return {};
  return sanitize(body.substr(start, close - start), 100);
}

std::string requestIdFromBody(std::string_view body) {
  for (std::string_view tag : {"<RequestId>", "<RequestID>"}) {
    const size_t open = body.find(tag);
    if (open == std::string_view::npos) continue;
    const size_t start = open + tag.size();
    const size_t close = body.find('<', start);
    if (close == std::string_view::npos) return {};
    return sanitize(body.substr(start, close - start), 128);
  }
  return {};
}

CallOutcome outcomeFor(const core::Error& error, FailureClass failure) {
  if (error.code == "ClientRateLimited" && error.httpStatus == 0) return CallOutcome::kRateLimited;
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

// Belt and braces: a service or proxy that echoes request headers must not leak credentials.
void redact(std::string& text, std::string_view secret) {
  if (secret.size() < 4) return;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<redacted>");
  }
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
  error.requestId = sanitize(findHeader(response.headers, "x-amzn-RequestId"), 128);

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
  const std::string code = sanitize(errorNode.child_value("Code"), 128);
  if (!code.empty()) {
    error.code = code;
    // AWS appends the canonical request and string to sign to SignatureDoesNotMatch messages
    // after a blank line; the canonical request holds x-amz-security-token, so only the first
    // paragraph is kept.
    std::string_view awsMessage = errorNode.child_value("Message");
    awsMessage = awsMessage.substr(0, awsMessage.find("\n\n"));
    const std::string message = sanitize(awsMessage, 1024);
    error.message = fmt::format("{}: {}", operation, message.empty() ? code : message);
    if (!bodyRequestId.empty()) error.requestId = sanitize(bodyRequestId, 128);
  } else {
    // Not an AWS error document: a proxy, load balancer or captive portal answered, or the
    // endpoint is not an AWS Query endpoint at all.
    const std::string contentType = sanitize(findHeader(response.headers, "Content-Type"), 80);
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

QueryClient::QueryClient(QueryServiceOptions options, HttpTransport& transport,
                         CredentialsProvider& credentials, const core::Clock& clock,
                         QueryClientHooks hooks)
    : options_(std::move(options)),
      transport_(transport),
      credentials_(credentials),
      clock_(clock),
      hooks_(std::move(hooks)),
      retry_(options_.retry, hooks_.random ? hooks_.random : defaultRandom()) {
  if (!hooks_.sleep) hooks_.sleep = defaultSleep;
  if (options_.retry.mode == RetryMode::kAdaptive) {
    adaptive_ = std::make_unique<AdaptiveRateLimiter>(clock_, hooks_.sleep);
  }
}

QueryClient::~QueryClient() = default;

HttpRequest QueryClient::buildRequest(const std::string& body) const {
  HttpRequest request;
  request.method = "POST";
  request.url = options_.endpoint;
  if (request.url.empty() || request.url.back() != '/') request.url += '/';
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = body;
  request.timeout = options_.attemptTimeout;
  return request;
}

void QueryClient::finish(CallRecord& record, core::MonoTime start) const {
  record.latency = std::chrono::duration_cast<nanoseconds>(clock_.now() - start);
  if (hooks_.observer) hooks_.observer->onCall(record);
}

core::Result<QueryResponse> QueryClient::call(std::string_view action, const QueryParams& params) {
  const core::MonoTime start = clock_.now();
  const std::string body = encodeQueryBody(action, options_.apiVersion, params);
  CallRecord record;
  record.service = options_.service;
  record.operation = std::string(action);
  RetryPolicy::CallState state;
  bool skewCorrected = false;

  const auto fail = [&](core::Error error, FailureClass failure) -> core::Result<QueryResponse> {
    record.outcome = outcomeFor(error, failure);
    record.httpStatus = error.httpStatus;
    record.errorCode = error.code;
    record.requestId = error.requestId;
    if (record.attempts > 1) {
      error.message += fmt::format(" (gave up after {} attempts)", record.attempts);
    }
    finish(record, start);
    return std::unexpected(std::move(error));
  };

  for (;;) {
    if (hooks_.rateLimiter) {
      auto waited = hooks_.rateLimiter->acquire(action, clock_.now() + options_.rateLimitWait);
      if (!waited) return fail(std::move(waited.error()), FailureClass::kNotRetryable);
      record.rateLimitWait += *waited;
    }
    if (adaptive_) {
      auto waited = adaptive_->beforeSend(clock_.now() + options_.rateLimitWait);
      if (!waited) return fail(std::move(waited.error()), FailureClass::kNotRetryable);
      record.rateLimitWait += *waited;
    }
    // Fresh credentials for every attempt: a retry after expiry must not reuse stale ones.
    core::Result<Credentials> credentials = credentials_.credentials();
    if (!credentials) return fail(std::move(credentials.error()), FailureClass::kNotRetryable);

    HttpRequest request = buildRequest(body);
    SigningParams signing;
    signing.region = options_.region;
    signing.service = options_.service;
    signing.time =
        clock_.wallNow() + std::chrono::duration_cast<core::WallTime::duration>(clockOffset());
    signRequest(request, *credentials, signing);

    if (hooks_.beforeSend) {
      if (auto allowed = hooks_.beforeSend(action); !allowed) {
        return fail(std::move(allowed.error()), FailureClass::kNotRetryable);
      }
    }
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
      if (adaptive_) adaptive_->onResponse(false);
      retry_.onCallSucceeded(state);
      QueryResponse result;
      result.httpStatus = response->status;
      result.attempts = state.attempt;
      result.requestId = sanitize(findHeader(response->headers, "x-amzn-RequestId"), 128);
      if (result.requestId.empty()) result.requestId = requestIdFromBody(response->body);
      result.body = std::move(response->body);
      record.httpStatus = result.httpStatus;
      record.requestId = result.requestId;
      record.outcome = CallOutcome::kSuccess;
      finish(record, start);
      return result;
    }

    core::Error error;
    if (response) {
      error = parseQueryError(*response, action);
      redact(error.message, credentials->sessionToken);
      redact(error.message, credentials->secretAccessKey);
    } else {
      error = std::move(response.error());
      error.httpStatus = 0;
      error.kind = core::ErrorKind::kRetryable;
      error.message = fmt::format("{}: {}", action, error.message);
    }
    const int failedAttempt = state.attempt;
    const RetryPolicy::Decision decision = retry_.onAttemptFailed(state, error);
    attempt.outcome = outcomeFor(error, decision.failure);
    attempt.httpStatus = error.httpStatus;
    attempt.errorCode = error.code;
    if (hooks_.observer) hooks_.observer->onAttempt(attempt);
    if (adaptive_) adaptive_->onResponse(decision.failure == FailureClass::kThrottling);

    if (response && !skewCorrected && isClockSkewError(error)) {
      const auto serverTime = parseHttpDate(findHeader(response->headers, "Date"));
      const auto skew = serverTime ? *serverTime - signing.time : core::WallTime::duration{};
      if (serverTime && (skew >= kClockSkewThreshold || skew <= -kClockSkewThreshold)) {
        const auto offset = std::chrono::duration_cast<nanoseconds>(*serverTime - clock_.wallNow());
        clockOffsetNanos_.store(offset.count());
        skewCorrected = true;
        if (hooks_.logger && hooks_.logger->enabled(core::LogLevel::kWarn)) {
          hooks_.logger->log(
              core::LogLevel::kWarn, "AWS refused a request signed with a skewed clock; retrying",
              {core::field("service", options_.service), core::field("operation", record.operation),
               core::field("code", error.code),
               core::field(
                   "clock_offset_ms",
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::milliseconds>(offset).count()))});
        }
        ++state.attempt;
        continue;
      }
    }

    if (!decision.retry) {
      if (decision.stop == RetryPolicy::Stop::kQuotaExhausted && hooks_.logger &&
          hooks_.logger->enabled(core::LogLevel::kWarn)) {
        hooks_.logger->log(
            core::LogLevel::kWarn, "AWS retry quota exhausted; not retrying",
            {core::field("service", options_.service), core::field("operation", record.operation),
             core::field("code", error.code),
             core::field("attempt", static_cast<long long>(failedAttempt))});
      }
      return fail(std::move(error), decision.failure);
    }
    if (hooks_.logger && hooks_.logger->enabled(core::LogLevel::kDebug)) {
      hooks_.logger->log(
          core::LogLevel::kDebug, "retrying AWS call",
          {core::field("service", options_.service), core::field("operation", record.operation),
           core::field("code", error.code),
           core::field("http_status", static_cast<long long>(error.httpStatus)),
           core::field("attempt", static_cast<long long>(failedAttempt)),
           core::field("delay_ms",
                       static_cast<long long>(
                           std::chrono::duration_cast<std::chrono::milliseconds>(decision.delay)
                               .count()))});
    }
    hooks_.sleep(decision.delay);
  }
}

}  // namespace endpointbinder::aws
