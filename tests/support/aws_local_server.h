// Local servers that impersonate AWS endpoints (STS, the ECS container credentials endpoint,
// IMDS) and misbehaving peers for transport tests. All bind 127.0.0.1 on a port chosen at run
// time and stop when destroyed.
//  - LocalHttpServer: a cpprest http_listener (plain or TLS) answering with a handler and
//    recording every request.
//  - RawTcpServer: a socket-level HTTP/1.1 server that counts accepted connections (to observe
//    keep-alive reuse) or accepts and never answers (to provoke timeouts).
//  - StreamingBodyServer: streams a large body (chunked, until close, or with Content-Length)
//    and reports whether the client closed the connection before the end (response limits).
// Also: TempDir, self-signed certificates, a thread-safe manual clock.
// Thread-safety: the servers' accessors may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/aws/http.h"
#include "controller/core/clock.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace endpointbinder::testing {

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query as received ("/latest/api/token")
  aws::Headers headers;
  std::string body;
};

class LocalHttpServer {
 public:
  using Handler = std::function<aws::HttpResponse(const RecordedRequest&)>;
  struct TlsFiles {
    std::string certificateFile;  // PEM
    std::string privateKeyFile;   // PEM
  };

  // Starts listening; throws std::runtime_error when no port could be bound.
  explicit LocalHttpServer(Handler handler, std::optional<TlsFiles> tls = std::nullopt);
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" (https when TLS).
  std::string baseUrl() const;
  std::vector<RecordedRequest> requests() const;
  size_t requestCount() const;
  void setHandler(Handler handler);

 private:
  void handle(const RecordedRequest& request, aws::HttpResponse& response);

  mutable std::mutex mu_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  bool tls_ = false;
  int port_ = 0;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

class RawTcpServer {
 public:
  enum class Mode {
    kRespondOk,  // answer every request "200 ok" on a keep-alive connection
    kSilent,     // accept connections, read nothing, answer nothing
  };
  explicit RawTcpServer(Mode mode);
  ~RawTcpServer();
  RawTcpServer(const RawTcpServer&) = delete;
  RawTcpServer& operator=(const RawTcpServer&) = delete;

  int port() const { return port_; }
  int acceptedConnections() const { return accepted_.load(); }
  int requestsServed() const { return served_.load(); }

 private:
  void run();
  void serve(int fd);

  Mode mode_;
  int listenFd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> served_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
  std::vector<int> fds_;
};

// A socket-level HTTP/1.1 server that answers each request with a 200 whose body is
// `totalBytes` of 'x', sent in pieces of `pieceBytes`, framed as chosen, and records whether
// the client closed the connection before the whole body was sent (a response-size limit that
// reads no further) or took it all. Its send buffer is kept small, so what it counts as sent
// is close to what the client received. Serves the first connection only (later ones are
// closed at once); stops when destroyed.
class StreamingBodyServer {
 public:
  enum class Framing {
    kChunked,        // Transfer-Encoding: chunked, one chunk per piece
    kUntilClose,     // no Content-Length: the body ends when the connection does
    kContentLength,  // Content-Length: totalBytes
  };
  StreamingBodyServer(Framing framing, std::size_t totalBytes, std::size_t pieceBytes);
  ~StreamingBodyServer();
  StreamingBodyServer(const StreamingBodyServer&) = delete;
  StreamingBodyServer& operator=(const StreamingBodyServer&) = delete;

  int port() const { return port_; }
  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  struct Outcome {
    bool finished = false;  // the connection's response ended one way or the other
    bool sentEverything = false;
    bool peerClosedEarly = false;  // a send failed with EPIPE/ECONNRESET before the end
    std::size_t bodyBytesSent = 0;
  };
  // The outcome of the first connection, once it has finished or `limit` has passed.
  Outcome waitForOutcome(std::chrono::milliseconds limit);

 private:
  void run();
  void serve(int fd);
  bool sendAll(int fd, std::string_view data);  // false when the peer is gone or stopping

  Framing framing_;
  std::size_t totalBytes_;
  std::size_t pieceBytes_;
  int listenFd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable changed_;
  Outcome outcome_;        // guarded by mu_
  bool peerGone_ = false;  // set by sendAll on EPIPE/ECONNRESET; only the server thread uses it
};

// A directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Writes `contents` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// Writes a fresh self-signed certificate (EC P-256, valid now +- 1 day) and its key as PEM
// files into `dir`; subjectAltName lists `dnsNames` and `ipAddresses`.
LocalHttpServer::TlsFiles writeSelfSignedCertificate(const TempDir& dir, const std::string& stem,
                                                     const std::vector<std::string>& dnsNames,
                                                     const std::vector<std::string>& ipAddresses);

// A port on 127.0.0.1 with nothing listening (bound then released).
int unusedLocalPort();

// A manual clock that is safe to share between threads (core::ManualClock is not).
class SharedManualClock final : public core::Clock {
 public:
  explicit SharedManualClock(
      core::WallTime wallStart = core::WallTime{std::chrono::seconds(1'700'000'000)})
      : wallStart_(wallStart) {}
  core::MonoTime now() const override;
  core::WallTime wallNow() const override;
  void advance(std::chrono::nanoseconds by);

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds elapsed_{0};
  core::WallTime wallStart_;
};

}  // namespace endpointbinder::testing
