#include "tests/support/aws_local_server.h"

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace endpointbinder::testing {
namespace {

namespace listener = web::http::experimental::listener;

// Binds 127.0.0.1:0 and returns the socket and the port the kernel chose.
int bindEphemeral(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

int unusedLocalPort() {
  int port = 0;
  ::close(bindEphemeral(port));
  return port;
}

LocalHttpServer::LocalHttpServer(Handler handler, std::optional<TlsFiles> tls)
    : handler_(std::move(handler)), tls_(tls.has_value()) {
  listener::http_listener_config config;
  config.set_timeout(std::chrono::seconds(30));
  if (tls) {
    const TlsFiles files = *tls;
    config.set_ssl_context_callback([files](boost::asio::ssl::context& context) {
      context.set_options(boost::asio::ssl::context::default_workarounds);
      context.use_certificate_chain_file(files.certificateFile);
      context.use_private_key_file(files.privateKeyFile, boost::asio::ssl::context::pem);
    });
  }
  // cpprest's listener cannot report the port it bound, so take one the kernel handed out and
  // release it just before; retry in the unlikely case another process grabs it meanwhile.
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int port = unusedLocalPort();
    auto candidate = std::make_unique<listener::http_listener>(
        web::uri((tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port)),
        config);
    candidate->support([this](web::http::http_request message) {
      RecordedRequest recorded;
      recorded.method = message.method();
      recorded.target = message.relative_uri().to_string();
      for (const auto& [name, value] : message.headers())
        recorded.headers.emplace_back(name, value);
      try {
        recorded.body = message.extract_utf8string(true).get();
      } catch (...) {
      }
      aws::HttpResponse response;
      handle(recorded, response);
      web::http::http_response reply(static_cast<web::http::status_code>(response.status));
      bool hasContentType = false;
      for (const auto& [name, value] : response.headers) {
        reply.headers().add(name, value);
        if (name == "Content-Type") hasContentType = true;
      }
      // Bytes, not std::string (cpprest's string overload is undefined behaviour under UBSan).
      reply.set_body(std::vector<unsigned char>(response.body.begin(), response.body.end()));
      reply.headers()["Content-Type"] =
          hasContentType ? std::string(aws::findHeader(response.headers, "Content-Type"))
                         : std::string("text/plain");
      try {
        message.reply(reply).wait();
      } catch (...) {
        // The client is gone (it gave up waiting, as tests of timeouts make it do).
      }
    });
    try {
      candidate->open().wait();
      listener_ = std::move(candidate);
      port_ = port;
      return;
    } catch (const std::exception&) {
    }
  }
  throw std::runtime_error("LocalHttpServer: could not bind a port");
}

LocalHttpServer::~LocalHttpServer() {
  if (listener_) {
    try {
      listener_->close().wait();
    } catch (...) {
    }
  }
}

void LocalHttpServer::handle(const RecordedRequest& request, aws::HttpResponse& response) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    handler = handler_;
  }
  response = handler(request);
}

std::string LocalHttpServer::baseUrl() const {
  return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
}

std::vector<RecordedRequest> LocalHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t LocalHttpServer::requestCount() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

void LocalHttpServer::setHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

RawTcpServer::RawTcpServer(Mode mode) : mode_(mode) {
  listenFd_ = bindEphemeral(port_);
  if (::listen(listenFd_, 16) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("listen() failed");
  }
  thread_ = std::thread([this] { run(); });
}

RawTcpServer::~RawTcpServer() {
  stop_ = true;
  thread_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& connection : connections_) connection.join();
  for (int fd : fds_) ::close(fd);
  ::close(listenFd_);
}

void RawTcpServer::run() {
  while (!stop_) {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++accepted_;
    std::lock_guard lock(mu_);
    fds_.push_back(fd);
    if (mode_ == Mode::kRespondOk) connections_.emplace_back([this, fd] { serve(fd); });
  }
}

void RawTcpServer::serve(int fd) {
  std::string buffer;
  char chunk[4096];
  while (!stop_) {
    // Serve every complete request in the buffer (headers, then Content-Length body).
    for (;;) {
      const auto end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) break;
      size_t contentLength = 0;
      const std::string head = buffer.substr(0, end);
      for (const char* name : {"Content-Length:", "content-length:"}) {
        if (auto at = head.find(name); at != std::string::npos) {
          contentLength = std::stoul(head.substr(at + std::string(name).size()));
        }
      }
      if (buffer.size() < end + 4 + contentLength) break;
      buffer.erase(0, end + 4 + contentLength);
      static constexpr std::string_view kReply =
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
      ::send(fd, kReply.data(), kReply.size(), MSG_NOSIGNAL);
      ++served_;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

StreamingBodyServer::StreamingBodyServer(Framing framing, std::size_t totalBytes,
                                         std::size_t pieceBytes)
    : framing_(framing),
      totalBytes_(totalBytes),
      pieceBytes_(std::max<std::size_t>(1, pieceBytes)) {
  listenFd_ = bindEphemeral(port_);
  if (::listen(listenFd_, 16) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("listen() failed");
  }
  thread_ = std::thread([this] { run(); });
}

StreamingBodyServer::~StreamingBodyServer() {
  stop_ = true;
  thread_.join();
  ::close(listenFd_);
}

StreamingBodyServer::Outcome StreamingBodyServer::waitForOutcome(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, limit, [&] { return outcome_.finished; });
  return outcome_;
}

void StreamingBodyServer::run() {
  bool served = false;
  while (!stop_) {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (served) {  // one response is what the tests look at
      ::close(fd);
      continue;
    }
    served = true;
    serve(fd);
    ::close(fd);
  }
}

bool StreamingBodyServer::sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    if (stop_) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    peerGone_ = n < 0 && (errno == EPIPE || errno == ECONNRESET);
    return false;
  }
  return true;
}

void StreamingBodyServer::serve(int fd) {
  // A small send buffer, and a send timeout so that a client that neither reads nor closes
  // cannot keep the destructor waiting.
  const int sendBuffer = 16 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof sendBuffer);
  timeval sendTimeout{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);

  std::string request;
  char buffer[4096];
  while (!stop_ && request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    request.append(buffer, static_cast<std::size_t>(n));
  }

  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n";
  switch (framing_) {
    case Framing::kChunked:
      head += "Transfer-Encoding: chunked\r\n";
      break;
    case Framing::kUntilClose:
      head += "Connection: close\r\n";
      break;
    case Framing::kContentLength:
      head += "Content-Length: " + std::to_string(totalBytes_) + "\r\n";
      break;
  }
  head += "\r\n";

  Outcome outcome;
  bool ok = sendAll(fd, head);
  const std::string piece(pieceBytes_, 'x');
  while (ok && outcome.bodyBytesSent < totalBytes_) {
    const std::size_t size = std::min(pieceBytes_, totalBytes_ - outcome.bodyBytesSent);
    const std::string_view data(piece.data(), size);
    if (framing_ == Framing::kChunked) {
      char sizeLine[32];
      std::snprintf(sizeLine, sizeof sizeLine, "%zx\r\n", size);
      ok = sendAll(fd, sizeLine) && sendAll(fd, data) && sendAll(fd, "\r\n");
    } else {
      ok = sendAll(fd, data);
    }
    if (ok) outcome.bodyBytesSent += size;
  }
  if (ok && framing_ == Framing::kChunked) ok = sendAll(fd, "0\r\n\r\n");
  outcome.sentEverything = ok;
  outcome.peerClosedEarly = !ok && peerGone_;
  outcome.finished = true;
  {
    std::lock_guard lock(mu_);
    outcome_ = outcome;
    changed_.notify_all();
  }
  if (ok) {
    ::shutdown(fd, SHUT_WR);
    // Let the client read the end before the socket closes under it.
    pollfd p{fd, POLLIN, 0};
    while (!stop_ && ::poll(&p, 1, 50) == 0) {
    }
  }
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "eb-aws-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& contents) const {
  const auto file = path_ / name;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << contents;
  return file.string();
}

LocalHttpServer::TlsFiles writeSelfSignedCertificate(const TempDir& dir, const std::string& stem,
                                                     const std::vector<std::string>& dnsNames,
                                                     const std::vector<std::string>& ipAddresses) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) throw std::runtime_error("key generation failed");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("endpoint-binder test"), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  std::string san;
  for (const auto& dns : dnsNames) san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  for (const auto& ip : ipAddresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());

  LocalHttpServer::TlsFiles files;
  files.certificateFile = (dir.path() / (stem + ".crt")).string();
  files.privateKeyFile = (dir.path() / (stem + ".key")).string();
  FILE* out = std::fopen(files.certificateFile.c_str(), "w");
  PEM_write_X509(out, cert);
  std::fclose(out);
  out = std::fopen(files.privateKeyFile.c_str(), "w");
  PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  X509_free(cert);
  EVP_PKEY_free(key);
  return files;
}

core::MonoTime SharedManualClock::now() const {
  std::lock_guard lock(mu_);
  return core::MonoTime{} + elapsed_;
}

core::WallTime SharedManualClock::wallNow() const {
  std::lock_guard lock(mu_);
  return wallStart_ + std::chrono::duration_cast<core::WallTime::duration>(elapsed_);
}

void SharedManualClock::advance(std::chrono::nanoseconds by) {
  std::lock_guard lock(mu_);
  elapsed_ += by;
}

}  // namespace endpointbinder::testing
