#include "controller/server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "controller/core/text.h"
#include "controller/core/thread_name.h"

namespace endpointbinder::server {
namespace {

using Clock = std::chrono::steady_clock;

// After answering a request whose body was left unread, the server stops writing and reads
// (and drops) what the client still sends for this long, at most kLingerBytes, before closing:
// closing a socket with unread input sends a reset, which can destroy the answer before the
// client has read it.
constexpr auto kLinger = std::chrono::milliseconds(500);
constexpr std::size_t kLingerBytes = 256 * 1024;

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTokenChar);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hexValue(text[i + 1]);
    const int low = hexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

struct ListenAddress {
  int family = AF_INET;
  sockaddr_storage storage{};
  socklen_t length = 0;
};

core::Result<ListenAddress> parseListenAddress(const std::string& address) {
  auto bad = [&](std::string why) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "listen address \"" + address + "\" " + std::move(why));
  };
  std::string host;
  std::string_view portText;
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("is not [IPv6]:port");
    }
    host = address.substr(1, close - 1);
    portText = std::string_view(address).substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return bad("is not host:port");
    host = address.substr(0, colon);
    portText = std::string_view(address).substr(colon + 1);
  }
  unsigned port = 0;
  const auto* end = portText.data() + portText.size();
  if (portText.empty() || std::from_chars(portText.data(), end, port).ptr != end || port > 65535) {
    return bad("needs a port in 0..65535");
  }
  if (host == "localhost") host = "127.0.0.1";
  ListenAddress out;
  if (host.find(':') != std::string::npos) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) {
      return bad("needs an IP address as host");
    }
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.family = AF_INET6;
    out.length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
      return bad("needs an IP address as host");
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.family = AF_INET;
    out.length = sizeof(sockaddr_in);
  }
  return out;
}

HttpResponse plainError(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = std::string(message) + "\n";
  return response;
}

}  // namespace

std::string_view httpReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// Shared by the server object and its threads.
struct HttpServer::State {
  HttpServerOptions options;
  Handler handler;
  HttpErrorRenderer renderError;
  int listenFd = -1;
  int wakeFd = -1;  // eventfd: readable once stopping, for every poll() below
  int port = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<int> queued;  // accepted, not yet picked up by a worker
  bool stopping = false;

  std::thread acceptor;
  std::vector<std::thread> workers;

  ~State() {
    if (listenFd >= 0) ::close(listenFd);
    if (wakeFd >= 0) ::close(wakeFd);
  }

  HttpResponse error(int status, std::string_view message) const {
    HttpResponse response =
        renderError ? renderError(status, message) : plainError(status, message);
    response.status = status;
    return response;
  }

  void acceptLoop();
  void workerLoop();
  void serve(int fd);
  // Waits until `fd` is ready for `events` or `deadline`; false on timeout or when stopping.
  bool waitFor(int fd, short events, Clock::time_point deadline) const;
  bool writeAll(int fd, std::string_view data, Clock::time_point deadline) const;
  void answer(int fd, const HttpResponse& response, bool withBody) const;
  void lingeringClose(int fd) const;
};

bool HttpServer::State::waitFor(int fd, short events, Clock::time_point deadline) const {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wakeFd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 60'000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

bool HttpServer::State::writeAll(int fd, std::string_view data, Clock::time_point deadline) const {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A client that stops reading must not keep a worker: give up at the deadline. (Not
      // interrupted by stopping: an answer being written is let finish.)
      pollfd out{fd, POLLOUT, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || ::poll(&out, 1, static_cast<int>(left)) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

// Bodies up to this size are appended to the head and sent in one call.
constexpr std::size_t kCopyBodyBelow = 64 * 1024;

void HttpServer::State::answer(int fd, const HttpResponse& response, bool withBody) const {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     std::string(httpReasonPhrase(response.status)) + "\r\n";
  head += "Content-Type: " + response.contentType + "\r\n";
  head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (!response.allow.empty()) head += "Allow: " + response.allow + "\r\n";
  head += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
  const auto deadline = Clock::now() + options.writeTimeout;
  // Small bodies go out with the head in one send; a large one (a /metrics exposition of
  // megabytes) is sent from where it is, not copied behind the head.
  if (withBody && response.body.size() <= kCopyBodyBelow) {
    head += response.body;
    writeAll(fd, head, deadline);
    return;
  }
  if (writeAll(fd, head, deadline) && withBody) writeAll(fd, response.body, deadline);
}

void HttpServer::State::lingeringClose(int fd) const {
  ::shutdown(fd, SHUT_WR);
  const auto deadline = Clock::now() + kLinger;
  std::size_t dropped = 0;
  char buffer[8192];
  while (dropped < kLingerBytes && waitFor(fd, POLLIN, deadline)) {
    const ssize_t got = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got <= 0) break;
    dropped += static_cast<std::size_t>(got);
  }
  ::close(fd);
}

void HttpServer::State::serve(int fd) {
  const auto deadline = Clock::now() + options.readTimeout;
  std::string buffer;
  std::size_t headEnd = std::string::npos;
  char chunk[4096];
  // Read until the blank line that ends the head, never holding more than the limit.
  while (headEnd == std::string::npos) {
    if (!waitFor(fd, POLLIN, deadline)) {
      bool stop;
      {
        std::lock_guard lock(mu);
        stop = stopping;
      }
      if (!stop && !buffer.empty()) {
        answer(fd,
               error(408, "the request did not arrive within " +
                              std::to_string(options.readTimeout.count()) + " ms"),
               true);
      }
      ::close(fd);
      return;
    }
    const ssize_t got = ::recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got <= 0) {
      ::close(fd);  // the client went away before sending a whole head
      return;
    }
    const std::size_t scanFrom = buffer.size() < 3 ? 0 : buffer.size() - 3;
    buffer.append(chunk, static_cast<std::size_t>(got));
    headEnd = buffer.find("\r\n\r\n", scanFrom);
    const std::size_t headSize = headEnd == std::string::npos ? buffer.size() : headEnd + 4;
    if (headSize > options.maxHeadBytes) {
      answer(fd,
             error(431, "the request line and headers are larger than " +
                            std::to_string(options.maxHeadBytes) + " bytes"),
             true);
      lingeringClose(fd);
      return;
    }
  }

  const std::string_view head = std::string_view(buffer).substr(0, headEnd);
  auto reject = [&](int status, const std::string& message) {
    answer(fd, error(status, message), true);
    lingeringClose(fd);
  };

  // Request line: METHOD SP target SP HTTP/x.y
  const auto lineEnd = head.find("\r\n");
  const std::string_view requestLine = head.substr(0, lineEnd);
  const auto firstSpace = requestLine.find(' ');
  const auto lastSpace = requestLine.rfind(' ');
  if (firstSpace == std::string_view::npos || firstSpace == lastSpace) {
    return reject(400, "malformed request line");
  }
  const std::string_view method = requestLine.substr(0, firstSpace);
  const std::string_view target = requestLine.substr(firstSpace + 1, lastSpace - firstSpace - 1);
  const std::string_view version = requestLine.substr(lastSpace + 1);
  if (!isToken(method) || target.empty() || target.front() != '/' ||
      target.find_first_of(" \t") != std::string_view::npos || !version.starts_with("HTTP/")) {
    return reject(400, "malformed request line");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return reject(505, "HTTP version " + std::string(version.substr(5)) + " is not supported");
  }

  // Headers: only the body's framing matters here.
  std::optional<std::size_t> contentLength;
  bool chunked = false;
  std::size_t headerCount = 0;
  std::size_t at = lineEnd == std::string_view::npos ? head.size() : lineEnd + 2;
  while (at < head.size()) {
    auto end = head.find("\r\n", at);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(at, end - at);
    at = end + 2;
    if (++headerCount > options.maxHeaders) {
      return reject(431, "more than " + std::to_string(options.maxHeaders) + " header lines");
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
      return reject(400, "malformed header line");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = core::trimmed(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "Content-Length")) {
      std::size_t length = 0;
      const auto* end = value.data() + value.size();
      if (value.empty() || std::from_chars(value.data(), end, length).ptr != end ||
          (contentLength && *contentLength != length)) {
        return reject(400, "malformed Content-Length");
      }
      contentLength = length;
    } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
      chunked = true;
    }
  }
  if (chunked) {
    return reject(411, "a request body needs a Content-Length (of at most " +
                           std::to_string(options.maxBodyBytes) + " bytes)");
  }
  const std::size_t bodyLength = contentLength.value_or(0);
  if (bodyLength > options.maxBodyBytes) {
    return reject(
        413, "the request body is larger than " + std::to_string(options.maxBodyBytes) + " bytes");
  }
  // Read the (small) body and drop it, so that closing leaves no unread input behind.
  std::size_t bodyRead = buffer.size() - (headEnd + 4);
  while (bodyRead < bodyLength) {
    if (!waitFor(fd, POLLIN, deadline)) {
      ::close(fd);
      return;
    }
    const ssize_t got =
        ::recv(fd, chunk, std::min(sizeof(chunk), bodyLength - bodyRead), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got <= 0) {
      ::close(fd);
      return;
    }
    bodyRead += static_cast<std::size_t>(got);
  }

  HttpRequestHead request;
  request.method = std::string(method);
  const auto question = target.find('?');
  auto path = percentDecode(target.substr(0, question));
  if (!path) return reject(400, "malformed percent-encoding in the path");
  request.path = std::move(*path);
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));

  HttpResponse response;
  try {
    response = handler(request);
  } catch (const std::exception& e) {
    response = error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    response = error(500, "internal error");
  }
  answer(fd, response, method != "HEAD");
  if (bodyRead > bodyLength) {
    lingeringClose(fd);  // the client sent more than it declared
  } else {
    ::close(fd);
  }
}

void HttpServer::State::acceptLoop() {
  core::nameThisThread("eb-http-accept");
  for (;;) {
    pollfd fds[2] = {{listenFd, POLLIN, 0}, {wakeFd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: back off instead of spinning on the pending connection.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    std::unique_lock lock(mu);
    if (stopping || queued.size() >= options.maxQueued) {
      lock.unlock();
      ::close(fd);
      continue;
    }
    queued.push_back(fd);
    cv.notify_one();
  }
}

void HttpServer::State::workerLoop() {
  core::nameThisThread("eb-http");
  for (;;) {
    int fd = -1;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stopping || !queued.empty(); });
      if (stopping) return;
      fd = queued.front();
      queued.pop_front();
    }
    serve(fd);
  }
}

core::Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                            Handler handler,
                                                            HttpErrorRenderer renderError) {
  auto address = parseListenAddress(options.address);
  if (!address) return std::unexpected(address.error());
  auto state = std::make_shared<State>();
  state->options = options;
  state->options.threads = std::max<std::size_t>(1, options.threads);
  state->handler = std::move(handler);
  state->renderError = std::move(renderError);

  auto failure = [&](const char* what) {
    return core::makeError(core::ErrorKind::kTerminal,
                           std::string(what) + " " + options.address + ": " + errnoText(errno));
  };
  state->listenFd = ::socket(address->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (state->listenFd < 0) return failure("cannot create a socket for");
  const int on = 1;
  ::setsockopt(state->listenFd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (::bind(state->listenFd, reinterpret_cast<const sockaddr*>(&address->storage),
             address->length) != 0) {
    return failure("cannot bind");
  }
  if (::listen(state->listenFd, 128) != 0) return failure("cannot listen on");
  sockaddr_storage bound{};
  socklen_t boundLength = sizeof(bound);
  ::getsockname(state->listenFd, reinterpret_cast<sockaddr*>(&bound), &boundLength);
  state->port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  state->wakeFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state->wakeFd < 0) return failure("cannot create an eventfd for");

  State* raw = state.get();
  state->acceptor = std::thread([raw] { raw->acceptLoop(); });
  for (std::size_t i = 0; i < state->options.threads; ++i) {
    state->workers.emplace_back([raw] { raw->workerLoop(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(state_->wakeFd, &one, sizeof(one));
  state_->cv.notify_all();
  state_->acceptor.join();
  for (auto& worker : state_->workers) worker.join();
  for (int fd : state_->queued) ::close(fd);
  state_->queued.clear();
}

int HttpServer::port() const { return state_->port; }

}  // namespace endpointbinder::server
