// Transport: how a connection moves bytes — plain socket calls, or TLS (tls_transport.h) on top of them.
// The connection only sees read(2)/writev(2)-like results: > 0 bytes, 0 for end of stream, -1 with
// errno (EAGAIN: nothing now, wait for the next epoll edge).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <memory>

namespace esg::engine {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual ssize_t Read(char* buffer, size_t length) = 0;
  virtual ssize_t Writev(const struct iovec* iov, int count) = 0;
  // True once the transport may carry application data (a TLS handshake is complete).
  virtual bool secure() const { return false; }
};

// Plain TCP or UNIX-socket transport over a non-blocking descriptor (not owned).
std::unique_ptr<Transport> MakePlainTransport(int fd);

}  // namespace esg::engine
