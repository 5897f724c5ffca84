// SignedSender: the one send loop behind every AWS client (Query, JSON, S3 and Route 53's
// REST-XML). A client prepares the HTTP request of a call (method, URL, headers, body); the
// sender waits for the call's client-side token bucket (and adaptive mode's), fetches
// credentials afresh for each attempt, signs the attempt with SigV4, sends it, and retries in
// standard (or adaptive) mode with backoff. A 2xx answer comes back whole; anything else
// becomes a core::Error through the client's ErrorParser (the protocol's error document), with
// transport failures kRetryable and a credentials failure as the provider reported it. Every
// attempt and every call is reported to the AwsCallObserver. The protocols differ only in the
// request they prepare and the error document they parse, so retries, backoff, rate limits,
// request ids and metrics behave the same for all of them.
//
// Clock skew (optional; as the Java and C++ SDKs correct it): when AWS refuses an attempt as
// signed at the wrong time (isClockSkewError in retry.h) and the response's Date header shows
// the attempt's signing time was at least kClockSkewThreshold off, the sender keeps
// offset = server Date - local time, signs this and every later attempt at local time +
// offset, and retries at once. At most one such retry per call; it counts as an attempt but
// needs no retry quota and may go past maxAttempts (a fixed clock is not a retry storm).
//
// Errors never carry credentials, signatures or the request body.
// Thread-safety: send() may run concurrently on any number of threads. The transport,
// credentials provider, clock and the hooks' pointees must outlive the sender.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "controller/aws/call_observer.h"
#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/aws/rate_limiter.h"
#include "controller/aws/retry.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/core/log.h"

namespace endpointbinder::aws {

// Optional collaborators of every AWS client (the name is historical: the Query client had
// them first). Null pointers mean "none"; empty functions get real defaults (defaultRandom(),
// std::this_thread::sleep_for).
struct QueryClientHooks {
  RateLimiter* rateLimiter = nullptr;  // per-action buckets, shared by all clients of a service
  AwsCallObserver* observer = nullptr;
  core::Logger* logger = nullptr;
  RandomFn random;  // backoff jitter
  SleepFn sleep;    // backoff waits (and adaptive-mode waits)
  // Asked right before each attempt is sent (after any rate-limit wait and backoff); an error
  // ends the call with it, unsent. Leader election fences every write attempt this way.
  std::function<core::Result<void>(std::string_view action)> beforeSend = nullptr;
};

// Turns a non-2xx answer into an Error: the protocol's error document, `operation` prefixing
// the message. Must be pure and thread-safe.
using ErrorParser = std::function<core::Error(const HttpResponse&, std::string_view operation)>;

// Printable ASCII only (tabs and line breaks become one space, trailing blanks dropped), at
// most `limit` characters: text from a response goes into logs and errors.
std::string sanitizeResponseText(std::string_view text, size_t limit);

struct SignedServiceOptions {
  std::string service;  // SigV4 signing name and metrics label: "elasticloadbalancing"
  std::string region;   // signing region: "ap-northeast-1"; "us-east-1" for Route 53
  std::chrono::milliseconds rateLimitWait{60'000};  // longest wait for a client-side token
  RetryOptions retry;
  bool normalizePath = true;  // SigningParams::normalizePath (false only for S3)
  bool signBody = false;      // SigningParams::signBody (S3's x-amz-content-sha256)
  // Query protocol: a 2xx answer without an x-amzn-RequestId header may name its request id
  // in the body (<RequestId>, EC2's <RequestID>).
  bool requestIdInBody = false;
  bool correctClockSkew = false;  // see the header comment
  bool adaptiveMode = false;      // honour RetryMode::kAdaptive's send-rate limiter
};

struct SignedResponse {
  HttpResponse response;  // a 2xx answer
  std::string requestId;
  int attempts = 0;
};

// The body of a 2xx answer and what identifies it: what the Query and JSON clients return.
struct BodyResponse {
  std::string body;
  std::string requestId;
  int httpStatus = 0;
  int attempts = 0;
};

// A POST of `body` to the endpoint's root ("/"), as the Query and JSON protocols send calls.
HttpRequest rootPostRequest(std::string_view endpoint, std::string contentType, std::string body,
                            std::chrono::milliseconds timeout);

class SignedSender {
 public:
  SignedSender(SignedServiceOptions options, ErrorParser parseError, HttpTransport& transport,
               CredentialsProvider& credentials, const core::Clock& clock,
               QueryClientHooks hooks = {});
  ~SignedSender();
  SignedSender(const SignedSender&) = delete;
  SignedSender& operator=(const SignedSender&) = delete;

  // Sends `request` (signed anew for every attempt) as `operation`, which names the call's
  // rate-limit bucket, metrics and messages. On success the 2xx answer; on failure the last
  // attempt's Error (no client-side token before the deadline: kRetryable
  // "ClientRateLimited"), its message ending "(gave up after N attempts)" after a retry.
  core::Result<SignedResponse> send(std::string_view operation, const HttpRequest& request);
  // The same, keeping only the body and what identifies the answer.
  core::Result<BodyResponse> sendForBody(std::string_view operation, const HttpRequest& request);

  // Skews smaller than this are not corrected: AWS accepts 5 minutes either way, so a smaller
  // one cannot be why an attempt was refused. (The SDKs use the same 4 minutes.)
  static constexpr std::chrono::minutes kClockSkewThreshold{4};

  // The current correction: server time - local time, as last learnt; zero until then.
  std::chrono::nanoseconds clockOffset() const {
    return std::chrono::nanoseconds(clockOffsetNanos_.load());
  }

  const SignedServiceOptions& options() const { return options_; }
  const RetryPolicy& retryPolicy() const { return retry_; }
  // Present only with adaptiveMode and RetryMode::kAdaptive.
  const AdaptiveRateLimiter* adaptiveLimiter() const { return adaptive_.get(); }

 private:
  const SignedServiceOptions options_;
  const ErrorParser parseError_;
  HttpTransport& transport_;
  CredentialsProvider& credentials_;
  const core::Clock& clock_;
  QueryClientHooks hooks_;
  RetryPolicy retry_;
  std::unique_ptr<AdaptiveRateLimiter> adaptive_;
  std::atomic<std::int64_t> clockOffsetNanos_{0};
};

}  // namespace endpointbinder::aws
