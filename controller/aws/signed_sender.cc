#include "controller/aws/signed_sender.h"

#include <fmt/format.h>

#include <thread>
#include <utility>

#include "controller/aws/sigv4.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;

std::string requestIdFromBody(std::string_view body) {
  for (std::string_view tag : {"<RequestId>", "<RequestID>"}) {
    const size_t open = body.find(tag);
    if (open == std::string_view::npos) continue;
    const size_t start = open + tag.size();
    const size_t close = body.find('<', start);
    if (close == std::string_view::npos) return {};
    return sanitizeResponseText(body.substr(start, close - start), 128);
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

}  // namespace

std::string sanitizeResponseText(std::string_view text, size_t limit) {
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

HttpRequest rootPostRequest(std::string_view endpoint, std::string contentType, std::string body,
                            std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::string(endpoint);
  if (request.url.empty() || request.url.back() != '/') request.url += '/';
  request.headers.emplace_back("Content-Type", std::move(contentType));
  request.body = std::move(body);
  request.timeout = timeout;
  return request;
}

SignedSender::SignedSender(SignedServiceOptions options, ErrorParser parseError,
                           HttpTransport& transport, CredentialsProvider& credentials,
                           const core::Clock& clock, QueryClientHooks hooks)
    : options_(std::move(options)),
      parseError_(std::move(parseError)),
      transport_(transport),
      credentials_(credentials),
      clock_(clock),
      hooks_(std::move(hooks)),
      retry_(options_.retry, hooks_.random ? hooks_.random : defaultRandom()) {
  if (!hooks_.sleep) hooks_.sleep = defaultSleep;
  if (options_.adaptiveMode && options_.retry.mode == RetryMode::kAdaptive) {
    adaptive_ = std::make_unique<AdaptiveRateLimiter>(clock_, hooks_.sleep);
  }
}

SignedSender::~SignedSender() = default;

core::Result<BodyResponse> SignedSender::sendForBody(std::string_view operation,
                                                     const HttpRequest& request) {
  auto sent = send(operation, request);
  if (!sent) return std::unexpected(std::move(sent.error()));
  BodyResponse result;
  result.body = std::move(sent->response.body);
  result.requestId = std::move(sent->requestId);
  result.httpStatus = sent->response.status;
  result.attempts = sent->attempts;
  return result;
}

core::Result<SignedResponse> SignedSender::send(std::string_view operation,
                                                const HttpRequest& prepared) {
  const core::MonoTime start = clock_.now();
  CallRecord record;
  record.service = options_.service;
  record.operation = std::string(operation);
  RetryPolicy::CallState state;
  bool skewCorrected = false;

  const auto finish = [&] {
    record.latency = std::chrono::duration_cast<nanoseconds>(clock_.now() - start);
    if (hooks_.observer) hooks_.observer->onCall(record);
  };
  const auto fail = [&](core::Error error, FailureClass failure) -> core::Result<SignedResponse> {
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
    if (adaptive_) {
      auto waited = adaptive_->beforeSend(clock_.now() + options_.rateLimitWait);
      if (!waited) return fail(std::move(waited.error()), FailureClass::kNotRetryable);
      record.rateLimitWait += *waited;
    }
    // Fresh credentials for every attempt: a retry after expiry must not reuse stale ones.
    core::Result<Credentials> credentials = credentials_.credentials();
    if (!credentials) return fail(std::move(credentials.error()), FailureClass::kNotRetryable);

    HttpRequest request = prepared;
    SigningParams signing;
    signing.region = options_.region;
    signing.service = options_.service;
    signing.time =
        clock_.wallNow() + std::chrono::duration_cast<core::WallTime::duration>(clockOffset());
    signing.normalizePath = options_.normalizePath;
    signing.signBody = options_.signBody;
    signRequest(request, *credentials, signing);

    if (hooks_.beforeSend) {
      if (auto allowed = hooks_.beforeSend(operation); !allowed) {
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
      SignedResponse result;
      result.attempts = state.attempt;
      result.requestId =
          sanitizeResponseText(findHeader(response->headers, "x-amzn-RequestId"), 128);
      if (result.requestId.empty() && options_.requestIdInBody) {
        result.requestId = requestIdFromBody(response->body);
      }
      result.response = std::move(*response);
      record.httpStatus = result.response.status;
      record.requestId = result.requestId;
      record.outcome = CallOutcome::kSuccess;
      finish();
      return result;
    }

    core::Error error;
    if (response) {
      error = parseError_(*response, operation);
      // Belt and braces: a service or proxy that echoes request headers must not leak them.
      redactSecret(error.message, credentials->sessionToken, "<redacted>");
      redactSecret(error.message, credentials->secretAccessKey, "<redacted>");
    } else {
      error = std::move(response.error());
      error.httpStatus = 0;
      error.kind = core::ErrorKind::kRetryable;
      error.message = fmt::format("{}: {}", operation, error.message);
    }
    const int failedAttempt = state.attempt;
    const RetryPolicy::Decision decision = retry_.onAttemptFailed(state, error);
    attempt.outcome = outcomeFor(error, decision.failure);
    attempt.httpStatus = error.httpStatus;
    attempt.errorCode = error.code;
    if (hooks_.observer) hooks_.observer->onAttempt(attempt);
    if (adaptive_) adaptive_->onResponse(decision.failure == FailureClass::kThrottling);

    if (options_.correctClockSkew && response && !skewCorrected && isClockSkewError(error)) {
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
