// CpprestTransport: the real HttpTransport, on cpprestsdk's asio client.
//  - TLS: certificates verified against the system CA store (OpenSSL default paths), or only
//    against the PEM bundle named by caBundlePath / AWS_CA_BUNDLE (botocore's rule: the bundle
//    replaces the system store); host name checked (RFC 2818, SNI sent); TLS 1.2 minimum.
//  - Timeouts: HttpRequest::timeout bounds the whole request (a watchdog cancels it shortly
//    after), and is also cpprest's per-step I/O timeout, so a stalled connect, TLS handshake
//    or read fails at that bound. cpprest's asio client has a single timer for all steps, so a
//    connect timeout separate from (shorter than) the request timeout cannot be expressed;
//    expiries during resolve/connect/handshake are reported as "ConnectTimeout", later ones
//    as "RequestTimeout".
//  - Connection reuse: one cpprest http_client (with its keep-alive connection pool) per
//    scheme://host:port, proxy and timeout, created on first use and kept.
//  - Proxies: HTTPS_PROXY/HTTP_PROXY/NO_PROXY from the injected Environment (see proxy.h);
//    https through a proxy uses CONNECT. Proxy credentials in the URL (user:pass@) are sent
//    as Basic auth to the proxy.
//    A request with bypassProxy (metadata endpoints) always connects directly.
//  - Headers are sent as given: repeated names are joined with "," (as SigV4 signs them);
//    names or values with CR, LF or NUL are refused (header injection).
//  - Response bodies are read into a buffer capped at maxResponseBytes, whatever their framing
//    (Content-Length, chunked, or until the connection ends): a body that declares or reaches
//    more fails the request and its connection is closed, so memory stays at the cap plus the
//    piece being read (one chunk of a chunked body, which cpprest reads whole; see
//    BoundedBodyBuffer in the .cc).
// Failures: kRetryable with code ConnectTimeout, RequestTimeout, ConnectionError or TlsError;
// kTerminal "InvalidUrl"/"InvalidHeader"/"InvalidProxy" for requests that can never be sent;
// "ResponseTooLarge" (kRetryable, naming the request's method, origin and path and the limit)
// when a response body exceeds maxResponseBytes; kTerminal
// "Cancelled" after shutDown(). Messages never contain header values or bodies, and for a
// request with secretPath neither its path nor its query (not even inside cpprest's own text).
// Thread-safety: send() may be called concurrently from any number of threads.
// Shutdown: shutDown() makes every waiting send() return at once and refuses new ones, for a
// process that has stopped waiting for its in-flight work. The destructor waits (bounded by
// kDrainLimit) for requests that were abandoned (by the timeout watchdog or shutDown()) to
// finish inside cpprest, so that no socket operation outlives the transport.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/aws/environment.h"
#include "controller/aws/http.h"
#include "controller/aws/proxy.h"

namespace web::http::client {
class http_client;
}

namespace endpointbinder::aws {

struct CpprestTransportOptions {
  // Read for AWS_CA_BUNDLE and the proxy variables.
  Environment environment;
  // PEM CA bundle that replaces the system store; overrides AWS_CA_BUNDLE when not empty.
  std::string caBundlePath;
  // Largest response body accepted (AWS responses are far smaller); tests lower it.
  std::size_t maxResponseBytes = 16 * 1024 * 1024;
  // Cached clients kept at most; the cache is dropped and rebuilt when it would grow beyond.
  std::size_t maxCachedClients = 64;
};

// Sizes cpprest's process-wide thread pool (default: 40 threads), which runs every client's and
// listener's I/O completions. Call once, before any cpprest client or listener exists; later
// calls do nothing.
void setCpprestThreads(size_t threads);

class CpprestTransport final : public HttpTransport {
 public:
  // Longest the destructor waits for abandoned requests to finish inside cpprest.
  static constexpr std::chrono::seconds kDrainLimit{5};

  // Validates the options: the CA bundle (if any) must be a readable PEM file with at least
  // one certificate, proxy URLs must parse. On failure a kTerminal Error with code
  // "InvalidCaBundle" or "InvalidProxy" saying what is wrong.
  static core::Result<std::unique_ptr<CpprestTransport>> create(CpprestTransportOptions options);

  ~CpprestTransport() override;

  core::Result<HttpResponse> send(const HttpRequest& request) override;

  // Number of cached clients (tests check connection reuse with it).
  std::size_t cachedClientCount() const;

  // Requests whose cpprest completion has not run yet, including ones send() already gave up
  // on (tests check that shutdown drains them).
  std::size_t requestsInFlight() const;

  // Cancels every request a send() is waiting for (those send() calls return kTerminal
  // "Cancelled" at once) and refuses every later send() the same way, without sending it.
  // Idempotent.
  void shutDown();

  // The send() calls waiting now, oldest first, as "POST https://host:port (4.2s)": method,
  // origin and age, never a path (for the shutdown watchdog's last words).
  std::vector<std::string> describeInFlight() const;

 private:
  CpprestTransport(CpprestTransportOptions options, std::string caBundle, ProxySettings proxies);

  core::Result<HttpResponse> sendUnredacted(const HttpRequest& request);
  std::shared_ptr<web::http::client::http_client> clientFor(const std::string& origin,
                                                            const std::string& proxy,
                                                            std::chrono::milliseconds timeout);

  const CpprestTransportOptions options_;
  const std::string caBundle_;  // resolved path; empty for the system store
  const ProxySettings proxies_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<web::http::client::http_client>> clients_;

  struct InFlight;
  // Shared with each request's completion, which may run after send() has returned.
  const std::shared_ptr<InFlight> inFlight_;

  struct Waiting;  // one send() waiting for its answer, so that shutDown() can cancel it
  std::uint64_t nextWaiting_ = 0;                              // guarded by mu_
  std::map<std::uint64_t, std::shared_ptr<Waiting>> waiting_;  // guarded by mu_
  bool shutDown_ = false;                                      // guarded by mu_
};

}  // namespace endpointbinder::aws
