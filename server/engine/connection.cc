// Connection implementation: read → parse → dispatch → writev, one request at a time per connection.
// Its end (deadlines, lingering close) is in connection_close.cc, its WebSocket side in websocket_upgrade.cc.
#include "server/engine/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/common/log.h"
#include "server/engine/access_log.h"
#include "server/engine/http2_link.h"

namespace esg::engine {

Connection::Connection(ConnectionHost* host, int fd, const Listener* listener, PeerInfo peer,
                       std::unique_ptr<Transport> transport)
    : host_(host),
      config_(host->config()),
      channel_(host->channel()),
      clock_(&host->clock()),
      fd_(fd),
      listener_(listener),
      peer_(std::move(peer)),
      parser_(http::MakeRequestParser(config_.limits, this)),
      transport_(std::move(transport)),
      counters_(host->request_counters()) {}

Connection::~Connection() {
  if (buffer_) host_->ReleaseBuffer(buffer_);
  if (fd_ >= 0) close(fd_);
}

void Connection::Start() {
  deadline_ = Now() + config_.timeout_request_header;
  if (!host_->reactor().Add(fd_, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, this)) {
    log::Error().error("cannot watch a new connection: {}", strerror(errno));
    Close();
    return;
  }
  // The request often arrives with the handshake: read now instead of waiting for the edge.
  readable_ = true;
  DoRead();
}

void Connection::OnEvents(uint32_t events) {
  if (closed()) return;
  if (h2_) h2_->ReleaseClosed();
  if (events & (EPOLLERR | EPOLLHUP)) {
    // Still try to read what is buffered (a full close after a pipelined request, for example).
    readable_ = true;
  }
  if (events & EPOLLOUT) {
    Flush();
    if (closed()) return;
    // TLS: a handshake step inside Read() may have been waiting for the socket to take its bytes.
    if (transport_->read_wants_writable()) {
      readable_ = true;
      DoRead();
      if (closed()) return;
    }
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
    readable_ = true;
    // TLS: a write may have been waiting for the peer's bytes (not expected: renegotiation is off).
    if (transport_->write_wants_readable()) {
      Flush();
      if (closed()) return;
    }
    DoRead();
  }
}

bool Connection::WsQueueFull() const {
  return ws_stream_ && (ws_stream_->queued_bytes() > config_.read_high_water ||
                        ws_stream_->queued_messages() >= config_.ws.max_queue);
}

bool Connection::ReadPaused() const {
  if (h2_) return !h2_->WantsRead();
  if (stream_ && stream_->buffered_body() > config_.read_high_water) return true;
  if (WsQueueFull()) return true;
  // A WebSocket client that does not read what we send (pongs, echoes) is not read either, until the
  // output drains (WebSocketSession::OnDrained resumes); --timeout-send ends it if it never does.
  if (ws_ && ws_->output_blocked()) return true;
  return buffer_ && buffer_start_ + buffer_len_ == ConnectionHost::kBufferSize && parser_paused();
}

void Connection::DoRead() {
  // The app may take body bytes (and so resume reading) from inside this loop's parse step: the loop
  // itself re-checks, so a nested call only has to return.
  if (reading_) return;
  reading_ = true;
  // WebSocket frames left in the buffer when the message queue filled up (--ws-max-queue) come first.
  // (Not ReadPaused(): its full-buffer clause holds exactly when such frames fill the buffer's end.)
  if (ws_ && buffer_len_ > 0 && !WsQueueFull() && !ws_->output_blocked()) ParseBuffered();
  ReadLoop();
  reading_ = false;
}

void Connection::ReadLoop() {
  if (lingering()) {
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
  while (readable_ && !closed() && !eof_) {
    if (ReadPaused()) return;
    if (!buffer_) {
      buffer_ = host_->AcquireBuffer();
      buffer_start_ = buffer_len_ = 0;
    }
    if (buffer_start_ > 0 && buffer_start_ + buffer_len_ == ConnectionHost::kBufferSize) {
      memmove(buffer_, buffer_ + buffer_start_, buffer_len_);
      buffer_start_ = 0;
    }
    size_t room = ConnectionHost::kBufferSize - buffer_start_ - buffer_len_;
    if (room == 0) return;  // a full buffer waits for the parser to resume
    ssize_t n = transport_->Read(buffer_ + buffer_start_ + buffer_len_, room);
    if (n > 0) {
      last_read_ = Now();
      CountReceived(counters_, n);
      buffer_len_ += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < room) readable_ = false;  // drained (edge-triggered: a new edge comes)
      ParseBuffered();
      continue;
    }
    if (n == 0) {
      eof_ = true;
      readable_ = false;
      if (h2_) {
        h2_->PeerGone();
        return;
      }
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
        if (buffer_len_ == 0 || phase_ != Phase::kOpen) CloseAtEof();
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
  if (config_.http2 && !protocol_known_) {
    Protocol p = DetectProtocol();
    if (p == Protocol::kUnknown) return;  // the first bytes may still become the h2c preface
    protocol_known_ = true;
    if (p == Protocol::kHttp2) h2_ = std::make_unique<Http2Link>(this);
    if (h2_ && draining_) h2_->BeginDrain();  // the drain began before the preface: GOAWAY at once
  }
  if (h2_) {
    // The link consumes everything; the buffer stays ours until Input returns (parsing_ keeps Close off it).
    const char* data = buffer_ + buffer_start_;
    size_t len = buffer_len_;
    buffer_start_ = buffer_len_ = 0;
    parsing_ = true;
    h2_->Input(data, len);
    parsing_ = false;
    if (!closed()) ReleaseBuffer();
    return;
  }
  parsing_ = true;
  while (buffer_len_ > 0 && !closed()) {
    if (parser_paused()) {
      // The current request is still being answered.
      if (stream_ || ws_stream_ || request_ == Request::kAwaitingResponse) break;
      if (OutputOverMark()) {
        request_ = Request::kOutputBlocked;  // flow control: the next request waits for Flush()
        break;
      }
      request_ = Request::kReceiving;
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
      if (request_ == Request::kDiscarding) FinishDiscard();
      request_ = response_done() ? Request::kAnswered : Request::kAwaitingResponse;
    } else if (r == http::ParseResult::kError) {
      const http::ParseError& e = parser_->error();
      FailRequest(e.status, e.reason);
      break;
    }
    StartDeferred();  // the body bytes read so far are parsed: a partial body streams from here
  }
  parsing_ = false;
  if (closed()) return;
  if (ws_) {
    // Accepted while its handshake was being parsed: what follows the handshake is frames.
    if (buffer_len_ > 0) ParseBuffered();
    return;
  }
  bool answered = parser_paused() && response_done() && !stream_ && !ws_stream_;
  if (answered && OutputOverMark()) {
    request_ = Request::kOutputBlocked;  // flow control: the next request waits for Flush()
  } else if (answered) {
    // The response ended while this message was still being parsed: go on with the next request.
    request_ = Request::kReceiving;
    parser_->Resume();
    if (buffer_len_ > 0) {
      ParseBuffered();
      return;
    }
  }
  if (buffer_len_ == 0) {
    buffer_start_ = 0;
    if (!parser_paused() || !stream_) ReleaseBuffer();
    // The peer closed and everything it sent is parsed: nothing more to answer.
    if (eof_ && !stream_ && !ws_stream_) CloseAtEof();
  }
}

Connection::Protocol Connection::DetectProtocol() {
  // TLS: ALPN decided (h2 is offered only with --http2); the client sends the preface next, and the
  // session checks it. A TLS client that did not negotiate h2 speaks HTTP/1.1.
  if (transport_->secure()) return transport_->h2_selected() ? Protocol::kHttp2 : Protocol::kHttp1;
  // Cleartext: h2c with prior knowledge (RFC 9113 §3.3) starts with the 24-byte connection preface, which
  // HTTP/1.1 would refuse as a request (PRI is no method ESG serves). Upgrade: h2c is not offered (§3.1).
  static constexpr std::string_view kPreface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
  std::string_view got(buffer_ + buffer_start_, std::min(buffer_len_, kPreface.size()));
  if (kPreface.substr(0, got.size()) != got) return Protocol::kHttp1;
  return got.size() == kPreface.size() ? Protocol::kHttp2 : Protocol::kUnknown;
}

// The app answered before the request body was all in: the rest of the body is read and dropped so the
// connection can carry the next request (within the request-head deadline), as nginx does.
void Connection::FinishDiscard() {
  deadline_ = Now() + config_.timeout_keep_alive;
}

void Connection::ReleaseBuffer() {
  if (buffer_ && buffer_len_ == 0) {
    host_->ReleaseBuffer(buffer_);
    buffer_ = nullptr;
    buffer_start_ = 0;
  }
}

void Connection::OnRequestHead(http::RequestHead& head) {
  deadline_ = 0;  // the app decides how long a request takes
  ++requests_;
  MarkRequest(counters_, &mark_, head.method);
  size_t limit = config_.limit_concurrency;
  if (limit > 0 && host_->active_requests() >= limit) {
    // Over --limit-concurrency: answered at once, never queued (ParseBuffered sends it).
    reject_status_ = 503;
    return;
  }
  if (head.upgrade && config_.websocket && StartWebSocket(head)) return;
  auto stream = std::make_shared<HttpStream>(this);
  stream->method = head.method;
  stream->target = head.target;
  stream->http_minor = head.version_minor;
  stream->head_request = std::string_view(head.method) == "HEAD";
  stream->keep_alive = head.keep_alive && !draining_;
  stream->expect_continue = head.expect_continue && head.has_body();
  stream->content_length = head.chunked ? -1 : head.content_length;
  if (config_.access_log_format) CaptureForAccessLog(config_, head, stream.get());
  if (!head.has_body()) stream->body_complete_ = true;
  stream_ = stream;
  host_->RequestStarted();
  if (config_.timeout_request > 0) request_deadline_ = Now() + config_.timeout_request;
  if (head.has_body() && !stream->expect_continue) {
    // The app starts once the body bytes already read are parsed (at the end of this Feed, or at the
    // message end): a small body that came with its head is then whole at the first receive(), and the
    // request runs to its end in one step, without a Task or a future.
    deferred_head_ = &head;
    return;
  }
  channel_->OnRequest(stream, head);
}

void Connection::StartDeferred() {
  http::RequestHead* head = std::exchange(deferred_head_, nullptr);
  if (!head || !stream_ || closed()) return;
  StreamPtr stream = stream_;  // the app may finish (and drop stream_) inside OnRequest
  channel_->OnRequest(stream, *head);
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
  AnswerAndClose(status, reason);
}

void Connection::AnswerAndClose(int status, const std::string& reason) {
  deferred_head_ = nullptr;  // a request whose app never started: answered here
  if (stream_ && stream_->response_started()) {
    Abort();
    return;
  }
  if (stream_) {
    stream_->Detach();
    stream_.reset();
    host_->RequestFinished();
  }
  std::string response = http::SimpleResponse(status, reason, config_.defaults, host_->Date());
  struct iovec iov = {response.data(), response.size()};
  SetCloseAfterWrite();
  Write(&iov, 1, response.size());
  RecordResponse(counters_, &mark_, status);
  if (!closed() && out_.empty()) CloseGracefully();
}

SendResult Connection::Write(const struct iovec* iov, int count, size_t total) {
  if (closed()) return SendResult::kClosed;
  size_t written = 0;
  if (out_.empty()) {
    for (;;) {
      ssize_t n = transport_->Writev(iov, count);
      CountSent(counters_, n);
      if (n >= 0) {
        written = static_cast<size_t>(n);
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close();
      return SendResult::kClosed;
    }
  }
  if (written < total) {
    if (out_.empty()) {
      last_write_ = Now();  // the send deadline counts from the first stall
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
  if (out_.size() - out_sent_ > config_.write_high_water) {
    waiting_writable_ = true;
    return SendResult::kWait;
  }
  return SendResult::kOk;
}

void Connection::Flush() {
  if (h2_) {
    h2_->Flush();
    return;
  }
  // Most calls come from an EPOLLOUT flag reported with EPOLLIN while nothing is queued.
  if (out_.empty() && request_ != Request::kOutputBlocked && phase_ == Phase::kOpen) return;
  bool had_output = !out_.empty();
  while (out_sent_ < out_.size()) {
    struct iovec iov = {out_.data() + out_sent_, out_.size() - out_sent_};
    ssize_t n = transport_->Writev(&iov, 1);
    CountSent(counters_, n);
    if (n > 0) {
      out_sent_ += static_cast<size_t>(n);
      last_write_ = Now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Close();
    return;
  }
  if (out_sent_ == out_.size()) {
    // A large response leaves a large string: give it back rather than keep it per idle connection.
    if (out_.capacity() > 4 * ConnectionHost::kBufferSize) {
      std::string().swap(out_);
    } else {
      out_.clear();
    }
    out_sent_ = 0;
    ResponseFlushed(counters_, &mark_);
    if (phase_ != Phase::kOpen) {
      CloseGracefully();
      return;
    }
    // The keep-alive deadline counts from the end of the last response's write, as nginx's does.
    if (had_output && deadline_ != 0 && !stream_ && !ws_stream_) {
      deadline_ = std::max(deadline_, Now() + config_.timeout_keep_alive);
    }
  }
  size_t low_water = config_.write_high_water / 2;
  if (waiting_writable_ && unsent() <= low_water) {
    waiting_writable_ = false;
    if (stream_ && stream_->observer_) stream_->observer_->OnWritable();
    if (ws_stream_) ws_stream_->Writable();
  }
  if (request_ == Request::kOutputBlocked && unsent() <= low_water && !closed()) {
    request_ = Request::kAnswered;
    ResumeAfterResponse();
  }
}

void Connection::BodyWanted() {
  double now = Now();
  if (last_read_ < now) last_read_ = now;
}

void Connection::SendContinue() {
  static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  struct iovec iov = {const_cast<char*>(kContinue), sizeof kContinue - 1};
  Write(&iov, 1, iov.iov_len);
}

void Connection::ResponseComplete(HttpStream* stream) {
  if (log::AccessEnabled()) WriteAccessLog(config_, peer_, *stream);
  host_->RequestFinished();
  // After the peer's end, requests it pipelined before it are still answered; then the connection closes.
  bool keep = stream->response().keep_alive() && !draining_ && (!eof_ || buffer_len_ > 0);
  bool body_pending = !stream->body_complete();
  CompleteResponse(counters_, &mark_, stream->response().status(), unsent() > 0);
  // A client waiting for "100 Continue" may never send the body, and a large unread body is not worth
  // reading just to throw it away: close instead.
  if (body_pending && (stream->expect_continue || stream->body_remaining() > kMaxDiscard)) keep = false;
  if (stream_.get() == stream) {
    stream_->Detach();
    stream_.reset();
  }
  if (!keep) {
    SetCloseAfterWrite();
    if (out_.empty()) CloseGracefully();
    return;
  }
  if (parser_paused()) {
    request_ = Request::kAnswered;
  } else {
    request_ = body_pending ? Request::kDiscarding : Request::kAnsweredEarly;
  }
  if (body_pending) {
    deadline_ = Now() + config_.timeout_request_header;
  } else {
    deadline_ = Now() + config_.timeout_keep_alive;
  }
  if (parsing_) return;  // ParseBuffered's loop resumes the parser
  if (!parser_paused()) {
    // Still inside the message (its body is being discarded): keep reading it.
    DoRead();
    return;
  }
  ResumeAfterResponse();
}

void Connection::ResumeAfterResponse() {
  ParseBuffered();
  if (!closed() && !stream_ && !ws_stream_) {
    if (buffer_len_ > 0) deadline_ = Now() + config_.timeout_request_header;
    DoRead();
  }
}

}  // namespace esg::engine
