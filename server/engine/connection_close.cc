// The end of a connection: its deadlines (request head and body, send, keep-alive, lingering), the
// drain of a stopping worker, an abort (reset), a close, and the lingering close after an error response
// or a WebSocket close. The rest of Connection is in connection.cc (HTTP/1) and websocket_upgrade.cc.
#include <sys/socket.h>
#include <unistd.h>

#include "server/common/log.h"
#include "server/engine/connection.h"
#include "server/engine/http2_link.h"

namespace esg::engine {

void Connection::CloseAtEof() {
  SetCloseAfterWrite();
  if (out_.empty()) Close();
}

void Connection::Abort() {
  if (stream_) {
    host_->RequestFinished();
    stream_->Detach();
    stream_.reset();
  }
  // RST rather than FIN, so a client cannot take a cut-short body for a complete one.
  struct linger lg = {1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  transport_->Shutdown(/*graceful=*/false);  // TLS: no close_notify after a cut-short response
  Close();
}

void Connection::Close() {
  if (closed()) return;
  if (h2_ && draining_ && phase_ == Phase::kOpen) {
    // The worker stops before the final GOAWAY was due: the peer still learns the last stream id processed
    // (best effort, one write), so it knows which streams to retry elsewhere.
    h2_->FinalGoaway();
    if (closed()) return;  // the write failed, or the session ended and the connection closed with it
  }
  phase_ = Phase::kClosed;
  deferred_head_ = nullptr;
  if (h2_) h2_->Closing();  // every stream ends: the apps see http.disconnect
  if (stream_) {
    host_->RequestFinished();
    StreamPtr s = std::move(stream_);
    s->Detach();
  }
  EndWebSocket(1006);
  ResponseFlushed(counters_, &mark_);  // a response still queued ends here (its client is gone or done)
  transport_->Shutdown(/*graceful=*/out_.empty());  // TLS: close_notify, unless response bytes are lost
  host_->reactor().Remove(fd_);
  close(fd_);
  fd_ = -1;
  if (buffer_ && !parsing_) {  // while parsing, Feed() still reads it: the destructor releases it
    host_->ReleaseBuffer(buffer_);
    buffer_ = nullptr;
  }
  host_->Retire(this);
}

// Everything is written: close without losing it. Closing a socket with unread input makes the kernel
// send a reset, which can destroy the response before the client reads it (a pipelined request after an
// error, a WebSocket client still sending). So: end our side, read and drop what still comes, and close
// at the peer's end or after kLingerSeconds — nginx's lingering close.
void Connection::CloseGracefully() {
  if (phase_ >= Phase::kLingering) return;
  if (eof_) {
    Close();
    return;
  }
  if (stream_) {
    host_->RequestFinished();
    StreamPtr s = std::move(stream_);
    s->Detach();
  }
  if (h2_) h2_->Closing();
  EndWebSocket(1006);
  transport_->Shutdown(/*graceful=*/true);
  ::shutdown(fd_, SHUT_WR);
  phase_ = Phase::kLingering;
  deadline_ = Now() + kLingerSeconds;
  readable_ = true;
  DoRead();
}

void Connection::CheckDeadline(double now) {
  if (ws_ && phase_ < Phase::kLingering) ws_->Tick(now);
  if (closed()) return;
  if (h2_ && phase_ < Phase::kLingering) {
    h2_->CheckDeadline(now);
    return;
  }
  const EngineConfig& config = config_;
  if (out_sent_ < out_.size() && now - last_write_ > config.timeout_send) {
    // The client takes none of the response: it cannot be finished, so the connection goes.
    log::Error().info("Closing {}: no response bytes taken for {}s (--timeout-send)", peer_.client_text,
                      config.timeout_send);
    Abort();
    return;
  }
  if (stream_ && request_deadline_ != 0 && now >= request_deadline_) {
    TimeOutRequest();
    return;
  }
  if (stream_ && !stream_->body_complete() && stream_->body_wanted() && now - last_read_ > config.timeout_request_body) {
    log::Error().info("Closing {}: request body stalled for {}s (--timeout-request-body)", peer_.client_text,
                      config.timeout_request_body);
    if (stream_->response_started()) {
      Abort();
    } else {
      FailRequest(408, "Request body timeout");
    }
    return;
  }
  // While response bytes wait for the client, the send deadline above is the one that applies.
  if (closed() || deadline_ == 0 || now < deadline_ || unsent() > 0) return;
  if (lingering()) {
    Close();
    return;
  }
  if (parser_->MidMessage() && !stream_) {
    FailRequest(408, "Request header timeout");
    return;
  }
  if (!stream_) Close();
}

void Connection::BeginDrain(bool keep_idle) {
  draining_ = true;
  if (h2_) {
    // GOAWAY: the peer opens no new stream and retries elsewhere; the open ones finish, then it closes.
    if (phase_ == Phase::kOpen) h2_->BeginDrain();
    return;
  }
  if (keep_idle) return;
  // WebSockets stay open until CloseWebSocket (the end of the grace period). A connection that has not
  // sent its first request yet is not idle: a proxy has a request on its way (it is answered with
  // Connection: close); closing it would make the proxy see a reset.
  if (!stream_ && !ws_stream_ && out_.empty() && requests_ > 0) Close();
}

}  // namespace esg::engine
