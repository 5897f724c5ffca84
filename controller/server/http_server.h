// HttpServer: the small HTTP/1.1 server under the health/status API and the metrics endpoint.
// Both serve a few read-only resources to probes, scrapers and the CLI, and both listen on
// addresses a hostile client may reach, so this server is built around limits rather than
// features:
//   - request line and headers: at most maxHeadBytes (and maxHeaders lines), else 431;
//   - a body: at most maxBodyBytes by its Content-Length, else 413 without reading it; a body
//     without a length (chunked) gets 411. Bodies are read and dropped, never buffered whole:
//     no resource here takes one;
//   - the request must arrive within readTimeout (408), and the answer leave within
//     writeTimeout (then the connection is dropped);
//   - one request per connection (Connection: close): no idle keep-alive connections to hold;
//   - `threads` requests are served at once; accepted connections beyond that wait in a queue of
//     maxQueued, and further ones are closed at once.
// Malformed requests get 400, an HTTP version other than 1.0/1.1 505. The handler sees the
// method, the percent-decoded path and the raw query; for HEAD its answer goes without the body.
// Thread-safety: the handler is called concurrently from the worker threads; port() and url()
// may be called from any thread. Destruction stops accepting, interrupts requests still being
// read, lets requests being answered finish, and joins every thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "controller/core/error.h"

namespace endpointbinder::server {

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  // the Allow header for 405, else empty
};

struct HttpRequestHead {
  std::string method;  // as sent ("GET")
  std::string path;    // percent-decoded, without the query ("/readyz")
  std::string query;   // after '?', raw; empty when absent
};

struct HttpServerOptions {
  // "host:port" with an IP literal ("127.0.0.1:8081", "[::]:8081"); port 0 binds an ephemeral
  // port (see port()).
  std::string address;
  std::size_t threads = 2;
  std::size_t maxHeadBytes = 16 * 1024;
  std::size_t maxHeaders = 100;
  std::size_t maxBodyBytes = 64 * 1024;
  std::size_t maxQueued = 64;
  std::chrono::milliseconds readTimeout{10'000};
  std::chrono::milliseconds writeTimeout{10'000};
};

// Renders the body of an error the server itself answers (400, 408, 411, 413, 431, 500, 505),
// so that each API keeps its own error format. `message` says what was wrong.
using HttpErrorRenderer = std::function<HttpResponse(int status, std::string_view message)>;

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequestHead&)>;

  // Binds and starts serving. On failure (address malformed, port in use): kTerminal with the
  // reason; nothing is left bound. `handler` must not throw (an exception becomes a 500).
  static core::Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                         Handler handler,
                                                         HttpErrorRenderer renderError = {});

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the real one when options.address asked for port 0).
  int port() const;

 private:
  struct State;
  explicit HttpServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// The reason phrase for `status` ("Request Header Fields Too Large"); "Unknown" for others.
std::string_view httpReasonPhrase(int status);

}  // namespace endpointbinder::server
