// JsonClient: one AWS JSON-protocol service (SSM speaks AWS JSON 1.1) over an HttpTransport.
// A call POSTs the operation's JSON input to "/" with `X-Amz-Target: <prefix>.<Operation>` and
// `Content-Type: application/x-amz-json-<version>` through its SignedSender (signed_sender.h),
// which signs each attempt with SigV4 using credentials fetched afresh for that attempt and
// retries in standard mode (retry.h) with the injected sleep. 2xx answers come back as the raw
// JSON body for an operation-specific parser; anything else becomes a core::Error whose kind
// says what the caller should do (the same classification as the Query protocol:
// errorKindForAwsError), with the AWS code, message, request id and HTTP status. Every attempt
// and call is reported to the AwsCallObserver.
//
// Error bodies: {"__type": "com.amazonaws.ssm#ParameterNotFound", "message": "..."} (the code
// is what follows '#', up to a ':'), or the x-amzn-ErrorType header; "Message" is accepted too.
// A body that is not such JSON (a proxy's HTML page) gives an Error with no code naming the
// status and content type.
//
// Not done here (unlike QueryClient): clock-skew correction and adaptive mode; the one JSON
// service the controller calls (SSM GetParameter) is read rarely and cached.
// Errors never carry credentials, signatures or the request body (which may name secrets).
// Thread-safety: call() may run concurrently on any number of threads. The transport,
// credentials provider, clock and hooks' pointees must outlive the client.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/aws/query_client.h"
#include "controller/aws/retry.h"
#include "controller/aws/signed_sender.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

struct JsonServiceOptions {
  std::string service;       // SigV4 signing name and metrics label: "ssm"
  std::string region;        // "ap-northeast-1"
  std::string endpoint;      // "https://ssm.ap-northeast-1.amazonaws.com"
  std::string targetPrefix;  // X-Amz-Target prefix: "AmazonSSM"
  std::string jsonVersion = "1.1";
  std::chrono::milliseconds attemptTimeout{10'000};
  std::chrono::milliseconds rateLimitWait{60'000};
  RetryOptions retry;
};

// Turns a non-2xx JSON-protocol response into an Error (see the header comment); `operation`
// prefixes the message. Pure.
core::Error parseJsonError(const HttpResponse& response, std::string_view operation);

// The JSON of a 2xx response, its request id, HTTP status and attempts.
using JsonResponse = BodyResponse;

class JsonClient {
 public:
  JsonClient(JsonServiceOptions options, HttpTransport& transport, CredentialsProvider& credentials,
             const core::Clock& clock, QueryClientHooks hooks = {});
  JsonClient(const JsonClient&) = delete;
  JsonClient& operator=(const JsonClient&) = delete;

  // Performs `operation` with the JSON document `input`. On success the 2xx body; on failure
  // the last attempt's Error (transport failures kRetryable; a credentials failure as the
  // provider reported it). Retries only what standard mode retries.
  core::Result<JsonResponse> call(std::string_view operation, const std::string& input);

  const JsonServiceOptions& options() const { return options_; }

 private:
  const JsonServiceOptions options_;
  SignedSender sender_;
};

}  // namespace endpointbinder::aws
