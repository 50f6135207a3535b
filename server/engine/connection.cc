// Connection implementation: read → parse → dispatch → writev, one request at a time per connection.
#include "server/engine/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/common/log.h"
#include "server/engine/server.h"

namespace esg::engine {

Connection::Connection(Server* server, int fd, const Listener* listener, PeerInfo peer)
    : server_(server), fd_(fd), listener_(listener), peer_(std::move(peer)) {
  parser_ = http::MakeRequestParser(server_->config().limits, this);
  transport_ = listener_->make_transport ? listener_->make_transport(fd_) : MakePlainTransport(fd_);
}

Connection::~Connection() {
  if (buffer_) server_->ReleaseBuffer(buffer_);
  if (fd_ >= 0) close(fd_);
}

void Connection::Start() {
  deadline_ = Server::Now() + server_->config().timeout_request_header;
  if (!server_->reactor().Add(fd_, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, this)) {
    log::Error().error("cannot watch a new connection: {}", strerror(errno));
    Close();
    return;
  }
  // The request often arrives with the handshake: read now instead of waiting for the edge.
  readable_ = true;
  DoRead();
}

void Connection::OnEvents(uint32_t events) {
  if (closed_) return;
  if (events & (EPOLLERR | EPOLLHUP)) {
    // Still try to read what is buffered (a full close after a pipelined request, for example).
    readable_ = true;
  }
  if (events & EPOLLOUT) {
    Flush();
    if (closed_) return;
    // TLS: a handshake step inside Read() may have been waiting for the socket to take its bytes.
    if (transport_->read_wants_writable()) {
      readable_ = true;
      DoRead();
      if (closed_) return;
    }
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
    readable_ = true;
    // TLS: a write may have been waiting for the peer's bytes (not expected: renegotiation is off).
    if (transport_->write_wants_readable()) {
      Flush();
      if (closed_) return;
    }
    DoRead();
  }
}

bool Connection::ReadPaused() const {
  if (stream_ && stream_->buffered_body() > server_->config().read_high_water) return true;
  if (ws_stream_ && ws_stream_->queued_bytes() > server_->config().read_high_water) return true;
  // A WebSocket client that does not read what we send (pongs, echoes) is not read either, until the
  // output drains (WebSocketSession::OnDrained resumes); --timeout-send ends it if it never does.
  if (ws_ && ws_->output_blocked()) return true;
  return buffer_ && buffer_start_ + buffer_len_ == Server::kBufferSize && paused_;
}

bool Connection::OutputOverMark() const { return unsent() > server_->config().write_high_water; }

void Connection::DoRead() {
  // The app may take body bytes (and so resume reading) from inside this loop's parse step: the loop
  // itself re-checks, so a nested call only has to return.
  if (reading_) return;
  reading_ = true;
  ReadLoop();
  reading_ = false;
}

void Connection::ReadLoop() {
  if (lingering_) {
    char scratch[4096];
    for (;;) {
      ssize_t n = transport_->Read(scratch, sizeof scratch);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        readable_ = false;
        return;
      }
      Close();  // the peer's end (or an error): done
      return;
    }
  }
  while (readable_ && !closed_ && !eof_) {
    if (ReadPaused()) return;
    if (!buffer_) {
      buffer_ = server_->AcquireBuffer();
      buffer_start_ = buffer_len_ = 0;
    }
    if (buffer_start_ > 0 && buffer_start_ + buffer_len_ == Server::kBufferSize) {
      memmove(buffer_, buffer_ + buffer_start_, buffer_len_);
      buffer_start_ = 0;
    }
    size_t room = Server::kBufferSize - buffer_start_ - buffer_len_;
    if (room == 0) return;  // a full buffer waits for the parser to resume
    ssize_t n = transport_->Read(buffer_ + buffer_start_ + buffer_len_, room);
    if (n > 0) {
      last_read_ = Server::Now();
      buffer_len_ += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < room) readable_ = false;  // drained (edge-triggered: a new edge comes)
      ParseBuffered();
      continue;
    }
    if (n == 0) {
      eof_ = true;
      readable_ = false;
      if (ws_stream_) {
        EndWebSocket(1006);  // gone without a close frame
        Close();
        return;
      }
      if (parser_->MidMessage() && !stream_) {
        // The client gave up in the middle of a request head: nothing more to answer.
        CloseAtEof();
        return;
      }
      if (stream_ && stream_->body_complete()) {
        // The request is whole: the app learns of the close through receive() (http.disconnect), and a
        // response it still sends is written if the socket takes it (a client may only have half-closed).
        stream_->peer_closed_ = true;
        stream_->Notify();
        return;
      }
      if (!stream_) {
        // Requests pipelined before the end (buffered unparsed, or waiting for output to drain) are
        // still answered, and what is queued is still sent: a client may only have half-closed.
        if (buffer_len_ == 0 || close_after_write_) CloseAtEof();
        return;
      }
      Close();  // a request body cut short
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readable_ = false;
      if (buffer_len_ == 0) ReleaseBuffer();
      return;
    }
    Close();
    return;
  }
}

void Connection::ParseBuffered() {
  // An app that answers inside OnRequestHead (eager start) completes its response (or accepts its
  // WebSocket) from within Feed(): the loop below then goes on by itself, never a nested call.
  if (parsing_) return;
  if (ws_) {
    size_t used = ws_->Feed(buffer_ + buffer_start_, buffer_len_);
    buffer_start_ += used;
    buffer_len_ -= used;
    if (buffer_len_ == 0) ReleaseBuffer();
    return;
  }
  parsing_ = true;
  while (buffer_len_ > 0 && !closed_) {
    if (paused_) {
      if (stream_ || ws_stream_ || !response_done_) break;  // the current request is still being answered
      if (OutputOverMark()) {
        output_blocked_ = true;  // flow control: the next request waits for Flush()
        break;
      }
      paused_ = false;
      response_done_ = false;
      parser_->Resume();
    }
    size_t consumed = 0;
    http::ParseResult r = parser_->Feed(buffer_ + buffer_start_, buffer_len_, &consumed);
    buffer_start_ += consumed;
    buffer_len_ -= consumed;
    if (reject_status_ > 0) {
      FailRequest(reject_status_, reject_status_ == 503 ? "Service Unavailable" : "Invalid WebSocket handshake");
      break;
    }
    if (reject_status_ < 0) break;  // already answered; the connection closes after the write
    if (r == http::ParseResult::kPaused) {
      paused_ = true;
      if (discarding_) FinishDiscard();
    } else if (r == http::ParseResult::kError) {
      const http::ParseError& e = parser_->error();
      FailRequest(e.status, e.reason);
      break;
    }
    StartDeferred();  // the body bytes read so far are parsed: a partial body streams from here
  }
  parsing_ = false;
  if (closed_) return;
  if (ws_) {
    // Accepted while its handshake was being parsed: what follows the handshake is frames.
    if (buffer_len_ > 0) ParseBuffered();
    return;
  }
  if (paused_ && response_done_ && !stream_ && !ws_stream_ && OutputOverMark()) {
    output_blocked_ = true;  // flow control: the next request waits for Flush()
  } else if (paused_ && response_done_ && !stream_ && !ws_stream_) {
    // The response ended while this message was still being parsed: go on with the next request.
    paused_ = false;
    response_done_ = false;
    parser_->Resume();
    if (buffer_len_ > 0) {
      ParseBuffered();
      return;
    }
  }
  if (buffer_len_ == 0) {
    buffer_start_ = 0;
    if (!paused_ || !stream_) ReleaseBuffer();
    // The peer closed and everything it sent is parsed: nothing more to answer.
    if (eof_ && !stream_ && !ws_stream_) CloseAtEof();
  }
}

void Connection::CloseAtEof() {
  close_after_write_ = true;
  if (out_.empty()) Close();
}

// The app answered before the request body was all in: the rest of the body is read and dropped so the
// connection can carry the next request (within the request-head deadline), as nginx does.
void Connection::FinishDiscard() {
  discarding_ = false;
  deadline_ = Server::Now() + server_->config().timeout_keep_alive;
}

void Connection::ReleaseBuffer() {
  if (buffer_ && buffer_len_ == 0) {
    server_->ReleaseBuffer(buffer_);
    buffer_ = nullptr;
    buffer_start_ = 0;
  }
}

void Connection::OnRequestHead(http::RequestHead& head) {
  deadline_ = 0;  // the app decides how long a request takes
  ++requests_;
  size_t limit = server_->config().limit_concurrency;
  if (limit > 0 && server_->active_requests() >= limit) {
    // Over --limit-concurrency: answered at once, never queued (ParseBuffered sends it).
    reject_status_ = 503;
    return;
  }
  if (head.upgrade && server_->config().websocket && StartWebSocket(head)) return;
  auto stream = std::make_shared<HttpStream>(this);
  stream->method = head.method;
  stream->target = head.target;
  stream->http_minor = head.version_minor;
  stream->head_request = std::string_view(head.method) == "HEAD";
  stream->keep_alive = head.keep_alive && !draining_;
  stream->expect_continue = head.expect_continue && head.has_body();
  stream->content_length = head.chunked ? -1 : head.content_length;
  if (!head.has_body()) stream->body_complete_ = true;
  stream_ = stream;
  server_->RequestStarted();
  if (head.has_body() && !stream->expect_continue) {
    // The app starts once the body bytes already read are parsed (at the end of this Feed, or at the
    // message end): a small body that came with its head is then whole at the first receive(), and the
    // request runs to its end in one step, without a Task or a future.
    deferred_head_ = &head;
    return;
  }
  server_->channel()->OnRequest(stream, head);
}

void Connection::StartDeferred() {
  http::RequestHead* head = std::exchange(deferred_head_, nullptr);
  if (!head || !stream_ || closed_) return;
  StreamPtr stream = stream_;  // the app may finish (and drop stream_) inside OnRequest
  server_->channel()->OnRequest(stream, *head);
}

void Connection::OnRequestBody(std::string_view chunk) {
  if (stream_) stream_->PushBody(chunk);
}

void Connection::OnRequestComplete() {
  if (stream_ && !stream_->body_complete()) stream_->EndBody();
  StartDeferred();
}

void Connection::FailRequest(int status, const std::string& reason) {
  if (status == 503) {
    log::Error().warn("Exceeded concurrency limit: 503 for {}", peer_.client_text);
  } else {
    log::Error().warn("Invalid HTTP request from {}: {}", peer_.client_text, log::Escape(reason));
  }
  deferred_head_ = nullptr;  // a request whose app never started: answered here
  if (stream_ && stream_->response_started()) {
    Abort();
    return;
  }
  if (stream_) {
    stream_->Detach();
    stream_.reset();
    server_->RequestFinished();
  }
  std::string response = http::SimpleResponse(status, reason, server_->config().defaults, server_->Date());
  struct iovec iov = {response.data(), response.size()};
  close_after_write_ = true;
  Write(&iov, 1, response.size());
  if (!closed_ && out_.empty()) CloseGracefully();
}

HttpStream::SendResult Connection::Write(const struct iovec* iov, int count, size_t total) {
  if (closed_) return HttpStream::SendResult::kClosed;
  size_t written = 0;
  if (out_.empty()) {
    for (;;) {
      ssize_t n = transport_->Writev(iov, count);
      if (n >= 0) {
        written = static_cast<size_t>(n);
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close();
      return HttpStream::SendResult::kClosed;
    }
  }
  if (written < total) {
    if (out_.empty()) {
      last_write_ = Server::Now();  // the send deadline counts from the first stall
    } else if (out_sent_ > 0) {
      // Drop what is already sent, so a response streamed to a slow reader keeps out_ within the mark
      // plus one message (moves at most that much, and only while the client is behind).
      out_.erase(0, out_sent_);
      out_sent_ = 0;
    }
    // Keep what the socket did not take; EPOLLOUT (edge) will flush it.
    size_t skip = written;
    for (int i = 0; i < count; ++i) {
      size_t len = iov[i].iov_len;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      out_.append(static_cast<const char*>(iov[i].iov_base) + skip, len - skip);
      skip = 0;
    }
  }
  if (out_.size() - out_sent_ > server_->config().write_high_water) {
    waiting_writable_ = true;
    return HttpStream::SendResult::kWait;
  }
  return HttpStream::SendResult::kOk;
}

void Connection::Flush() {
  // Most calls come from an EPOLLOUT flag reported with EPOLLIN while nothing is queued.
  if (out_.empty() && !output_blocked_ && !close_after_write_) return;
  bool had_output = !out_.empty();
  while (out_sent_ < out_.size()) {
    struct iovec iov = {out_.data() + out_sent_, out_.size() - out_sent_};
    ssize_t n = transport_->Writev(&iov, 1);
    if (n > 0) {
      out_sent_ += static_cast<size_t>(n);
      last_write_ = Server::Now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Close();
    return;
  }
  if (out_sent_ == out_.size()) {
    // A large response leaves a large string: give it back rather than keep it per idle connection.
    if (out_.capacity() > 4 * Server::kBufferSize) {
      std::string().swap(out_);
    } else {
      out_.clear();
    }
    out_sent_ = 0;
    if (close_after_write_) {
      CloseGracefully();
      return;
    }
    // The keep-alive deadline counts from the end of the last response's write, as nginx's does.
    if (had_output && deadline_ != 0 && !stream_ && !ws_stream_) {
      deadline_ = std::max(deadline_, Server::Now() + server_->config().timeout_keep_alive);
    }
  }
  size_t low_water = server_->config().write_high_water / 2;
  if (waiting_writable_ && unsent() <= low_water) {
    waiting_writable_ = false;
    if (stream_ && stream_->observer_) stream_->observer_->OnWritable();
    if (ws_stream_) ws_stream_->Writable();
  }
  if (output_blocked_ && unsent() <= low_water && !closed_) {
    output_blocked_ = false;
    ResumeAfterResponse();
  }
}

void Connection::BodyWanted() {
  double now = Server::Now();
  if (last_read_ < now) last_read_ = now;
}

const http::DefaultHeaders& Connection::defaults() const { return server_->config().defaults; }

std::string_view Connection::date() { return server_->Date(); }

void Connection::SendContinue() {
  static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  struct iovec iov = {const_cast<char*>(kContinue), sizeof kContinue - 1};
  Write(&iov, 1, iov.iov_len);
}

void Connection::ResponseComplete(HttpStream* stream) {
  if (log::AccessEnabled()) {
    log::Access().info("{} - \"{} {} HTTP/1.{}\" {}", peer_.client_text, log::Escape(stream->method),
                       log::Escape(stream->target), stream->http_minor, stream->response().status());
  }
  server_->RequestFinished();
  // After the peer's end, requests it pipelined before it are still answered; then the connection closes.
  bool keep = stream->response().keep_alive() && !draining_ && (!eof_ || buffer_len_ > 0);
  bool body_pending = !stream->body_complete();
  // A client waiting for "100 Continue" may never send the body, and a large unread body is not worth
  // reading just to throw it away: close instead.
  if (body_pending && (stream->expect_continue || stream->body_remaining() > kMaxDiscard)) keep = false;
  if (stream_.get() == stream) {
    stream_->Detach();
    stream_.reset();
  }
  if (!keep) {
    close_after_write_ = true;
    if (out_.empty()) CloseGracefully();
    return;
  }
  response_done_ = true;
  if (body_pending) {
    discarding_ = true;
    deadline_ = Server::Now() + server_->config().timeout_request_header;
  } else {
    deadline_ = Server::Now() + server_->config().timeout_keep_alive;
  }
  if (parsing_) return;  // ParseBuffered's loop resumes the parser
  if (!paused_) {
    // Still inside the message (its body is being discarded): keep reading it.
    DoRead();
    return;
  }
  ResumeAfterResponse();
}

void Connection::ResumeAfterResponse() {
  ParseBuffered();
  if (!closed_ && !stream_ && !ws_stream_) {
    if (buffer_len_ > 0) deadline_ = Server::Now() + server_->config().timeout_request_header;
    DoRead();
  }
}

void Connection::Abort() {
  if (stream_) {
    server_->RequestFinished();
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
  if (closed_) return;
  closed_ = true;
  deferred_head_ = nullptr;
  if (stream_) {
    server_->RequestFinished();
    StreamPtr s = std::move(stream_);
    s->Detach();
  }
  EndWebSocket(1006);
  transport_->Shutdown(/*graceful=*/out_.empty());  // TLS: close_notify, unless response bytes are lost
  server_->reactor().Remove(fd_);
  close(fd_);
  fd_ = -1;
  if (buffer_ && !parsing_) {  // while parsing, Feed() still reads it: the destructor releases it
    server_->ReleaseBuffer(buffer_);
    buffer_ = nullptr;
  }
  server_->Retire(this);
}

void Connection::CheckDeadline(double now) {
  if (ws_ && !closed_ && !lingering_) ws_->Tick(now);
  if (closed_) return;
  const EngineConfig& config = server_->config();
  if (out_sent_ < out_.size() && now - last_write_ > config.timeout_send) {
    // The client takes none of the response: it cannot be finished, so the connection goes.
    log::Error().info("Closing {}: no response bytes taken for {}s (--timeout-send)", peer_.client_text,
                      config.timeout_send);
    Abort();
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
  if (closed_ || deadline_ == 0 || now < deadline_ || unsent() > 0) return;
  if (lingering_) {
    Close();
    return;
  }
  if (parser_->MidMessage() && !stream_) {
    FailRequest(408, "Request header timeout");
    return;
  }
  if (!stream_) Close();
}

void Connection::BeginDrain() {
  draining_ = true;
  // WebSockets stay open until CloseWebSocket (the end of the grace period). A connection that has not
  // sent its first request yet is not idle: a proxy has a request on its way (it is answered with
  // Connection: close); closing it would make the proxy see a reset.
  if (!stream_ && !ws_stream_ && out_.empty() && requests_ > 0) Close();
}

void Connection::CloseWebSocket(int code) {
  if (closed_ || !ws_stream_) return;
  if (ws_) {
    if (!ws_stream_->close_sent()) ws_->SendClose(code, "");
  } else if (!ws_stream_->accepted()) {
    RejectWebSocket(503);
  }
}

}  // namespace esg::engine

namespace esg::engine {

// A valid RFC 6455 opening handshake becomes a WebSocketStream for the app; a broken one is answered
// here (400, or 426 naming the version we speak). Returns false for upgrades that are not WebSocket.
bool Connection::StartWebSocket(http::RequestHead& head) {
  std::string_view upgrade, key, version, extensions;
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::Header& h = head.headers[i];
    if (std::string_view(h.name) == "upgrade") upgrade = h.value;
    else if (std::string_view(h.name) == "sec-websocket-key") key = h.value;
    else if (std::string_view(h.name) == "sec-websocket-version") version = h.value;
    else if (std::string_view(h.name) == "sec-websocket-extensions") extensions = h.value;
  }
  bool is_websocket = upgrade.size() == 9 && (upgrade[0] | 0x20) == 'w' &&
                      std::equal(upgrade.begin(), upgrade.end(), "websocket",
                                 [](char a, char b) { return (a | 0x20) == b; });
  if (!is_websocket || std::string_view(head.method) != "GET") return false;
  if (version != "13") {
    static const char kUpgradeRequired[] =
        "HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    reject_status_ = -1;  // answered below; ParseBuffered must not dispatch anything else
    struct iovec iov = {const_cast<char*>(kUpgradeRequired), sizeof kUpgradeRequired - 1};
    close_after_write_ = true;
    Write(&iov, 1, iov.iov_len);
    // Written at once: close now (lingering), as the answer says; otherwise Flush closes after the write.
    if (!closed_ && out_.empty()) CloseGracefully();
    return true;
  }
  if (!http::ValidWebSocketKey(key)) {
    reject_status_ = 400;
    return true;
  }
  auto stream = std::make_shared<WebSocketStream>(this);
  stream->key = std::string(key);
  stream->http_minor = head.version_minor;
  stream->target = head.target;
  if (server_->config().ws_per_message_deflate && !extensions.empty()) {
    stream->deflate = http::NegotiateDeflate(extensions);
  }
  ws_stream_ = stream;
  server_->WebSocketOpened();
  server_->channel()->OnWebSocket(stream, head);
  return true;
}

void Connection::AcceptWebSocket(WebSocketStream* stream, const std::string& response_head) {
  if (closed_ || ws_stream_.get() != stream) return;
  struct iovec iov = {const_cast<char*>(response_head.data()), response_head.size()};
  if (Write(&iov, 1, iov.iov_len) == HttpStream::SendResult::kClosed) return;
  if (log::AccessEnabled()) {
    log::Access().info("{} - \"WebSocket {}\" [accepted]", peer_.client_text, log::Escape(stream->target));
  }
  ws_ = std::make_unique<WebSocketSession>(this, ws_stream_, server_->config().ws, Server::Now());
  deadline_ = 0;
  // Frames the client sent right after its handshake are already buffered.
  paused_ = false;
  ParseBuffered();
  DoRead();
}

void Connection::RejectWebSocket(int status) {
  if (closed_) return;
  if (log::AccessEnabled()) {
    log::Access().info("{} - \"WebSocket {}\" {}", peer_.client_text,
                       log::Escape(ws_stream_ ? ws_stream_->target : std::string()), status);
  }
  std::string response = http::SimpleResponse(status, status == 403 ? "Forbidden" : "Internal Server Error",
                                              server_->config().defaults, server_->Date());
  struct iovec iov = {response.data(), response.size()};
  close_after_write_ = true;
  Write(&iov, 1, response.size());
  EndWebSocket(1006);
  if (!closed_ && out_.empty()) CloseGracefully();
}

void Connection::CloseAfterWrite() {
  close_after_write_ = true;
  if (out_.empty() && !closed_) CloseGracefully();
}

// Everything is written: close without losing it. Closing a socket with unread input makes the kernel
// send a reset, which can destroy the response before the client reads it (a pipelined request after an
// error, a WebSocket client still sending). So: end our side, read and drop what still comes, and close
// at the peer's end or after kLingerSeconds — nginx's lingering close.
void Connection::CloseGracefully() {
  if (closed_ || lingering_) return;
  if (eof_) {
    Close();
    return;
  }
  if (stream_) {
    server_->RequestFinished();
    StreamPtr s = std::move(stream_);
    s->Detach();
  }
  EndWebSocket(1006);
  transport_->Shutdown(/*graceful=*/true);
  ::shutdown(fd_, SHUT_WR);
  lingering_ = true;
  deadline_ = Server::Now() + kLingerSeconds;
  readable_ = true;
  DoRead();
}

void Connection::EndWebSocket(int code) {
  if (!ws_stream_) return;
  WsStreamPtr s = std::move(ws_stream_);
  s->Detach(code);
  server_->WebSocketClosed();
}

}  // namespace esg::engine
