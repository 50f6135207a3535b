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
  // TLS only, once secure(): the handshake selected ALPN "h2" (offered only with --http2).
  virtual bool h2_selected() const { return false; }
  // TLS only: a protocol step can need the other direction. True when the last Read() stopped because
  // the socket would not take the transport's own bytes (retry Read on EPOLLOUT), or the last Writev()
  // needs the peer's bytes first (retry Writev on EPOLLIN). Always false for plain sockets.
  virtual bool read_wants_writable() const { return false; }
  virtual bool write_wants_readable() const { return false; }
  // Called before the descriptor is closed; only the first call counts. `graceful`: end the session
  // cleanly if the protocol has a way (TLS close_notify, best effort, never blocks); false for an
  // aborted response, which must not look complete to the peer.
  virtual void Shutdown(bool graceful) { (void)graceful; }
};

// Plain TCP or UNIX-socket transport over a non-blocking descriptor (not owned).
std::unique_ptr<Transport> MakePlainTransport(int fd);

}  // namespace esg::engine
