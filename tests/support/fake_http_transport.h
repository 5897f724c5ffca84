// FakeHttpTransport: a scripted HttpTransport for unit tests. Responses (or transport errors)
// queued with push*() are returned in order; when the queue is empty the handler, if any,
// answers; otherwise send() fails with code "NoScriptedResponse" so a test that makes more calls
// than it scripted fails loudly. Every request is recorded.
// FakeCredentialsProvider: fixed credentials (or a fixed error), counting calls.
// Thread-safety: both are safe to use from several threads.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/aws/credentials.h"
#include "controller/aws/http.h"

namespace endpointbinder::testing {

class FakeHttpTransport final : public aws::HttpTransport {
 public:
  using Handler = std::function<core::Result<aws::HttpResponse>(const aws::HttpRequest&)>;

  void push(core::Result<aws::HttpResponse> response);
  // A response with `status` and an XML body (Content-Type text/xml, x-amzn-RequestId set
  // when `requestId` is not empty).
  void pushXml(int status, std::string body, std::string requestId = "req-1");
  // An ErrorResponse document as ELBv2/STS send it.
  void pushAwsError(int status, std::string code, std::string message = "message",
                    std::string requestId = "req-err");
  // A transport failure (kRetryable, no HTTP status) with `code`, e.g. "ConnectionError".
  void pushTransportError(std::string code);
  void setHandler(Handler handler);

  core::Result<aws::HttpResponse> send(const aws::HttpRequest& request) override;

  std::vector<aws::HttpRequest> requests() const;
  size_t requestCount() const;
  size_t pendingResponses() const;

 private:
  mutable std::mutex mu_;
  std::vector<core::Result<aws::HttpResponse>> script_;
  size_t next_ = 0;
  Handler handler_;
  std::vector<aws::HttpRequest> requests_;
};

// Decodes an application/x-www-form-urlencoded body ("a=b&c=%20d") into ordered pairs.
std::vector<std::pair<std::string, std::string>> decodeForm(std::string_view body);
// The first value of `name` in a form body, nullopt when absent.
std::optional<std::string> formValue(std::string_view body, std::string_view name);

// "<ErrorResponse><Error><Type>Sender</Type><Code>…" as ELBv2 and STS send errors.
std::string awsErrorXml(std::string_view code, std::string_view message,
                        std::string_view requestId);

class FakeCredentialsProvider final : public aws::CredentialsProvider {
 public:
  explicit FakeCredentialsProvider(aws::Credentials credentials = defaultCredentials());
  core::Result<aws::Credentials> credentials() override;
  void set(aws::Credentials credentials);
  void fail(core::Error error);
  int calls() const;

  // Access key "AKIDEXAMPLE", secret "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".
  static aws::Credentials defaultCredentials();

 private:
  mutable std::mutex mu_;
  core::Result<aws::Credentials> current_;
  int calls_ = 0;
};

}  // namespace endpointbinder::testing
