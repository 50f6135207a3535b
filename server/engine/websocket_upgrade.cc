// The WebSocket side of Connection: the opening handshake, the switch to frames, and the end of a
// WebSocket. The handshake checks themselves are pure functions in server/http/websocket_handshake.h; the
// frames are WebSocketSession's (websocket_stream.h). Apart from the few calls into these members,
// connection.cc knows HTTP/1 only (h2o keeps lib/websocket.c apart from lib/http1.c the same way).
#include <sys/uio.h>

#include "server/common/log.h"
#include "server/engine/connection.h"
#include "server/http/websocket_handshake.h"

namespace esg::engine {

// A valid RFC 6455 opening handshake becomes a WebSocketStream for the app; a broken one is answered
// here (400, or 426 naming the version we speak). Returns false for upgrades that are not WebSocket.
bool Connection::StartWebSocket(http::RequestHead& head) {
  using Verdict = http::WebSocketHandshake::Verdict;
  http::WebSocketHandshake handshake = http::CheckWebSocketHandshake(head);
  switch (handshake.verdict) {
    case Verdict::kNotWebSocket:
      return false;
    case Verdict::kBadVersion: {
      reject_status_ = -1;  // answered below; ParseBuffered must not dispatch anything else
      struct iovec iov = {const_cast<char*>(http::kWebSocketUpgradeRequired.data()),
                          http::kWebSocketUpgradeRequired.size()};
      SetCloseAfterWrite();
      Write(&iov, 1, iov.iov_len);
      RecordResponse(counters_, &mark_, 426);
      // Written at once: close now (lingering), as the answer says; otherwise Flush closes after the write.
      if (!closed() && out_.empty()) CloseGracefully();
      return true;
    }
    case Verdict::kBadKey:
      reject_status_ = 400;
      return true;
    case Verdict::kValid:
      break;
  }
  auto stream = std::make_shared<WebSocketStream>(this);
  stream->key = std::string(handshake.key);
  stream->http_minor = head.version_minor;
  stream->target = head.target;
  if (config_.ws_per_message_deflate && !handshake.extensions.empty()) {
    stream->deflate = http::NegotiateDeflate(handshake.extensions);
  }
  ws_stream_ = stream;
  host_->WebSocketOpened();
  channel_->OnWebSocket(stream, head);
  return true;
}

void Connection::AcceptWebSocket(WebSocketStream* stream, const std::string& response_head) {
  if (closed() || ws_stream_.get() != stream) return;
  struct iovec iov = {const_cast<char*>(response_head.data()), response_head.size()};
  if (Write(&iov, 1, iov.iov_len) == SendResult::kClosed) return;
  RecordResponse(counters_, &mark_, 101);
  if (log::AccessEnabled()) {
    log::Access().info("{} - \"WebSocket {}\" [accepted]", peer_.client_text, log::Escape(stream->target));
  }
  ws_ = std::make_unique<WebSocketSession>(this, ws_stream_, config_.ws, Now());
  deadline_ = 0;
  // Frames the client sent right after its handshake are already buffered.
  request_ = Request::kReceiving;
  ParseBuffered();
  DoRead();
}

void Connection::RejectWebSocket(int status) {
  if (closed()) return;
  if (log::AccessEnabled()) {
    log::Access().info("{} - \"WebSocket {}\" {}", peer_.client_text,
                       log::Escape(ws_stream_ ? ws_stream_->target : std::string()), status);
  }
  std::string response = http::SimpleResponse(status, status == 403 ? "Forbidden" : "Internal Server Error",
                                              config_.defaults, host_->Date());
  struct iovec iov = {response.data(), response.size()};
  SetCloseAfterWrite();
  Write(&iov, 1, response.size());
  RecordResponse(counters_, &mark_, status);
  EndWebSocket(1006);
  if (!closed() && out_.empty()) CloseGracefully();
}

void Connection::CloseAfterWrite() {
  SetCloseAfterWrite();
  if (out_.empty() && !closed()) CloseGracefully();
}

void Connection::EndWebSocket(int code) {
  if (!ws_stream_) return;
  WsStreamPtr s = std::move(ws_stream_);
  s->Detach(code);
  host_->WebSocketClosed();
}

void Connection::CloseWebSocket(int code) {
  if (closed() || !ws_stream_) return;
  if (ws_) {
    if (!ws_stream_->close_sent()) ws_->SendClose(code, "");
  } else if (!ws_stream_->accepted()) {
    RejectWebSocket(503);
  }
}

}  // namespace esg::engine
