#include "controller/aws/cpprest_transport.h"

#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "controller/aws/sigv4.h"
#include "controller/aws/url.h"
#include "controller/core/text.h"

namespace endpointbinder::aws {

void setCpprestThreads(size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
  } catch (const std::exception&) {
    // Already initialised (a client or listener exists): keep that pool.
  }
}

namespace {

namespace http = web::http;
namespace client = web::http::client;
using core::ErrorKind;

// Extra time the watchdog grants cpprest past the request timeout, so that cpprest's own
// per-step timer (which knows the phase) normally reports first.
constexpr std::chrono::milliseconds kWatchdogGrace{250};

core::Error transportError(std::string code, std::string message) {
  return core::Error{ErrorKind::kRetryable, std::move(message), std::move(code), {}, 0};
}

core::Error terminalError(std::string code, std::string message) {
  return core::Error{ErrorKind::kTerminal, std::move(message), std::move(code), {}, 0};
}

bool hasForbiddenByte(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool isTokenChar(char c) {
  // RFC 9110 tchar.
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTokenChar);
}

bool containsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return core::asciiLower(haystack).find(core::asciiLower(needle)) != std::string::npos;
}

// Maps a cpprest/boost failure to the transport's error codes. cpprest reports the phase only
// in its message ("Failed to connect to any resolved endpoint", "Error in SSL handshake", ...),
// so the phase is read from there.
core::Error classifyFailure(std::string_view what, std::error_code code, const std::string& where) {
  const bool timedOut = code == std::errc::timed_out;
  const bool connectPhase =
      containsIgnoreCase(what, "connect") || containsIgnoreCase(what, "resolv") ||
      containsIgnoreCase(what, "handshake") || containsIgnoreCase(what, "proxy");
  const bool tls = containsIgnoreCase(what, "ssl") || containsIgnoreCase(what, "handshake") ||
                   containsIgnoreCase(what, "certificate") || containsIgnoreCase(what, "tls");
  std::string message = where + ": " + std::string(what);
  if (timedOut) {
    return transportError(connectPhase ? "ConnectTimeout" : "RequestTimeout", std::move(message));
  }
  if (tls) return transportError("TlsError", std::move(message));
  return transportError("ConnectionError", std::move(message));
}

// Shared between send() and the cpprest continuation, which may outlive send() when the
// watchdog gives up first.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<core::Result<HttpResponse>> result;

  void finish(core::Result<HttpResponse> value) {
    std::lock_guard lock(mu);
    if (done) return;
    result = std::move(value);
    done = true;
    cv.notify_all();
  }
};

// A response body over the limit: declared so by its Content-Length (`declaredLength`), or
// grown past it while being read.
struct ResponseTooLarge : std::exception {
  const char* what() const noexcept override { return "response body too large"; }
  std::optional<std::uint64_t> declaredLength;
};

// "16 MiB", "64 KiB" or "1000 bytes".
std::string describeSize(std::size_t bytes) {
  if (bytes != 0 && bytes % (1024 * 1024) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes != 0 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// The stream cpprest writes a response body into: it keeps the body in memory and refuses the
// write that would take it past `limit` bytes. cpprest's own buffer would hold the whole body
// before anyone could look at its size (a chunked body, or one delimited by the end of the
// connection, has no Content-Length to check first). A refused write fails the response, and
// cpprest then closes the connection (asio_context::report_exception) instead of reading on, so
// memory stays at the limit plus the one piece cpprest has in hand: a read of at most
// http_client_config::chunksize() (64 KiB), or for a chunked body one chunk, which cpprest reads
// whole -- a single chunk declared larger than the limit is bounded only by the request timeout.
// Write-only; cpprest writes one piece at a time, each after the previous one has completed,
// and the body is taken once the response is complete.
class BoundedBodyBuffer final
    : public concurrency::streams::details::streambuf_state_manager<std::uint8_t> {
 public:
  explicit BoundedBodyBuffer(std::size_t limit)
      : streambuf_state_manager(std::ios_base::out), limit_(limit) {}

  // Once set, every later write fails: the declared length is already too large.
  void refuse() { refused_ = true; }
  std::string take() { return std::move(body_); }

  bool can_seek() const override { return false; }
  bool has_size() const override { return false; }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override { return 0; }
  pos_type getpos(std::ios_base::openmode) const override { return pos_type(traits::eof()); }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return pos_type(traits::eof()); }
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
    return pos_type(traits::eof());
  }
  bool acquire(std::uint8_t*& ptr, size_t& count) override {
    ptr = nullptr;
    count = 0;
    return false;
  }
  void release(std::uint8_t*, size_t) override {}

 protected:
  pplx::task<int_type> _putc(std::uint8_t ch) override {
    if (!fits(1)) return pplx::task_from_exception<int_type>(ResponseTooLarge{});
    body_.push_back(static_cast<char>(ch));
    return pplx::task_from_result<int_type>(ch);
  }
  pplx::task<size_t> _putn(const std::uint8_t* ptr, size_t count) override {
    // An exception, not a short count: cpprest ignores the count of a chunked write.
    if (!fits(count)) return pplx::task_from_exception<size_t>(ResponseTooLarge{});
    body_.append(reinterpret_cast<const char*>(ptr), count);
    return pplx::task_from_result(count);
  }
  pplx::task<int_type> _bumpc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sbumpc() override { return traits::eof(); }
  pplx::task<int_type> _getc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sgetc() override { return traits::eof(); }
  pplx::task<int_type> _nextc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<int_type> _ungetc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<size_t> _getn(std::uint8_t*, size_t) override {
    return pplx::task_from_result<size_t>(0);
  }
  size_t _scopy(std::uint8_t*, size_t) override { return 0; }
  pplx::task<bool> _sync() override { return pplx::task_from_result(true); }
  std::uint8_t* _alloc(size_t) override { return nullptr; }  // no alloc/commit: writes copy
  void _commit(size_t) override {}

 private:
  bool fits(std::size_t count) const {
    return !refused_ && count <= limit_ && body_.size() <= limit_ - count;
  }

  const std::size_t limit_;
  std::atomic<bool> refused_{false};
  std::string body_;
};

core::Result<std::string> validateCaBundle(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    std::error_code ec(errno, std::generic_category());
    return std::unexpected(
        terminalError("InvalidCaBundle", "CA bundle " + path + " cannot be read: " + ec.message()));
  }
  int certificates = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    ++certificates;
    X509_free(cert);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(bio);
  if (certificates == 0) {
    return std::unexpected(
        terminalError("InvalidCaBundle", "CA bundle " + path + " holds no PEM certificate"));
  }
  return path;
}

core::Result<std::string> normaliseProxy(const std::string& proxy, std::string_view variable) {
  if (proxy.empty()) return proxy;
  std::string withScheme = proxy.find("://") == std::string::npos ? "http://" + proxy : proxy;
  auto url = parseUrl(withScheme);
  if (!url) {
    return std::unexpected(terminalError(
        "InvalidProxy", std::string(variable) + " is not a valid URL: " + url.error().message));
  }
  if (url->scheme != "http") {
    return std::unexpected(terminalError(
        "InvalidProxy", std::string(variable) + " must be an http:// proxy URL (TLS to the proxy "
                                                "itself is not supported)"));
  }
  return withScheme;
}

}  // namespace

core::Result<std::unique_ptr<CpprestTransport>> CpprestTransport::create(
    CpprestTransportOptions options) {
  std::string caBundle = options.caBundlePath;
  if (caBundle.empty()) {
    caBundle = options.environment.getNonEmpty("AWS_CA_BUNDLE").value_or("");
  }
  if (!caBundle.empty()) {
    auto checked = validateCaBundle(expandHome(caBundle, options.environment));
    if (!checked) return std::unexpected(checked.error());
    caBundle = *checked;
  }
  ProxySettings proxies = proxySettingsFromEnvironment(options.environment);
  auto https = normaliseProxy(proxies.httpsProxy, "HTTPS_PROXY");
  if (!https) return std::unexpected(https.error());
  auto plain = normaliseProxy(proxies.httpProxy, "HTTP_PROXY");
  if (!plain) return std::unexpected(plain.error());
  proxies.httpsProxy = *https;
  proxies.httpProxy = *plain;
  return std::unique_ptr<CpprestTransport>(
      new CpprestTransport(std::move(options), std::move(caBundle), std::move(proxies)));
}

// Counts requests between http_client::request() and the run of their last continuation.
// A request the watchdog abandoned is still inside cpprest, closing its socket; the destructor
// waits for it so that no request of ours outlives the transport. (The exit-time leak reports
// this was first written for came from cpprest's own teardown: see core/leak_check.h.)
struct CpprestTransport::InFlight {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::size_t count = 0;

  void enter() {
    std::lock_guard lock(mu);
    ++count;
  }
  void leave() {
    std::lock_guard lock(mu);
    if (--count == 0) cv.notify_all();
  }
};

struct CpprestTransport::Waiting {
  std::string what;  // "POST https://host": no path, which may be secret
  std::chrono::steady_clock::time_point since;
  std::shared_ptr<Pending> pending;
  pplx::cancellation_token_source cancel;
};

CpprestTransport::CpprestTransport(CpprestTransportOptions options, std::string caBundle,
                                   ProxySettings proxies)
    : options_(std::move(options)),
      caBundle_(std::move(caBundle)),
      proxies_(std::move(proxies)),
      inFlight_(std::make_shared<InFlight>()) {}

CpprestTransport::~CpprestTransport() {
  {
    std::lock_guard lock(mu_);
    clients_.clear();
  }
  std::unique_lock lock(inFlight_->mu);
  inFlight_->cv.wait_for(lock, kDrainLimit, [&] { return inFlight_->count == 0; });
}

std::size_t CpprestTransport::requestsInFlight() const {
  std::lock_guard lock(inFlight_->mu);
  return inFlight_->count;
}

void CpprestTransport::shutDown() {
  std::vector<std::shared_ptr<Waiting>> waiting;
  {
    std::lock_guard lock(mu_);
    shutDown_ = true;
    for (const auto& [id, w] : waiting_) waiting.push_back(w);
  }
  for (const auto& w : waiting) {
    // The answer first: cancelling makes the continuation finish with a transport error,
    // which must not win the race.
    w->pending->finish(std::unexpected(
        terminalError("Cancelled", w->what + ": cancelled: the process is shutting down")));
    w->cancel.cancel();  // closes the socket; the continuation's late result is discarded
  }
}

std::vector<std::string> CpprestTransport::describeInFlight() const {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [id, w] : waiting_) {
    const auto tenths =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - w->since).count() / 100;
    out.push_back(w->what + " (" + std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) +
                  "s)");
  }
  return out;
}

std::size_t CpprestTransport::cachedClientCount() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

std::shared_ptr<client::http_client> CpprestTransport::clientFor(
    const std::string& origin, const std::string& proxy, std::chrono::milliseconds timeout) {
  const std::string key = origin + "\n" + proxy + "\n" + std::to_string(timeout.count());
  std::lock_guard lock(mu_);
  if (auto it = clients_.find(key); it != clients_.end()) return it->second;
  if (clients_.size() >= options_.maxCachedClients) clients_.clear();

  client::http_client_config config;
  config.set_timeout(timeout);
  config.set_validate_certificates(true);
  // Never follow redirects: cpprest's follower sends every header (Authorization, session
  // and IMDS tokens) to the new location, whatever its origin, and reads the final body
  // outside our size-limited buffer. AWS endpoints do not redirect these calls; a 3xx is
  // returned to the caller as the answer it is.
  config.set_max_redirects(0);
  const std::string caBundle = caBundle_;
  config.set_ssl_context_callback([caBundle](boost::asio::ssl::context& context) {
    SSL_CTX* native = context.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    if (!caBundle.empty()) {
      // Replace the default store: only the bundle's CAs are trusted. Should the file have
      // become unreadable, the store stays empty and verification fails closed.
      SSL_CTX_set_cert_store(native, X509_STORE_new());
      if (SSL_CTX_load_verify_locations(native, caBundle.c_str(), nullptr) != 1) ERR_clear_error();
    }
  });
  if (!proxy.empty()) {
    auto proxyUrl = parseUrl(proxy);  // validated by create()
    if (!proxyUrl) throw std::invalid_argument("proxy URL does not parse");
    web::web_proxy webProxy(web::uri(proxyUrl->scheme + "://" + proxyUrl->hostForHeader() + ":" +
                                     std::to_string(proxyUrl->effectivePort())));
    if (!proxyUrl->userinfo.empty()) {
      const auto colon = proxyUrl->userinfo.find(':');
      webProxy.set_credentials(web::credentials(
          percentDecode(proxyUrl->userinfo.substr(0, colon)),
          colon == std::string::npos ? "" : percentDecode(proxyUrl->userinfo.substr(colon + 1))));
    }
    config.set_proxy(webProxy);
  }
  auto created = std::make_shared<client::http_client>(web::uri(origin), config);
  clients_.emplace(key, created);
  return created;
}

core::Result<HttpResponse> CpprestTransport::send(const HttpRequest& request) {
  auto result = sendUnredacted(request);
  if (result || !request.secretPath) return result;
  // Our own messages name only the origin; this also covers text quoted from cpprest or boost
  // (a uri_exception repeats the URI it rejected).
  std::string& message = result.error().message;
  redactSecret(message, request.url, redactedUrl(request.url));
  if (auto url = parseUrl(request.url)) {
    if (url->hasQuery) redactSecret(message, url->path + "?" + url->query, "/<redacted path>");
    redactSecret(message, url->path, "/<redacted path>");
    if (url->hasQuery) redactSecret(message, url->query, "<redacted query>");
  }
  return result;
}

core::Result<HttpResponse> CpprestTransport::sendUnredacted(const HttpRequest& request) {
  auto url = parseUrl(request.url);
  if (!url) return std::unexpected(url.error());
  const std::string where =
      request.method + " " + url->origin() + (request.secretPath ? "/<redacted path>" : url->path);

  if (!isToken(request.method)) {
    return std::unexpected(terminalError("InvalidHeader", "HTTP method is not a valid token"));
  }
  // Joined values per header name, in first-seen order; cpprest would join with ", ", which
  // differs from what SigV4 signed (",").
  std::vector<std::pair<std::string, std::string>> headers;
  std::string contentType;
  bool hasContentType = false;
  const std::string ownHost =
      url->hostForHeader() +
      (url->hasNonDefaultPort() ? ":" + std::to_string(url->port) : std::string());
  for (const auto& [name, value] : request.headers) {
    if (!isToken(name) || hasForbiddenByte(value)) {
      return std::unexpected(terminalError(
          "InvalidHeader", "header " + (isToken(name) ? name : std::string("(invalid name)")) +
                               " contains a line break or NUL, or its name is not a token"));
    }
    const std::string lowerName = core::asciiLower(name);
    // cpprest writes Host itself from the client's base URI, which equals ours; passing our
    // copy would make cpprest verify the certificate against "host:port".
    if (lowerName == "host" && core::asciiLower(value) == ownHost) continue;
    if (lowerName == "content-type") {
      contentType = hasContentType ? contentType + "," + value : value;
      hasContentType = true;
      continue;
    }
    if (lowerName == "content-length" || lowerName == "connection" ||
        lowerName == "transfer-encoding") {
      continue;  // framing is cpprest's job; a wrong value would corrupt the stream
    }
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](const auto& h) { return core::asciiLower(h.first) == lowerName; });
    if (it == headers.end()) {
      headers.emplace_back(name, value);
    } else {
      it->second += "," + value;
    }
  }

  const std::string proxy = request.bypassProxy ? std::string() : proxyFor(proxies_, *url);
  const auto timeout = std::max(request.timeout, std::chrono::milliseconds(1));
  auto pending = std::make_shared<Pending>();
  pplx::cancellation_token_source cancel;
  // Registered before the request starts, so that a shutDown() from now on cancels it.
  std::uint64_t waitingId = 0;
  {
    std::lock_guard lock(mu_);
    if (shutDown_) {
      return std::unexpected(terminalError(
          "Cancelled",
          request.method + " " + url->origin() + ": not sent: the process is shutting down"));
    }
    waitingId = nextWaiting_++;
    waiting_.emplace(waitingId, std::make_shared<Waiting>(
                                    Waiting{request.method + " " + url->origin(),
                                            std::chrono::steady_clock::now(), pending, cancel}));
  }
  struct Unregister {
    CpprestTransport& transport;
    std::uint64_t id;
    ~Unregister() {
      std::lock_guard lock(transport.mu_);
      transport.waiting_.erase(id);
    }
  } unregister{*this, waitingId};
  try {
    auto httpClient = clientFor(url->origin(), proxy, timeout);
    http::http_request message(request.method);
    message.set_request_uri(web::uri(url->path + (url->hasQuery ? "?" + url->query : "")));
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
      // Bytes, not std::string: cpprest's string overload reads a char buffer through an
      // unsigned-char stream interface (undefined behaviour UBSan rejects). Content-Type is
      // set just below.
      message.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
    }
    if (hasContentType) {
      message.headers()["Content-Type"] = contentType;
    } else {
      message.headers().remove("Content-Type");
    }
    for (const auto& [name, value] : headers) message.headers()[name] = value;

    const std::size_t maxBytes = options_.maxResponseBytes;
    auto response = std::make_shared<HttpResponse>();
    auto body = std::make_shared<BoundedBodyBuffer>(maxBytes);
    message.set_response_stream(concurrency::streams::streambuf<std::uint8_t>(body));
    // Left by the last continuation, which pplx runs whatever became of the request; pplx
    // may keep the continuation's captures alive long after, so its destruction is no signal.
    inFlight_->enter();
    try {
      httpClient->request(message, cancel.get_token())
          .then([response, body, maxBytes](http::http_response reply) {
            response->status = reply.status_code();
            for (const auto& [name, value] : reply.headers()) {
              response->headers.emplace_back(name, value);
            }
            if (const auto length = reply.headers().content_length(); length > maxBytes) {
              body->refuse();  // cpprest is already reading the body: stop it at its next write
              ResponseTooLarge tooLarge;
              tooLarge.declaredLength = length;
              throw tooLarge;
            }
            return reply.content_ready();
          })
          .then([pending, response, body, where, maxBytes,
                 inFlight = inFlight_](pplx::task<http::http_response> complete) {
            struct LeaveOnReturn {
              InFlight& inFlight;
              ~LeaveOnReturn() { inFlight.leave(); }
            } leave{*inFlight};
            try {
              complete.get();
              response->body = body->take();
              pending->finish(std::move(*response));
            } catch (const ResponseTooLarge& e) {
              pending->finish(std::unexpected(transportError(
                  "ResponseTooLarge",
                  where + ": response body " +
                      (e.declaredLength
                           ? "of " + std::to_string(*e.declaredLength) +
                                 " bytes (Content-Length) exceeds the limit of " +
                                 describeSize(maxBytes) +
                                 "; the connection was closed without reading it"
                           : "exceeds the limit of " + describeSize(maxBytes) +
                                 "; reading stopped there and the connection was closed"))));
            } catch (const http::http_exception& e) {
              pending->finish(std::unexpected(classifyFailure(e.what(), e.error_code(), where)));
            } catch (const pplx::task_canceled&) {
              pending->finish(std::unexpected(transportError(
                  "RequestTimeout", where + ": cancelled after the request timeout")));
            } catch (const std::exception& e) {
              pending->finish(std::unexpected(classifyFailure(e.what(), {}, where)));
            } catch (...) {
              pending->finish(
                  std::unexpected(transportError("ConnectionError", where + ": failed")));
            }
          });
    } catch (...) {
      inFlight_->leave();  // no continuation was attached
      throw;
    }
  } catch (const web::uri_exception& e) {
    return std::unexpected(terminalError("InvalidUrl", where + ": " + e.what()));
  } catch (const http::http_exception& e) {
    return std::unexpected(classifyFailure(e.what(), e.error_code(), where));
  } catch (const std::exception& e) {
    return std::unexpected(classifyFailure(e.what(), {}, where));
  }

  std::unique_lock lock(pending->mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout + kWatchdogGrace;
  if (!pending->cv.wait_until(lock, deadline, [&] { return pending->done; })) {
    lock.unlock();
    cancel.cancel();  // closes the socket; the continuation's late result is discarded
    pending->finish(std::unexpected(transportError(
        "RequestTimeout",
        where + ": no complete response within " + std::to_string(timeout.count()) + " ms")));
    lock.lock();
  }
  return std::move(*pending->result);
}

}  // namespace endpointbinder::aws
