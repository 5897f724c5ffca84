#include "tests/support/fake_http_transport.h"

namespace endpointbinder::testing {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string decodeComponent(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i] == '+' ? ' ' : text[i]);
  }
  return out;
}

}  // namespace

void FakeHttpTransport::push(core::Result<aws::HttpResponse> response) {
  std::lock_guard lock(mu_);
  script_.push_back(std::move(response));
}

void FakeHttpTransport::pushXml(int status, std::string body, std::string requestId) {
  aws::HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/xml");
  if (!requestId.empty()) response.headers.emplace_back("x-amzn-RequestId", requestId);
  response.body = std::move(body);
  push(std::move(response));
}

void FakeHttpTransport::pushAwsError(int status, std::string code, std::string message,
                                     std::string requestId) {
  pushXml(status, awsErrorXml(code, message, requestId), requestId);
}

void FakeHttpTransport::pushTransportError(std::string code) {
  core::Error error;
  error.kind = core::ErrorKind::kRetryable;
  error.code = std::move(code);
  error.message = "scripted transport failure";
  push(std::unexpected(std::move(error)));
}

void FakeHttpTransport::setHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

core::Result<aws::HttpResponse> FakeHttpTransport::send(const aws::HttpRequest& request) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (next_ < script_.size()) return script_[next_++];
    handler = handler_;
  }
  if (handler) return handler(request);
  return core::makeError(core::ErrorKind::kTerminal, "no scripted response left",
                         "NoScriptedResponse");
}

std::vector<aws::HttpRequest> FakeHttpTransport::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t FakeHttpTransport::requestCount() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

size_t FakeHttpTransport::pendingResponses() const {
  std::lock_guard lock(mu_);
  return script_.size() - next_;
}

std::vector<std::pair<std::string, std::string>> decodeForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view item = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      pairs.emplace_back(decodeComponent(item), "");
    } else {
      pairs.emplace_back(decodeComponent(item.substr(0, eq)), decodeComponent(item.substr(eq + 1)));
    }
  }
  return pairs;
}

std::optional<std::string> formValue(std::string_view body, std::string_view name) {
  for (auto& [key, value] : decodeForm(body)) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string awsErrorXml(std::string_view code, std::string_view message,
                        std::string_view requestId) {
  std::string xml =
      "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"
      "<Error><Type>Sender</Type><Code>";
  xml += code;
  xml += "</Code><Message>";
  xml += message;
  xml += "</Message></Error><RequestId>";
  xml += requestId;
  xml += "</RequestId></ErrorResponse>";
  return xml;
}

FakeCredentialsProvider::FakeCredentialsProvider(aws::Credentials credentials)
    : current_(std::move(credentials)) {}

core::Result<aws::Credentials> FakeCredentialsProvider::credentials() {
  std::lock_guard lock(mu_);
  ++calls_;
  return current_;
}

void FakeCredentialsProvider::set(aws::Credentials credentials) {
  std::lock_guard lock(mu_);
  current_ = std::move(credentials);
}

void FakeCredentialsProvider::fail(core::Error error) {
  std::lock_guard lock(mu_);
  current_ = std::unexpected(std::move(error));
}

int FakeCredentialsProvider::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

aws::Credentials FakeCredentialsProvider::defaultCredentials() {
  aws::Credentials credentials;
  credentials.accessKeyId = "AKIDEXAMPLE";
  credentials.secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  credentials.providerName = "static";
  return credentials;
}

}  // namespace endpointbinder::testing
