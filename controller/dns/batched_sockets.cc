#include "controller/dns/batched_sockets.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace endpointbinder::dns {
namespace {

// sendmmsg() takes at most UIO_MAXIOV (1024) messages; a pass of the loop writes far fewer.
constexpr size_t kSendChunk = 256;

BatchedSockets& self(void* data) { return *static_cast<BatchedSockets*>(data); }

}  // namespace

BatchedSockets::BatchedSockets() : receiveBuffers_(kReceiveBatch) {
  for (size_t i = 0; i < kReceiveBatch; ++i) {
    receiveVectors_[i] = iovec{receiveBuffers_[i].data(), kMaxDatagram};
  }
}

const ares_socket_functions& BatchedSockets::functions() {
  static const ares_socket_functions kFunctions{
      &BatchedSockets::openSocket, &BatchedSockets::closeSocket, &BatchedSockets::connectSocket,
      &BatchedSockets::receiveFrom, &BatchedSockets::sendVector};
  return kFunctions;
}

ares_socket_t BatchedSockets::openSocket(int domain, int type, int protocol, void* data) {
  // Non-blocking from the start: c-ares sets it too, but the batching below must never block.
  const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return ARES_SOCKET_BAD;
  if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_DGRAM) self(data).udp_.push_back(fd);
  return fd;
}

int BatchedSockets::closeSocket(ares_socket_t fd, void* data) {
  BatchedSockets& sockets = self(data);
  // The descriptor's number may come back for another socket: nothing of this one may stay.
  std::erase(sockets.udp_, fd);
  std::erase_if(sockets.outgoing_, [fd](const Outgoing& datagram) { return datagram.fd == fd; });
  if (sockets.receivedFd_ == fd) sockets.forgetReceived();
  if (auto error = sockets.errorOf(fd); error != sockets.errors_.end())
    sockets.errors_.erase(error);
  return ::close(fd);
}

int BatchedSockets::connectSocket(ares_socket_t fd, const sockaddr* address, ares_socklen_t length,
                                  void* /*data*/) {
  return ::connect(fd, address, length);
}

bool BatchedSockets::isUdp(int fd) const {
  return std::find(udp_.begin(), udp_.end(), fd) != udp_.end();
}

std::vector<std::pair<int, int>>::iterator BatchedSockets::errorOf(int fd) {
  return std::find_if(errors_.begin(), errors_.end(),
                      [fd](const auto& entry) { return entry.first == fd; });
}

void BatchedSockets::forgetReceived() {
  receivedFd_ = -1;
  receivedCount_ = receivedNext_ = 0;
}

ares_ssize_t BatchedSockets::sendVector(ares_socket_t fd, const iovec* vector, int count,
                                        void* data) {
  BatchedSockets& sockets = self(data);
  if (!sockets.isUdp(fd)) {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(vector);
    message.msg_iovlen = static_cast<size_t>(count);
    return ::sendmsg(fd, &message, MSG_NOSIGNAL);
  }
  const size_t offset = sockets.outgoingBytes_.size();
  for (int i = 0; i < count; ++i) {
    const auto* bytes = static_cast<const unsigned char*>(vector[i].iov_base);
    sockets.outgoingBytes_.insert(sockets.outgoingBytes_.end(), bytes, bytes + vector[i].iov_len);
  }
  const size_t length = sockets.outgoingBytes_.size() - offset;
  sockets.outgoing_.push_back(Outgoing{fd, offset, length});
  return static_cast<ares_ssize_t>(length);
}

void BatchedSockets::flush() {
  // Socket by socket, in the order each first appears (there are a few), order kept within.
  for (size_t first = 0; first < outgoing_.size(); ++first) {
    const int fd = outgoing_[first].fd;
    if (fd < 0) continue;  // sent with an earlier socket's
    sameSocket_.clear();
    for (size_t i = first; i < outgoing_.size(); ++i) {
      if (outgoing_[i].fd != fd) continue;
      sameSocket_.push_back(outgoing_[i]);
      outgoing_[i].fd = -1;
    }
    sendAll(fd);
  }
  outgoing_.clear();
  outgoingBytes_.clear();  // keeps its capacity: no allocation in the next passes
}

void BatchedSockets::sendAll(int fd) {
  const size_t total = sameSocket_.size();
  size_t next = 0;
  while (next < total) {
    const size_t chunk = std::min(total - next, kSendChunk);
    sendHeaders_.assign(chunk, mmsghdr{});
    sendVectors_.resize(chunk);
    for (size_t i = 0; i < chunk; ++i) {
      const Outgoing& datagram = sameSocket_[next + i];
      sendVectors_[i] = iovec{outgoingBytes_.data() + datagram.offset, datagram.length};
      sendHeaders_[i].msg_hdr.msg_iov = &sendVectors_[i];
      sendHeaders_[i].msg_hdr.msg_iovlen = 1;
    }
    sendCalls_.fetch_add(1, std::memory_order_relaxed);
    const int sent =
        ::sendmmsg(fd, sendHeaders_.data(), static_cast<unsigned int>(chunk), MSG_NOSIGNAL);
    if (sent < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
        // No room: this one is lost, as on the wire (c-ares asks again at its timeout).
        sendsDropped_.fetch_add(1, std::memory_order_relaxed);
        ++next;
        continue;
      }
      // An error left on the socket (ICMP port-unreachable for an earlier datagram), taken by
      // this send: kept for the socket's next read, where c-ares learns of it and moves the
      // server's queries (these included) to the next server.
      if (errorOf(fd) == errors_.end()) errors_.emplace_back(fd, error);
      sendsDropped_.fetch_add(total - next, std::memory_order_relaxed);
      return;
    }
    datagramsSent_.fetch_add(static_cast<uint64_t>(sent), std::memory_order_relaxed);
    next += static_cast<size_t>(sent);
  }
}

ares_ssize_t BatchedSockets::receiveFrom(ares_socket_t fd, void* buffer, size_t length, int flags,
                                         sockaddr* from, ares_socklen_t* fromLength, void* data) {
  BatchedSockets& sockets = self(data);
  if (!sockets.isUdp(fd)) return ::recvfrom(fd, buffer, length, flags, from, fromLength);
  return sockets.receiveDatagram(fd, buffer, length, from, fromLength);
}

ares_ssize_t BatchedSockets::receiveDatagram(int fd, void* buffer, size_t length, sockaddr* from,
                                             ares_socklen_t* fromLength) {
  if (auto error = errorOf(fd); error != errors_.end()) {
    errno = error->second;
    errors_.erase(error);
    return -1;
  }
  if (receivedFd_ != fd) {
    if (receivedFd_ >= 0) {
      // Another socket's datagrams are waiting (the loop hands them over before it reads
      // another socket, so this does not happen): read this one without batching.
      return ::recvfrom(fd, buffer, length, 0, from, fromLength);
    }
    for (size_t i = 0; i < kReceiveBatch; ++i) {
      receiveHeaders_[i] = mmsghdr{};
      receiveHeaders_[i].msg_hdr.msg_name = &receiveFrom_[i];
      receiveHeaders_[i].msg_hdr.msg_namelen = sizeof receiveFrom_[i];
      receiveHeaders_[i].msg_hdr.msg_iov = &receiveVectors_[i];
      receiveHeaders_[i].msg_hdr.msg_iovlen = 1;
    }
    int got = 0;
    do {
      receiveCalls_.fetch_add(1, std::memory_order_relaxed);
      got = ::recvmmsg(fd, receiveHeaders_.data(), kReceiveBatch, MSG_DONTWAIT, nullptr);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      if (got == 0) errno = EAGAIN;
      return -1;  // errno as recvmmsg left it: EAGAIN, or ECONNREFUSED and the like for c-ares
    }
    datagramsReceived_.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
    receivedFd_ = fd;
    receivedCount_ = static_cast<size_t>(got);
    receivedNext_ = 0;
  }
  const size_t index = receivedNext_++;
  const mmsghdr& header = receiveHeaders_[index];
  const size_t size = std::min<size_t>(header.msg_len, length);
  std::memcpy(buffer, receiveBuffers_[index].data(), size);
  if (from != nullptr && fromLength != nullptr) {
    const socklen_t known = header.msg_hdr.msg_namelen;
    std::memcpy(from, &receiveFrom_[index], std::min<socklen_t>(known, *fromLength));
    *fromLength = known;
  }
  if (receivedNext_ == receivedCount_) forgetReceived();
  return static_cast<ares_ssize_t>(size);
}

size_t BatchedSockets::buffered(int fd) const {
  return receivedFd_ == fd ? receivedCount_ - receivedNext_ : 0;
}

void BatchedSockets::discardBuffered() {
  receivesDropped_.fetch_add(receivedCount_ - receivedNext_, std::memory_order_relaxed);
  forgetReceived();
}

std::vector<int> BatchedSockets::socketsWithErrors() const {
  std::vector<int> fds;
  for (const auto& [fd, error] : errors_) fds.push_back(fd);
  return fds;
}

BatchedSockets::Stats BatchedSockets::stats() const {
  return Stats{datagramsSent_.load(std::memory_order_relaxed),
               sendCalls_.load(std::memory_order_relaxed),
               sendsDropped_.load(std::memory_order_relaxed),
               datagramsReceived_.load(std::memory_order_relaxed),
               receiveCalls_.load(std::memory_order_relaxed),
               receivesDropped_.load(std::memory_order_relaxed)};
}

}  // namespace endpointbinder::dns
