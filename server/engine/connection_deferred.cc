// Connection: response chunks deferred to the end of the loop turn (WriteSoon, FlushDeferred; see
// deferred_flush.h for why). The rest of the write path is connection.cc's Write and Flush.
#include "server/engine/connection.h"

namespace esg::engine {
namespace {

// Larger chunks are written from the app's bytes at once rather than copied into the queue first.
constexpr size_t kMaxDeferred = ConnectionHost::kBufferSize;

}  // namespace

SendResult Connection::WriteSoon(const struct iovec* iov, int count, size_t total) {
  if (closed()) return SendResult::kClosed;
  if (!flush_listed_) {
    // Only onto an empty queue: queued bytes already wait for EPOLLOUT, and Write appends behind them.
    if (!out_.empty() || total > kMaxDeferred || h2_ || !host_->DeferFlush(this)) return Write(iov, count, total);
    flush_listed_ = true;
    // Queued bytes are under the send deadline (CheckDeadline) from now, as a stalled Write's are: the
    // timer may be handled before the flush, and the last write may be long ago.
    last_write_ = Now();
  }
  // Listed: behind the deferred bytes, whatever the size (order is kept; the flush is due this turn).
  if (out_sent_ > 0) {
    out_.erase(0, out_sent_);
    out_sent_ = 0;
  }
  for (int i = 0; i < count; ++i) out_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  if (OutputOverMark()) {
    waiting_writable_ = true;
    return SendResult::kWait;
  }
  return SendResult::kOk;
}

void Connection::FlushDeferred() {
  flush_listed_ = false;
  if (!closed()) Flush();
}

}  // namespace esg::engine
