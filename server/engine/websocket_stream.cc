// WebSocketStream and WebSocketSession implementation (see websocket_stream.h).
#include "server/engine/websocket_stream.h"

#include <algorithm>

#include "server/common/log.h"
#include "server/http/websocket_handshake.h"

namespace esg::engine {

// ------------------------------------------------------------------------------------------ stream

const Listener* WebSocketStream::listener() const { return connection_ ? connection_->listener() : nullptr; }

const PeerInfo* WebSocketStream::peer() const { return connection_ ? &connection_->peer() : nullptr; }

bool WebSocketStream::PopMessage(Message* out) {
  if (queue_.empty()) return false;
  *out = std::move(queue_.front());
  queue_.pop_front();
  // Reading may be paused by bytes or by the message count (--ws-max-queue): resume after either.
  bool was_full = queued_bytes_ > 0 || out->data.empty();
  queued_bytes_ -= out->data.size();
  if (was_full && connection_) connection_->ResumeReading();
  return true;
}

void WebSocketStream::PushMessage(Message message) {
  queued_bytes_ += message.data.size();
  queue_.push_back(std::move(message));
  Notify();
}

void WebSocketStream::Disconnected(int code, std::string_view reason) {
  if (disconnect_code_ == 0) {
    disconnect_code_ = code;
    disconnect_reason_ = std::string(reason);
  }
  Notify();
  if (observer_) observer_->OnWritable();  // a send() waiting for room learns of the end
}

void WebSocketStream::Writable() {
  if (observer_) observer_->OnWritable();
  // Last: it may read (and so close the connection); the connection and session outlive this call (the
  // server deletes closed connections after the event loop turn).
  if (connection_ && connection_->websocket()) connection_->websocket()->OnDrained();
}

void WebSocketStream::Detach(int code) {
  connection_ = nullptr;
  Disconnected(code, "");
}

WebSocketStream::SendResult WebSocketStream::Accept(std::string_view subprotocol,
                                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                                    std::string* error) {
  if (!connection_ || disconnect_code_) return SendResult::kClosed;
  std::string head;
  if (!http::BuildWebSocketAccept(key, subprotocol, deflate ? std::string_view(deflate->response) : std::string_view(),
                                  headers, connection_->defaults(), connection_->date(), &head, error)) {
    return SendResult::kError;
  }
  accepted_ = true;
  connection_->AcceptWebSocket(this, head);
  return connection_ ? SendResult::kOk : SendResult::kClosed;
}

WebSocketStream::SendResult WebSocketStream::Send(bool text, std::string_view data) {
  if (!connection_ || close_sent_ || !connection_->websocket()) return SendResult::kClosed;
  return connection_->websocket()->SendMessage(text, data);
}

WebSocketStream::SendResult WebSocketStream::Close(int code, std::string_view reason) {
  if (!connection_) return SendResult::kClosed;
  if (!accepted_) {
    rejected_ = true;
    connection_->RejectWebSocket(403);
    return SendResult::kOk;
  }
  if (close_sent_ || !connection_->websocket()) return SendResult::kOk;
  return connection_->websocket()->SendClose(code, reason);
}

void WebSocketStream::Fail() {
  if (!connection_ || rejected_) return;
  if (!accepted_) {
    rejected_ = true;
    connection_->RejectWebSocket(500);
    return;
  }
  if (!close_sent_ && connection_->websocket()) connection_->websocket()->SendClose(1011, "");
}

// ----------------------------------------------------------------------------------------- session

WebSocketSession::WebSocketSession(StreamConnection* connection, WsStreamPtr stream, const WebSocketLimits& limits,
                                   double now)
    : connection_(connection),
      stream_(std::move(stream)),
      limits_(limits),
      parser_(stream_->deflate.has_value(), limits.max_message) {
  if (stream_->deflate) deflate_ = std::make_unique<http::PerMessageDeflate>(*stream_->deflate);
  if (limits_.ping_interval > 0) next_ping_ = now + limits_.ping_interval;
}

size_t WebSocketSession::Feed(char* data, size_t len) {
  if (closing_) return len;
  size_t used = parser_.Feed(data, len, this);
  if (parser_.error_code() && !closing_) ProtocolError(parser_.error_code(), parser_.error_reason().c_str());
  return closing_ ? len : used;  // after a close, the rest is discarded
}

bool WebSocketSession::ProtocolError(int code, const char* reason) {
  log::Error().info("WebSocket {} closed with {}: {}", connection_->peer().client_text, code, reason);
  SendClose(code, "");
  stream_->Disconnected(code, reason);
  connection_->CloseAfterWrite();
  closing_ = true;
  message_ = std::string();  // give the memory back now
  return false;
}

bool WebSocketSession::OnMessageStart(bool text, bool compressed) {
  message_.clear();
  utf8_.Reset();
  message_text_ = text;
  message_compressed_ = compressed;
  if (compressed && !deflate_) return ProtocolError(1002, "compressed frame without permessage-deflate");
  return true;
}

// Inflates a piece of the current message into message_, within --ws-max-size, and checks the new text.
bool WebSocketSession::Inflate(std::string_view data, bool last) {
  size_t before = message_.size();
  switch (deflate_->Inflate(data, last, limits_.max_message, &message_)) {
    case http::PerMessageDeflate::InflateResult::kOk:
      break;
    case http::PerMessageDeflate::InflateResult::kTooBig:
      return ProtocolError(1009, "message too big");
    case http::PerMessageDeflate::InflateResult::kCorrupt:
      return ProtocolError(1007, "invalid compressed data");
  }
  if (message_text_ && !utf8_.Feed(std::string_view(message_).substr(before))) {
    return ProtocolError(1007, "text message is not UTF-8");
  }
  return true;
}

bool WebSocketSession::OnMessageData(std::string_view data) {
  if (message_compressed_) return Inflate(data, /*last=*/false);
  // The parser keeps the message within --ws-max-size (it refuses a frame header that would pass it).
  message_.append(data.data(), data.size());
  if (message_text_ && !utf8_.Feed(data)) return ProtocolError(1007, "text message is not UTF-8");
  return true;
}

bool WebSocketSession::OnMessageEnd() {
  if (message_compressed_ && !Inflate({}, /*last=*/true)) return false;
  if (message_text_ && !utf8_.Complete()) return ProtocolError(1007, "text message is not UTF-8");
  WebSocketStream::Message m;
  m.text = message_text_;
  m.data.swap(message_);
  stream_->PushMessage(std::move(m));
  return true;
}

bool WebSocketSession::OnControl(http::WsOpcode opcode, std::string_view payload) {
  using http::WsOpcode;
  switch (opcode) {
    case WsOpcode::kPing:
      if (stream_->close_sent_) return true;
      if (output_blocked_) {
        // The client does not read what we send: hold one pong back, the newest (RFC 6455 §5.5.3 lets a
        // pong answer only the most recent ping), rather than queue one per ping.
        pending_pong_.assign(payload.data(), payload.size());
        pong_pending_ = true;
        return true;
      }
      SendFrame(WsOpcode::kPong, payload);
      return true;
    case WsOpcode::kPong:
      pong_deadline_ = 0;
      return true;
    case WsOpcode::kClose: {
      int code = 1005;
      std::string_view reason;
      if (payload.size() == 1) return ProtocolError(1002, "one-byte close payload");
      if (payload.size() >= 2) {
        code = (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
        reason = payload.substr(2);
        if (!http::ValidCloseCode(code)) return ProtocolError(1002, "invalid close code");
        if (!http::ValidUtf8(reason)) return ProtocolError(1007, "close reason is not UTF-8");
      }
      // Echo the close (RFC 6455 §5.5.1), tell the app, and close the TCP connection first (§7.1.1).
      if (!stream_->close_sent_) SendClose(code == 1005 ? 1000 : code, "");
      stream_->Disconnected(code, reason);
      connection_->CloseAfterWrite();
      closing_ = true;
      message_ = std::string();
      return false;
    }
    default:
      return true;  // the parser passes control opcodes only
  }
}

void WebSocketSession::OnDrained() {
  if (closing_) return;
  output_blocked_ = false;
  if (pong_pending_ && !stream_->close_sent_) {
    pong_pending_ = false;
    SendFrame(http::WsOpcode::kPong, pending_pong_);
  }
  pending_pong_.clear();
  if (!output_blocked_) connection_->ResumeReading();
}

WebSocketSession::SendResult WebSocketSession::Track(SendResult result) {
  if (result == SendResult::kWait) output_blocked_ = true;
  return result;
}

WebSocketSession::SendResult WebSocketSession::SendFrame(http::WsOpcode opcode, std::string_view payload) {
  uint8_t header[10];
  size_t n = http::EncodeFrameHeader(opcode, false, payload.size(), header);
  struct iovec iov[2] = {{header, n}, {const_cast<char*>(payload.data()), payload.size()}};
  return Track(connection_->Write(iov, payload.empty() ? 1 : 2, n + payload.size()));
}

WebSocketSession::SendResult WebSocketSession::SendMessage(bool text, std::string_view data) {
  http::WsOpcode opcode = text ? http::WsOpcode::kText : http::WsOpcode::kBinary;
  bool compress = deflate_ && data.size() >= limits_.compress_threshold;
  if (compress && deflate_->Compress(data, &scratch_)) data = scratch_;
  else compress = false;
  uint8_t header[10];
  size_t n = http::EncodeFrameHeader(opcode, compress, data.size(), header);
  struct iovec iov[2] = {{header, n}, {const_cast<char*>(data.data()), data.size()}};
  return Track(connection_->Write(iov, data.empty() ? 1 : 2, n + data.size()));
}

WebSocketSession::SendResult WebSocketSession::SendClose(int code, std::string_view reason) {
  stream_->close_sent_ = true;
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xff));
  payload.push_back(static_cast<char>(code & 0xff));
  // At most 123 bytes of reason (a control frame holds 125), cut at a character boundary so it stays UTF-8.
  size_t keep = std::min<size_t>(reason.size(), 123);
  if (keep < reason.size()) {
    while (keep > 0 && (static_cast<uint8_t>(reason[keep]) & 0xc0) == 0x80) --keep;
  }
  payload.append(reason.substr(0, keep));
  close_deadline_ = 1;  // armed by the next Tick
  return SendFrame(http::WsOpcode::kClose, payload);
}

void WebSocketSession::Tick(double now) {
  if (closing_) return;
  if (stream_->close_sent_) {
    // We closed: the client has a few seconds to answer before the TCP connection goes.
    if (close_deadline_ == 1) close_deadline_ = now + 5;
    if (now >= close_deadline_) {
      stream_->Disconnected(1006, "");
      closing_ = true;
      connection_->Close();
    }
    return;
  }
  if (pong_deadline_ > 0 && now >= pong_deadline_) {
    ProtocolError(1011, "keepalive ping timeout");
    return;
  }
  if (next_ping_ > 0 && now >= next_ping_) {
    SendFrame(http::WsOpcode::kPing, "esg");
    next_ping_ = now + limits_.ping_interval;
    if (limits_.ping_timeout > 0 && pong_deadline_ == 0) pong_deadline_ = now + limits_.ping_timeout;
  }
}

}  // namespace esg::engine
