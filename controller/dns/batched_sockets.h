// BatchedSockets: the socket calls of c-ares (ares_set_socket_functions) for the DNS event
// loop, so that UDP datagrams cross the kernel in batches: every query c-ares writes during
// one pass of the loop is sent by flush(), one sendmmsg() per socket, and the answers queued
// on a socket are read by one recvmmsg() and handed to c-ares one by one.
//
// Why: at 1,000 names and a 5 s TTL the loop sends ~190 queries a second, and each send()
// and recvfrom() was a system call of its own: send() alone was 6 % of the controller's CPU
// samples (bench/README.md), on virtual machines where entering the kernel costs more than the
// few hundred bytes it moves. The loop already wakes once for the answers that arrive
// together (AresResolverOptions::batchPause); this makes that one wake-up a few calls.
//
// Semantics c-ares relies on are kept: a send returns the datagram's length (UDP writes are
// whole or nothing); a read returns one datagram and its sender, or -1 with errno (EAGAIN when
// the socket is drained, ECONNREFUSED after an ICMP port-unreachable). A datagram the kernel
// refuses for want of room (EAGAIN, ENOBUFS) is dropped like one lost on the wire: c-ares asks
// again at its timeout. Any other error at flush() is an error left on the socket (a
// port-unreachable for an earlier datagram) that the send consumed: the socket's unsent
// datagrams are dropped and the error is kept for its next read (socketsWithErrors()), which
// the loop makes at once, so c-ares moves that server's queries on as when its own send()
// failed. TCP sockets (c-ares' retry of a truncated answer) pass straight through, unbatched.
//
// Datagrams read but not handed over yet belong to one socket (bufferedSocket()); poll()
// does not know of them, so the loop hands them to c-ares before it sleeps.
//
// Loop thread only (no locking); stats() may be read from any thread.
#pragma once

#include <ares.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace endpointbinder::dns {

class BatchedSockets {
 public:
  // Datagrams one recvmmsg() reads at most (c-ares reads again until the socket is drained).
  static constexpr size_t kReceiveBatch = 8;
  // c-ares reads into a buffer of MAXENDSSZ + 1 bytes.
  static constexpr size_t kMaxDatagram = 4096 + 1;

  BatchedSockets();
  BatchedSockets(const BatchedSockets&) = delete;
  BatchedSockets& operator=(const BatchedSockets&) = delete;

  // For ares_set_socket_functions(channel, &BatchedSockets::functions(), this).
  static const ares_socket_functions& functions();

  // Sends the datagrams written since the last flush, in order within each socket. The loop
  // calls it before it sleeps.
  void flush();
  // Datagrams read from `fd` and not handed to c-ares yet.
  size_t buffered(int fd) const;
  // The socket whose datagrams are buffered, or -1.
  int bufferedSocket() const { return receivedFd_; }
  // Drops the buffered datagrams (counted in receivesDropped).
  void discardBuffered();
  // Sockets with an error that flush() took from the kernel and their next read reports.
  std::vector<int> socketsWithErrors() const;
  // Datagrams written and not flushed yet.
  size_t unsent() const { return outgoing_.size(); }

  struct Stats {
    uint64_t datagramsSent = 0;
    uint64_t sendCalls = 0;  // sendmmsg() calls
    uint64_t sendsDropped = 0;
    uint64_t datagramsReceived = 0;
    uint64_t receiveCalls = 0;  // recvmmsg() calls, including the one that finds none
    uint64_t receivesDropped = 0;
  };
  Stats stats() const;

 private:
  static ares_socket_t openSocket(int domain, int type, int protocol, void* self);
  static int closeSocket(ares_socket_t fd, void* self);
  static int connectSocket(ares_socket_t fd, const sockaddr* address, ares_socklen_t length,
                           void* self);
  static ares_ssize_t receiveFrom(ares_socket_t fd, void* buffer, size_t length, int flags,
                                  sockaddr* from, ares_socklen_t* fromLength, void* self);
  static ares_ssize_t sendVector(ares_socket_t fd, const iovec* vector, int count, void* self);

  bool isUdp(int fd) const;
  // The error kept for `fd` (errors_), or errors_.end().
  std::vector<std::pair<int, int>>::iterator errorOf(int fd);
  // Forgets the last batch's datagrams not handed over yet.
  void forgetReceived();
  ares_ssize_t receiveDatagram(int fd, void* buffer, size_t length, sockaddr* from,
                               ares_socklen_t* fromLength);
  // Sends sameSocket_'s datagrams on `fd`.
  void sendAll(int fd);

  std::vector<int> udp_;  // UDP sockets open (one per server per channel: a few)

  // Written, not flushed: each datagram's bytes are outgoingBytes_[offset, offset + length).
  struct Outgoing {
    int fd;
    size_t offset;
    size_t length;
  };
  std::vector<Outgoing> outgoing_;
  std::vector<unsigned char> outgoingBytes_;
  std::vector<Outgoing> sameSocket_;  // flush()'s scratch, kept for its capacity
  std::vector<mmsghdr> sendHeaders_;
  std::vector<iovec> sendVectors_;

  // The last recvmmsg()'s datagrams, of socket receivedFd_; [receivedNext_, receivedCount_)
  // are not handed over yet.
  int receivedFd_ = -1;
  size_t receivedCount_ = 0;
  size_t receivedNext_ = 0;
  // (fd, errno): errors flush() took from the kernel, for the socket's next read.
  std::vector<std::pair<int, int>> errors_;
  std::vector<std::array<unsigned char, kMaxDatagram>> receiveBuffers_;
  std::array<sockaddr_storage, kReceiveBatch> receiveFrom_{};
  std::array<iovec, kReceiveBatch> receiveVectors_{};
  std::array<mmsghdr, kReceiveBatch> receiveHeaders_{};

  std::atomic<uint64_t> datagramsSent_{0};
  std::atomic<uint64_t> sendCalls_{0};
  std::atomic<uint64_t> sendsDropped_{0};
  std::atomic<uint64_t> datagramsReceived_{0};
  std::atomic<uint64_t> receiveCalls_{0};
  std::atomic<uint64_t> receivesDropped_{0};
};

}  // namespace endpointbinder::dns
