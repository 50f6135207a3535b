// TLS transport implementation (see tls_transport.h for the contract and the socket-BIO choice).
#include "server/engine/tls_transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "server/common/log.h"

namespace esg::engine {
namespace {

// One TLS record's worth of plaintext: the unit small iovecs are gathered into.
constexpr size_t kRecordSize = 16 * 1024;

class TlsTransport final : public Transport {
 public:
  TlsTransport(std::shared_ptr<TlsContext> context, int fd) : context_(std::move(context)) {
    ssl_ = SSL_new(context_->get());
    if (ssl_ != nullptr && SSL_set_fd(ssl_, fd) != 1) {
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (ssl_ != nullptr) SSL_set_accept_state(ssl_);
  }

  ~TlsTransport() override {
    // Never writes here: the descriptor may already be closed (and its number reused).
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  ssize_t Read(char* buffer, size_t length) override;
  ssize_t Writev(const struct iovec* iov, int count) override;
  bool secure() const override { return ssl_ != nullptr && SSL_is_init_finished(ssl_); }
  bool h2_selected() const override {
    if (!secure()) return false;
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &protocol, &length);
    return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
  }
  bool read_wants_writable() const override { return read_wants_write_; }
  bool write_wants_readable() const override { return write_wants_read_; }
  void Shutdown(bool graceful) override;

 private:
  // Maps an SSL_read/SSL_write failure to errno; returns the SSL_get_error code.
  int Fail(int ret);
  void LogHandshakeFailure();

  std::shared_ptr<TlsContext> context_;  // keeps the SSL_CTX alive as long as the session
  SSL* ssl_ = nullptr;
  bool fatal_ = false;           // a fatal TLS/socket error: no close_notify, every later call fails
  bool peer_closed_ = false;     // close_notify or end of stream seen
  bool shut_down_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  int pending_errno_ = 0;        // an error seen after some bytes were returned: reported by the next call
};

// Shared by every connection of the thread (a per-connection 16 KiB would weigh on idle connections). Safe:
// it only has to hold the bytes during one SSL_write; a record OpenSSL could not send yet is kept
// encrypted in its own buffer, and the retry passes the bytes again (ACCEPT_MOVING_WRITE_BUFFER).
thread_local char gather_[kRecordSize];

int TlsTransport::Fail(int ret) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      break;
    case SSL_ERROR_ZERO_RETURN:
      peer_closed_ = true;
      break;
    case SSL_ERROR_SYSCALL:
      // errno is the socket's (ECONNRESET, EPIPE); 0 means an end of stream OpenSSL did not expect.
      fatal_ = true;
      if (errno == 0) errno = ECONNRESET;
      break;
    default:
      // SSL_ERROR_SSL: a handshake failure (no shared version/cipher, client certificate refused) or a
      // corrupt record. OpenSSL has already sent the alert.
      fatal_ = true;
      LogHandshakeFailure();
      errno = EPROTO;
      break;
  }
  ERR_clear_error();
  return err;
}

void TlsTransport::LogHandshakeFailure() {
  // Debug only: scanners and clients that distrust the certificate make these routine.
  unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  log::Error().debug("TLS {} failed: {}", SSL_is_init_finished(ssl_) ? "session" : "handshake",
                     reason ? reason : "unknown error");
}

ssize_t TlsTransport::Read(char* buffer, size_t length) {
  read_wants_write_ = false;
  if (ssl_ == nullptr) {
    errno = ENOMEM;
    return -1;
  }
  if (pending_errno_ != 0) {
    errno = pending_errno_;
    return -1;
  }
  if (peer_closed_) return 0;
  if (fatal_) {
    errno = EPROTO;
    return -1;
  }
  size_t total = 0;
  while (total < length) {
    int want = static_cast<int>(std::min<size_t>(length - total, INT_MAX));
    ERR_clear_error();
    int n = SSL_read(ssl_, buffer + total, want);
    if (n > 0) {
      total += static_cast<size_t>(n);
      continue;
    }
    int err = Fail(n);
    if (err == SSL_ERROR_WANT_WRITE) read_wants_write_ = true;
    if (total > 0) {
      // Hand over what was decrypted; an error is reported by the next call, an end of stream too.
      if (fatal_) pending_errno_ = errno;
      return static_cast<ssize_t>(total);
    }
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    return -1;
  }
  return static_cast<ssize_t>(total);
}

ssize_t TlsTransport::Writev(const struct iovec* iov, int count) {
  write_wants_read_ = false;
  if (ssl_ == nullptr) {
    errno = ENOMEM;
    return -1;
  }
  if (fatal_) {
    errno = EPIPE;
    return -1;
  }
  size_t total = 0;
  int index = 0;
  size_t offset = 0;  // into iov[index]
  for (;;) {
    while (index < count && offset == iov[index].iov_len) {
      ++index;
      offset = 0;
    }
    if (index == count) break;
    const char* data = static_cast<const char*>(iov[index].iov_base) + offset;
    size_t len = iov[index].iov_len - offset;
    if (len < kRecordSize && index + 1 < count) {
      // Gather this and the following iovecs into one record (head + small body: one record, one write).
      size_t filled = 0;
      for (int i = index; i < count && filled < kRecordSize; ++i) {
        const char* base = static_cast<const char*>(iov[i].iov_base) + (i == index ? offset : 0);
        size_t take = std::min(iov[i].iov_len - (i == index ? offset : 0), kRecordSize - filled);
        std::memcpy(gather_ + filled, base, take);
        filled += take;
      }
      data = gather_;
      len = filled;
    }
    ERR_clear_error();
    int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(len, INT_MAX)));
    if (n <= 0) {
      int err = Fail(n);
      if (err == SSL_ERROR_WANT_READ) write_wants_read_ = true;
      if (err == SSL_ERROR_ZERO_RETURN) {
        fatal_ = true;
        errno = EPIPE;
      }
      if (total > 0) return static_cast<ssize_t>(total);  // the next call reports the error again
      return -1;
    }
    // Advance over n plaintext bytes, possibly across several gathered iovecs.
    total += static_cast<size_t>(n);
    size_t skip = static_cast<size_t>(n);
    while (skip > 0) {
      size_t rest = iov[index].iov_len - offset;
      if (skip < rest) {
        offset += skip;
        skip = 0;
      } else {
        skip -= rest;
        ++index;
        offset = 0;
      }
    }
  }
  return static_cast<ssize_t>(total);
}

void TlsTransport::Shutdown(bool graceful) {
  if (shut_down_) return;
  shut_down_ = true;
  if (!graceful || ssl_ == nullptr || fatal_ || !SSL_is_init_finished(ssl_)) return;
  // One call sends our close_notify; we do not wait for the peer's (the descriptor closes next).
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace

std::unique_ptr<Transport> MakeTlsTransport(std::shared_ptr<TlsContext> context, int fd) {
  return std::make_unique<TlsTransport>(std::move(context), fd);
}

}  // namespace esg::engine
