// HttpServer over real sockets on loopback, driven byte by byte: the limits it exists for (head
// and body sizes, slow clients, malformed requests) and the routing contract it gives the
// health and metrics servers.
#include "controller/server/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace endpointbinder::server {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct RawReply {
  int status = 0;
  std::string head;
  std::string body;
  bool closed = false;  // the server closed the connection after answering
};

// Sends `request` (as is) and reads until the server closes the connection or 10 s pass.
RawReply exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  RawReply reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return reply;
  }
  // The server may answer (and stop reading) before all of a large request is sent.
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT | POLLIN, 0};
      ::poll(&p, 1, 100);
      if (p.revents & POLLIN) break;  // an answer already: stop sending
      continue;
    }
    break;
  }
  std::string data;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      reply.closed = true;
      break;
    }
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto end = data.find("\r\n\r\n");
  reply.head = data.substr(0, end);
  if (end != std::string::npos) reply.body = data.substr(end + 4);
  if (data.starts_with("HTTP/1.1 ")) reply.status = std::stoi(data.substr(9, 3));
  return reply;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.address = "127.0.0.1:0";
    options.maxHeadBytes = 1024;
    options.maxBodyBytes = 2048;
    options.readTimeout = 500ms;
    auto server = HttpServer::start(options, [this](const HttpRequestHead& request) {
      std::lock_guard lock(mu_);
      seen_.push_back(request);
      HttpResponse response;
      response.body = "hello " + request.method + " " + request.path + " ?" + request.query;
      return response;
    });
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
  }

  std::size_t handled() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

  std::mutex mu_;
  std::vector<HttpRequestHead> seen_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, AnswersAndClosesTheConnection) {
  auto reply = exchange(server_->port(), "GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello GET /a b/c ?x=1&y=%20");
  EXPECT_THAT(reply.head, HasSubstr("Content-Length: 27\r\n"));
  EXPECT_THAT(reply.head, HasSubstr("Connection: close"));
  EXPECT_TRUE(reply.closed);

  auto head = exchange(server_->port(), "HEAD / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_THAT(head.head, HasSubstr("Content-Length: 14\r\n"));
}

TEST_F(HttpServerTest, AHeadOverTheLimitIs431) {
  // One big header, and many small ones: both exceed 1 KiB.
  auto big =
      exchange(server_->port(), "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.status, 431);
  EXPECT_THAT(big.body, HasSubstr("larger than 1024 bytes"));
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 150; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(exchange(server_->port(), many + "\r\n").status, 431);
  // A head that never ends is cut off at the limit, not buffered.
  EXPECT_EQ(exchange(server_->port(), "GET / HTTP/1.1\r\nX: " + std::string(200'000, 'a')).status,
            431);
  // A request line alone can be too long too.
  EXPECT_EQ(
      exchange(server_->port(), "GET /" + std::string(5000, 'p') + " HTTP/1.1\r\n\r\n").status,
      431);
  EXPECT_EQ(handled(), 0u);
  // Just under the limit is fine.
  EXPECT_EQ(exchange(server_->port(), "GET / HTTP/1.1\r\nX: " + std::string(900, 'a') + "\r\n\r\n")
                .status,
            200);
}

TEST_F(HttpServerTest, ABodyOverTheLimitIs413WithoutReadingIt) {
  auto declared = exchange(server_->port(), "POST / HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n" +
                                                std::string(4096, 'b'));
  EXPECT_EQ(declared.status, 413);
  EXPECT_THAT(declared.body, HasSubstr("larger than 2048 bytes"));
  auto chunked =
      exchange(server_->port(),
               "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 411);
  EXPECT_EQ(handled(), 0u);
  // A small body is read, dropped, and the request answered.
  auto small = exchange(server_->port(), "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(small.status, 200);
  EXPECT_EQ(small.body, "hello POST /p ?");
}

TEST_F(HttpServerTest, MalformedSlowAndUnsupportedRequests) {
  EXPECT_EQ(exchange(server_->port(), "garbage\r\n\r\n").status, 400);
  EXPECT_EQ(exchange(server_->port(), "GET / HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
  EXPECT_EQ(exchange(server_->port(), "GET http://x/ HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(exchange(server_->port(), "GET /%zz HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(exchange(server_->port(), "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").status, 400);
  EXPECT_EQ(exchange(server_->port(), "GET / HTTP/2.0\r\n\r\n").status, 505);
  // Half a head, then silence: 408 after the read timeout (500 ms here).
  auto slow = exchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(slow.status, 408);
  EXPECT_EQ(handled(), 0u);
}

TEST(HttpServerStartTest, UsesTheErrorRendererAndReportsBindFailures) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.maxHeadBytes = 64;
  auto server = HttpServer::start(
      options, [](const HttpRequestHead&) { return HttpResponse{}; },
      [](int status, std::string_view message) {
        HttpResponse response;
        response.contentType = "application/json";
        response.body = "{\"code\":" + std::to_string(status) + ",\"message\":\"" +
                        std::string(message) + "\"}";
        return response;
      });
  ASSERT_TRUE(server) << server.error().message;
  auto reply = exchange((*server)->port(), "GET / HTTP/1.1\r\nX: " + std::string(100, 'a'));
  EXPECT_EQ(reply.status, 431);
  EXPECT_THAT(reply.head, HasSubstr("Content-Type: application/json"));
  EXPECT_EQ(reply.body,
            "{\"code\":431,\"message\":\"the request line and headers are larger "
            "than 64 bytes\"}");

  options.address = "127.0.0.1:" + std::to_string((*server)->port());
  auto busy = HttpServer::start(options, [](const HttpRequestHead&) { return HttpResponse{}; });
  ASSERT_FALSE(busy);
  EXPECT_THAT(busy.error().message, HasSubstr("cannot bind " + options.address));
  for (const char* bad : {"127.0.0.1", "example.com:80", "127.0.0.1:70000", "[::1:80"}) {
    options.address = bad;
    auto refused =
        HttpServer::start(options, [](const HttpRequestHead&) { return HttpResponse{}; });
    EXPECT_FALSE(refused) << bad;
  }
}

TEST(HttpServerStartTest, StopsPromptlyWithAClientHoldingAConnection) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.readTimeout = 60s;
  auto server = HttpServer::start(options, [](const HttpRequestHead&) { return HttpResponse{}; });
  ASSERT_TRUE(server);
  // A client that connects and sends half a request, then nothing.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>((*server)->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_GT(::send(fd, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 0);
  std::this_thread::sleep_for(50ms);  // let a worker pick it up (the test holds either way)
  const auto start = std::chrono::steady_clock::now();
  server->reset();
  // Far below the 60 s read timeout: the stop interrupted the read.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  ::close(fd);
}

}  // namespace
}  // namespace endpointbinder::server
