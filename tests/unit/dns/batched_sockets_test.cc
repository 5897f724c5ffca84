// BatchedSockets against real loopback sockets: what c-ares writes is held until flush() and
// then sent in one call per socket, in order; what arrives is read a batch per call and
// handed over one datagram at a time with its sender; closing a socket forgets both; TCP (any
// socket not opened as UDP) passes straight through.
#include "controller/dns/batched_sockets.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace endpointbinder::dns {
namespace {

// A loopback UDP socket bound to a port chosen by the kernel.
struct Peer {
  int fd = -1;
  sockaddr_in address{};
  Peer() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  }
  ~Peer() { ::close(fd); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // The next datagram, waiting up to a second; empty when none came.
  std::string receive() const {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 1000) != 1) return {};
    char buffer[512];
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    return got > 0 ? std::string(buffer, static_cast<size_t>(got)) : std::string();
  }
  bool nothingWaiting() const {
    pollfd ready{fd, POLLIN, 0};
    return ::poll(&ready, 1, 50) == 0;
  }
};

class BatchedSocketsTest : public ::testing::Test {
 protected:
  // A UDP socket opened and connected to `address` through the functions, as c-ares does.
  int openConnected(const sockaddr_in& address) {
    const auto& functions = BatchedSockets::functions();
    const int fd = functions.asocket(AF_INET, SOCK_DGRAM, 0, &sockets_);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(functions.aconnect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address,
                                 &sockets_),
              0);
    return fd;
  }
  int openConnected(const Peer& peer) { return openConnected(peer.address); }
  ares_ssize_t send(int fd, const std::string& text) {
    // Two pieces, as c-ares may hand a datagram over: they make one datagram.
    const size_t half = text.size() / 2;
    iovec pieces[2] = {{const_cast<char*>(text.data()), half},
                       {const_cast<char*>(text.data()) + half, text.size() - half}};
    return BatchedSockets::functions().asendv(fd, pieces, 2, &sockets_);
  }
  ares_ssize_t receive(int fd, std::string& text, sockaddr_in* from = nullptr) {
    char buffer[BatchedSockets::kMaxDatagram];
    sockaddr_in sender{};
    ares_socklen_t length = sizeof sender;
    const ares_ssize_t got = BatchedSockets::functions().arecvfrom(
        fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&sender), &length, &sockets_);
    if (got >= 0) text.assign(buffer, static_cast<size_t>(got));
    if (from != nullptr) *from = sender;
    return got;
  }
  // `from` sends `text` to socket `fd` (to its own address: it is connected to `from`).
  static void deliver(const Peer& from, int fd, const std::string& text) {
    sockaddr_in local{};
    socklen_t length = sizeof local;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length), 0);
    ASSERT_EQ(::sendto(from.fd, text.data(), text.size(), 0,
                       reinterpret_cast<const sockaddr*>(&local), sizeof local),
              static_cast<ssize_t>(text.size()));
  }
  // Waits until the datagrams sent to `fd` (or the error they caused) have reached it: the
  // first makes it readable, and the pause covers the rest even when the machine is busy.
  static void waitReadable(int fd) {
    pollfd ready{fd, POLLIN, 0};
    ::poll(&ready, 1, 1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  BatchedSockets sockets_;
};

TEST_F(BatchedSocketsTest, WritesWaitForTheFlushAndGoInOneCallPerSocketInOrder) {
  Peer first;
  Peer second;
  const int a = openConnected(first);
  const int b = openConnected(second);
  EXPECT_EQ(send(a, "query-a1"), 8);
  EXPECT_EQ(send(b, "query-b1"), 8);
  EXPECT_EQ(send(a, "query-a2"), 8);
  EXPECT_EQ(sockets_.unsent(), 3u);
  EXPECT_TRUE(first.nothingWaiting());  // held until the flush

  sockets_.flush();
  EXPECT_EQ(sockets_.unsent(), 0u);
  EXPECT_EQ(first.receive(), "query-a1");
  EXPECT_EQ(first.receive(), "query-a2");
  EXPECT_EQ(second.receive(), "query-b1");
  const auto stats = sockets_.stats();
  EXPECT_EQ(stats.datagramsSent, 3u);
  EXPECT_EQ(stats.sendCalls, 2u);  // one per socket
  EXPECT_EQ(stats.sendsDropped, 0u);

  sockets_.flush();  // nothing more to send: no call
  EXPECT_EQ(sockets_.stats().sendCalls, 2u);
  BatchedSockets::functions().aclose(a, &sockets_);
  BatchedSockets::functions().aclose(b, &sockets_);
}

TEST_F(BatchedSocketsTest, AnswersAreReadABatchPerCallAndHandedOverOneByOneWithTheirSender) {
  Peer server;
  const int fd = openConnected(server);
  constexpr size_t kAnswers = BatchedSockets::kReceiveBatch + 2;
  for (size_t i = 0; i < kAnswers; ++i) deliver(server, fd, "answer-" + std::to_string(i));
  waitReadable(fd);

  for (size_t i = 0; i < kAnswers; ++i) {
    std::string text;
    sockaddr_in from{};
    ASSERT_GT(receive(fd, text, &from), 0) << i << ": errno " << errno;
    EXPECT_EQ(text, "answer-" + std::to_string(i));
    EXPECT_EQ(from.sin_port, server.address.sin_port);
    EXPECT_EQ(from.sin_addr.s_addr, server.address.sin_addr.s_addr);
    if (i == 0) {
      EXPECT_EQ(sockets_.buffered(fd), BatchedSockets::kReceiveBatch - 1);
    }
  }
  // A full batch, the two that were left, and the call that finds the socket drained.
  std::string text;
  EXPECT_EQ(receive(fd, text), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(sockets_.stats().receiveCalls, 3u);
  EXPECT_EQ(sockets_.stats().datagramsReceived, kAnswers);
  EXPECT_EQ(sockets_.bufferedSocket(), -1);
  BatchedSockets::functions().aclose(fd, &sockets_);
}

TEST_F(BatchedSocketsTest, ClosingASocketForgetsItsUnsentAndUnreadDatagrams) {
  Peer server;
  const int fd = openConnected(server);
  for (int i = 0; i < 3; ++i) deliver(server, fd, "x");
  waitReadable(fd);
  std::string text;
  ASSERT_EQ(receive(fd, text), 1);
  EXPECT_EQ(sockets_.buffered(fd), 2u);
  EXPECT_EQ(send(fd, "unsent"), 6);

  EXPECT_EQ(BatchedSockets::functions().aclose(fd, &sockets_), 0);
  EXPECT_EQ(sockets_.buffered(fd), 0u);
  EXPECT_EQ(sockets_.unsent(), 0u);
  sockets_.flush();
  EXPECT_EQ(sockets_.stats().sendCalls, 0u);
  EXPECT_TRUE(server.nothingWaiting());
}

TEST_F(BatchedSocketsTest, AnErrorLeftOnTheSocketReachesTheReader) {
  // A port nobody listens on: the kernel answers the datagram with ICMP port unreachable,
  // which the next read reports (c-ares then moves the queries to the next server).
  sockaddr_in nobody{};
  {
    Peer gone;  // a port that was just free
    nobody = gone.address;
  }
  const int fd = openConnected(nobody);
  EXPECT_EQ(send(fd, "query"), 5);
  sockets_.flush();
  waitReadable(fd);
  std::string text;
  EXPECT_EQ(receive(fd, text), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_TRUE(sockets_.socketsWithErrors().empty());
  BatchedSockets::functions().aclose(fd, &sockets_);
}

// The same error, when a send takes it from the kernel before any read (it came between the
// loop's read of the socket and its flush): the send's datagrams are dropped, and the error is
// kept for the socket's next read, as a send() of c-ares' own would have reported it.
TEST_F(BatchedSocketsTest, AnErrorTakenByASendIsKeptForTheNextRead) {
  sockaddr_in nobody{};
  {
    Peer gone;
    nobody = gone.address;
  }
  const int fd = openConnected(nobody);
  EXPECT_EQ(send(fd, "first"), 5);
  sockets_.flush();
  waitReadable(fd);  // the port-unreachable is now pending on the socket
  EXPECT_EQ(send(fd, "second"), 6);
  EXPECT_EQ(send(fd, "third"), 5);
  sockets_.flush();
  EXPECT_EQ(sockets_.socketsWithErrors(), std::vector<int>{fd});
  EXPECT_EQ(sockets_.stats().sendsDropped, 2u);
  std::string text;
  EXPECT_EQ(receive(fd, text), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_TRUE(sockets_.socketsWithErrors().empty());
  EXPECT_EQ(receive(fd, text), -1);  // reported once
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(BatchedSockets::functions().aclose(fd, &sockets_), 0);
}

TEST_F(BatchedSocketsTest, SocketsNotOpenedAsUdpPassStraightThrough) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  EXPECT_EQ(send(pair[0], "length-prefixed"), 15);
  EXPECT_EQ(sockets_.unsent(), 0u);  // written at once, not held
  char buffer[32];
  EXPECT_EQ(::recv(pair[1], buffer, sizeof buffer, MSG_DONTWAIT), 15);
  ASSERT_EQ(::send(pair[1], "reply", 5, 0), 5);
  char reply[8];
  EXPECT_EQ(BatchedSockets::functions().arecvfrom(pair[0], reply, sizeof reply, 0, nullptr, nullptr,
                                                  &sockets_),
            5);
  EXPECT_EQ(sockets_.stats().receiveCalls, 0u);
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace endpointbinder::dns
