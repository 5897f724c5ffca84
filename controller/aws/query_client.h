// QueryClient: one AWS Query-protocol service (ELBv2, STS, EC2, Auto Scaling) over an
// HttpTransport. A call encodes `Action=…&Version=…&…` as a form body and hands it to its
// SignedSender (signed_sender.h), which waits for the per-action client-side token bucket,
// signs each attempt with SigV4 using credentials fetched afresh for that attempt, sends it,
// and retries in standard (or adaptive) mode. Responses with 2xx come back as the raw XML body
// for an operation-specific parser; anything else becomes a core::Error (parseQueryError)
// whose kind says what the caller should do, with the AWS code, message, request id and HTTP
// status. Every attempt and every call is reported to the AwsCallObserver.
//
// Clock skew is corrected as SignedSender describes (at most one immediate retry per call,
// signed at local time + the learnt offset).
//
// Errors never carry credentials, signatures or the request body.
// Thread-safety: call() may run concurrently on any number of threads. The transport,
// credentials provider, clock, rate limiter, observer and logger must outlive the client.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/aws/retry.h"
#include "controller/aws/signed_sender.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

// Request parameters after serialization ("Targets.member.1.Id" → "10.0.1.5"), in send order.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes with the SigV4 rules: A-Z a-z 0-9 - _ . ~ stay, everything else (space
// included) becomes %XX with uppercase hex.
std::string formEncode(std::string_view text);

// "Action=<action>&Version=<version>" followed by each parameter, keys and values encoded.
std::string encodeQueryBody(std::string_view action, std::string_view version,
                            const QueryParams& params);

// The kind an AWS error code (with its HTTP status) calls for: throttling and transient errors
// → kRetryable; signature, credential and permission errors (or 401/403 without a code) →
// kAuth; "…NotFound", "….NotFound", "NoSuch…" → kNotFound; anything else → kTerminal.
core::ErrorKind errorKindForAwsError(std::string_view code, int httpStatus);

// Turns a non-2xx response into an Error. Understands the Query error body
// (<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>), EC2's
// (<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>) and a bare <Error>;
// a body that is not such XML (a proxy's HTML 502, an empty body) gives an Error with no code
// and a message naming the status, content type and, for HTML, the page title. The request id
// falls back to the x-amzn-RequestId header. `operation` prefixes the message.
core::Error parseQueryError(const HttpResponse& response, std::string_view operation);

struct QueryServiceOptions {
  std::string service;     // SigV4 signing name and metrics label: "elasticloadbalancing"
  std::string region;      // "ap-northeast-1"
  std::string endpoint;    // "https://elasticloadbalancing.ap-northeast-1.amazonaws.com"
  std::string apiVersion;  // "2015-12-01"
  std::chrono::milliseconds attemptTimeout{10'000};  // one HTTP attempt, connect included
  std::chrono::milliseconds rateLimitWait{60'000};   // longest wait for a client-side token
  RetryOptions retry;
};

// The XML of a 2xx response, its request id, HTTP status and attempts.
using QueryResponse = BodyResponse;

// A parser's Error about a 2xx answer, with that answer's request id and HTTP status: support
// cases need the request id of the response that could not be read.
core::Error withRequestId(core::Error error, const QueryResponse& response);

class QueryClient {
 public:
  QueryClient(QueryServiceOptions options, HttpTransport& transport,
              CredentialsProvider& credentials, const core::Clock& clock,
              QueryClientHooks hooks = {});
  ~QueryClient();
  QueryClient(const QueryClient&) = delete;
  QueryClient& operator=(const QueryClient&) = delete;

  // Performs `action` with `params`. On success returns the 2xx body. On failure returns the
  // last attempt's Error (kinds as errorKindForAwsError; transport failures kRetryable; a
  // credentials failure as the provider reported it; no client-side token before the deadline
  // kRetryable "ClientRateLimited"). Retries only what standard mode retries.
  core::Result<QueryResponse> call(std::string_view action, const QueryParams& params);

  static constexpr std::chrono::minutes kClockSkewThreshold = SignedSender::kClockSkewThreshold;

  // The current correction: server time - local time, as last learnt; zero until then.
  std::chrono::nanoseconds clockOffset() const { return sender_.clockOffset(); }

  const QueryServiceOptions& options() const { return options_; }
  const RetryPolicy& retryPolicy() const { return sender_.retryPolicy(); }
  // Present only in adaptive mode.
  const AdaptiveRateLimiter* adaptiveLimiter() const { return sender_.adaptiveLimiter(); }

 private:
  const QueryServiceOptions options_;
  SignedSender sender_;
};

}  // namespace endpointbinder::aws
