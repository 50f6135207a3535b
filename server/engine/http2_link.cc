// Http2Link implementation: H2Session events to HttpStreams and back, output straight to the transport,
// the per-stream and per-connection deadlines, and GOAWAY on drain. See http2_link.h.
#include "server/engine/http2_link.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "server/common/log.h"
#include "server/engine/access_log.h"
#include "server/engine/connection.h"

namespace esg::engine {

namespace {

// The header fields of an encoded HTTP/1.1 response head ("HTTP/1.1 200 OK\r\nname: value\r\n...\r\n"),
// as ResponseHead built and validated them (the app's fields, server, date, --header). H2Session lowercases
// the names and drops the connection-specific ones (connection, transfer-encoding, keep-alive).
void FieldsOf(std::string_view head, std::vector<http::Header>* out) {
  out->reserve(12);
  size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return;
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    line_end = head.find("\r\n");
    if (line_end == std::string_view::npos || line_end == 0) break;
    std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    out->push_back(http::Header{std::string(line.substr(0, colon)), std::string(value)});
  }
}

}  // namespace

// One stream as its HttpStream sees the connection.
class Http2Link::StreamLink final : public StreamConnection {
 public:
  StreamLink(Http2Link* link, int32_t id) : id(id), link_(link) {}

  SendResult Write(const struct iovec*, int, size_t) override { return SendResult::kError; }  // never called
  void SendContinue() override {}  // HTTP/2 clients do not wait for 100 Continue long: nothing is sent
  void ResumeReading() override { link_->Consumed(this); }
  void BodyWanted() override { last_data = std::max(last_data, link_->c_->Now()); }
  void ResponseComplete(HttpStream*) override { link_->Complete(this); }
  void Abort() override { link_->Reset(this, http2::kInternalError); }
  bool draining() const override { return link_->c_->draining_; }
  const http::DefaultHeaders& defaults() const override { return link_->c_->config_.defaults; }
  std::string_view date() override { return link_->c_->host_->Date(); }
  const Listener* listener() const override { return link_->c_->listener_; }
  const PeerInfo& peer() const override { return link_->c_->peer_; }
  void AcceptWebSocket(WebSocketStream*, const std::string&) override {}  // no WebSocket over HTTP/2
  void RejectWebSocket(int) override {}
  WebSocketSession* websocket() override { return nullptr; }
  void CloseAfterWrite() override {}
  void Close() override { link_->Reset(this, http2::kCancel); }
  SendResult SendFramed(HttpStream*, std::string_view data, bool more_body) override {
    return link_->Send(this, data, more_body);
  }
  SendResult SendFramedTrailers(HttpStream*, std::vector<http::Header> fields) override {
    return link_->SendTrailers(this, std::move(fields));
  }

  const int32_t id;
  StreamPtr stream;
  const http::RequestHead* head = nullptr;  // valid until the stream closes (H2Handler)
  RequestMark mark;
  int64_t consumed = 0;     // body bytes whose window was given back
  double last_data = 0;     // when body bytes last arrived (or the app asked for them)
  double request_deadline = 0;  // --timeout-request: the response is due (0: none)
  bool started = false;     // handed to the app channel
  bool finished = false;    // RequestFinished counted
  bool waiting = false;     // a send returned kWait: OnStreamDrained wakes the sender
  bool body_ended = false;  // the last body was sent; the trailers the app announced are still due
  bool reset = false;       // RST_STREAM submitted: the stream only waits for it to be written
  bool discarding = false;  // answered before the body was in: the rest of the body is dropped
  int64_t discarded = 0;

 private:
  Http2Link* link_;
};

Http2Link::Http2Link(Connection* connection)
    : c_(connection),
      session_(
          [&] {
            http2::H2Limits limits = http2::H2LimitsFrom(connection->config_.limits);
            limits.max_concurrent_streams = connection->config_.http2_max_concurrent_streams;
            return limits;
          }(),
          this) {}

Http2Link::~Http2Link() = default;

void Http2Link::ReleaseClosed() { retired_.clear(); }

Http2Link::StreamLink* Http2Link::Find(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Link::Input(const char* data, size_t len) {
  feeding_ = true;
  if (!session_.Feed(data, len)) failed_ = true;
  feeding_ = false;
  if (failed_ && !session_.error().empty()) {
    log::Error().warn("HTTP/2 connection error from {}: {}", c_->peer_.client_text, log::Escape(session_.error()));
  }
  StartPending();
  Flush();
}

void Http2Link::StartPending() {
  // Started in arrival order; an eager app answers from inside OnRequest (its output is written below).
  batching_ = true;
  for (size_t i = 0; i < to_start_.size(); ++i) {
    StreamLink* link = Find(to_start_[i]);
    if (!link || link->started || c_->closed()) continue;
    link->started = true;
    StreamPtr stream = link->stream;  // the app may finish (and the stream close) inside OnRequest
    c_->channel_->OnRequest(stream, *link->head);
  }
  to_start_.clear();
  batching_ = false;
}

void Http2Link::OnStreamHead(int32_t stream_id, http2::StreamHead& sh) {
  http::RequestHead& head = sh.head;
  c_->deadline_ = 0;  // a stream is open: the app decides how long it takes
  ++c_->requests_;
  size_t limit = c_->config_.limit_concurrency;
  if (limit > 0 && c_->host_->active_requests() >= limit) {
    log::Error().warn("Exceeded concurrency limit: 503 for {}", c_->peer_.client_text);
    RequestMark mark;
    MarkRequest(c_->counters_, &mark, head.method);
    AnswerLocally(stream_id, 503);
    RecordResponse(c_->counters_, &mark, 503);
    // No link, so no OnStreamClose restores the keep-alive deadline zeroed above: restore it here.
    if (streams_.empty()) c_->deadline_ = c_->Now() + c_->config_.timeout_keep_alive;
    return;
  }
  int64_t max_body = c_->config_.limits.max_body_size;
  if (max_body > 0 && head.content_length > max_body) {
    // --limit-request-body, as the HTTP/1.1 parser applies it: announced too large, never reaches the app.
    log::Error().warn("Invalid HTTP request from {}: Request body too large", c_->peer_.client_text);
    RequestMark mark;
    MarkRequest(c_->counters_, &mark, head.method);
    AnswerLocally(stream_id, 413);
    RecordResponse(c_->counters_, &mark, 413);
    return;
  }
  auto link = std::make_unique<StreamLink>(this, stream_id);
  MarkRequest(c_->counters_, &link->mark, head.method);
  auto stream = std::make_shared<HttpStream>(link.get(), /*framed_by_connection=*/true);
  stream->method = head.method;
  stream->target = head.target;
  stream->http_major = 2;
  stream->http_minor = 0;
  stream->head_request = std::string_view(head.method) == "HEAD";
  stream->content_length = head.content_length;
  if (c_->config_.access_log_format) CaptureForAccessLog(c_->config_, head, stream.get());
  link->stream = std::move(stream);
  link->head = &head;
  link->last_data = c_->Now();
  if (c_->config_.timeout_request > 0) link->request_deadline = c_->Now() + c_->config_.timeout_request;
  c_->host_->RequestStarted();
  streams_.emplace(stream_id, std::move(link));
  to_start_.push_back(stream_id);
}

void Http2Link::OnStreamData(int32_t stream_id, std::string_view chunk) {
  StreamLink* link = Find(stream_id);
  if (!link) {
    // Answered by ESG (503, 413): the body is dropped, its window given back so the client can finish.
    session_.Consume(stream_id, chunk.size());
    return;
  }
  link->last_data = c_->Now();
  if (link->discarding) {
    session_.Consume(stream_id, chunk.size());
    link->discarded += static_cast<int64_t>(chunk.size());
    if (link->discarded > kMaxDiscard && !link->reset) Reset(link, http2::kNoError);
    return;
  }
  int64_t max_body = c_->config_.limits.max_body_size;
  if (max_body > 0 && link->stream->body_received + static_cast<int64_t>(chunk.size()) > max_body) {
    // A body without content-length (or longer than it said: nghttp2 catches that) over --limit-request-body.
    log::Error().warn("Invalid HTTP request from {}: Request body too large", c_->peer_.client_text);
    if (link->stream->response_started()) {
      Reset(link, http2::kCancel);
      return;
    }
    Finished(link);
    RecordResponse(c_->counters_, &link->mark, 413);
    Unlink(stream_id, /*peer_closed=*/true);  // the app sees http.disconnect
    AnswerLocally(stream_id, 413);
    session_.Consume(stream_id, chunk.size());
    return;
  }
  link->stream->PushBody(chunk);
}

void Http2Link::OnStreamEnd(int32_t stream_id) {
  if (StreamLink* link = Find(stream_id)) link->stream->EndBody();
}

void Http2Link::OnStreamClose(int32_t stream_id, uint32_t error_code) {
  StreamLink* link = Find(stream_id);
  if (!link) return;
  Finished(link);
  ResponseFlushed(c_->counters_, &link->mark);  // a complete response's duration ends with its last frame
  Unlink(stream_id, /*peer_closed=*/error_code != 0);
}

void Http2Link::Finished(StreamLink* link) {
  if (link->finished) return;
  link->finished = true;
  c_->host_->RequestFinished();
}

void Http2Link::Unlink(int32_t stream_id, bool peer_closed) {
  auto it = streams_.find(stream_id);
  std::unique_ptr<StreamLink> link = std::move(it->second);
  streams_.erase(it);
  if (peer_closed) link->stream->peer_closed_ = true;
  link->stream->Detach();  // the app sees http.disconnect; its sends report the connection gone
  // A StreamLink method may be on the stack (a send whose flush closed the stream): freed later.
  retired_.push_back(std::move(link));
  // With no stream open, the keep-alive deadline runs.
  if (streams_.empty() && !c_->closed()) c_->deadline_ = c_->Now() + c_->config_.timeout_keep_alive;
}

void Http2Link::OnStreamDrained(int32_t stream_id) {
  StreamLink* link = Find(stream_id);
  if (!link || !link->waiting) return;
  link->waiting = false;
  if (link->stream->observer_) link->stream->observer_->OnWritable();
}

SendResult Http2Link::Send(StreamLink* link, std::string_view data, bool more_body) {
  HttpStream& s = *link->stream;
  http::ResponseHead& response = s.response_;
  const int32_t id = link->id;
  if (link->body_ended) return SendResult::kError;  // a body after the last one (trailers are due)
  bool body = response.body_allowed() && !s.head_request;
  size_t app_bytes = data.size();  // a HEAD response's content-length is the GET's
  if (!body) data = std::string_view();
  // Announced trailers end the stream instead of the last body (not for HEAD, 204, 304: no body, no trailers).
  bool trailers = s.trailers_expected && body;
  bool ended = false;
  if (!s.started_) {
    s.started_ = true;
    std::string_view encoded = response.Finish(c_->config_.defaults, c_->host_->Date(), 1, s.head_request,
                                               !more_body, app_bytes, /*request_keep_alive=*/true);
    std::vector<http::Header> fields;
    FieldsOf(encoded, &fields);
    ended = !more_body && data.empty() && !trailers;
    if (!session_.SubmitResponse(id, response.status(), std::move(fields), ended, /*fields_checked=*/true)) {
      log::Error().error("HTTP/2 response refused for {}: {}", c_->peer_.client_text, session_.error());
      Reset(link, http2::kInternalError);
      return SendResult::kError;
    }
  }
  if (body && response.framing() == http::ResponseHead::Framing::kLength) {
    int64_t limit = response.content_length();
    int64_t total = s.body_sent + static_cast<int64_t>(data.size());
    if (total > limit || (!more_body && total != limit)) {
      // The app's body disagrees with its Content-Length: the stream is reset, never seen as complete.
      Reset(link, http2::kInternalError);
      return SendResult::kError;
    }
  }
  if (!ended && (!data.empty() || (!more_body && !trailers))) session_.SubmitData(id, data, !more_body && !trailers);
  s.body_sent += static_cast<int64_t>(data.size());
  SendResult result = SendResult::kOk;
  if (!more_body && trailers) {
    link->body_ended = true;  // complete once SendTrailers comes
  } else if (!more_body) {
    s.complete_ = true;
    Complete(link);
  }
  // May close the stream: `link` then sits in retired_ (freed only from a reactor callback or the tick),
  // so it is still readable below; its stream is detached and Buffered() is 0.
  AfterOutputChange();
  // Judged after the flush, and `waiting` set only now: a flush that framed everything would otherwise
  // wake (OnStreamDrained) a sender that has not started waiting yet, and the kWait would never end.
  if (more_body && session_.Buffered(id) > c_->config_.write_high_water) {
    link->waiting = true;
    result = SendResult::kWait;
  }
  return result;
}

SendResult Http2Link::SendTrailers(StreamLink* link, std::vector<http::Header> fields) {
  HttpStream& s = *link->stream;
  if (!link->body_ended) {
    // Trailers before the last body, or for a response that carries none (HEAD, 204, 304): the body
    // part ends here (an empty last DATA frame), then the trailers — or, without a body, nothing more.
    if (!s.started_) return SendResult::kError;
    bool body = s.response_.body_allowed() && !s.head_request;
    if (!body) {
      s.complete_ = true;
      Complete(link);
      return SendResult::kOk;
    }
    return SendResult::kError;
  }
  if (!session_.SubmitTrailers(link->id, std::move(fields))) {
    log::Error().error("HTTP/2 trailers refused for {}: {}", c_->peer_.client_text, session_.error());
    Reset(link, http2::kInternalError);
    return SendResult::kError;
  }
  s.complete_ = true;
  Complete(link);
  AfterOutputChange();  // may retire `link`
  return SendResult::kOk;
}

void Http2Link::Complete(StreamLink* link) {
  HttpStream& s = *link->stream;
  if (log::AccessEnabled()) WriteAccessLog(c_->config_, c_->peer_, s);
  Finished(link);
  CompleteResponse(c_->counters_, &link->mark, s.response().status(), /*queued=*/true);
  if (!s.body_complete() && !link->reset) {
    // Answered before its body was all in: the rest is read and dropped (windows given back, what the app
    // left unread included), so the client's upload ends normally — some clients (curl 7.88) hang on the
    // RST_STREAM NO_ERROR RFC 9113 §8.1 allows. Bounded: past kMaxDiscard, or a stalled upload, is reset.
    link->discarding = true;
    int64_t unread = s.body_received - link->consumed;
    if (unread > 0) session_.Consume(link->id, static_cast<size_t>(unread));
    link->consumed = s.body_received;
  }
}

void Http2Link::Consumed(StreamLink* link) {
  HttpStream& s = *link->stream;
  int64_t taken = s.body_received - static_cast<int64_t>(s.buffered_body());
  if (taken <= link->consumed) return;
  session_.Consume(link->id, static_cast<size_t>(taken - link->consumed));
  link->consumed = taken;
  AfterOutputChange();  // WINDOW_UPDATE
}

void Http2Link::Reset(StreamLink* link, uint32_t code) {
  Finished(link);
  link->reset = true;
  session_.ResetStream(link->id, code);
  link->stream->Detach();
  AfterOutputChange();
}

void Http2Link::AnswerLocally(int32_t stream_id, int status) {
  std::string_view reason = http::ReasonPhrase(status);
  std::vector<http::Header> fields = {{"content-type", "text/plain; charset=utf-8"},
                                      {"content-length", std::to_string(reason.size())}};
  if (session_.SubmitResponse(stream_id, status, std::move(fields), false)) session_.SubmitData(stream_id, reason, true);
}

void Http2Link::AfterOutputChange() {
  if (!batching_ && !feeding_) Flush();
}

bool Http2Link::WantsRead() const { return !failed_ && session_.WantsRead(); }

void Http2Link::Flush() {
  if (flushing_ || c_->closed() || c_->lingering()) return;
  flushing_ = true;
  for (;;) {
    std::string_view out = session_.PendingOutput();
    if (out.empty()) {
      blocked_ = false;
      break;
    }
    struct iovec iov = {const_cast<char*>(out.data()), out.size()};
    ssize_t n = c_->transport_->Writev(&iov, 1);
    CountSent(c_->counters_, n);
    if (n > 0) {
      session_.TakeOutput(static_cast<size_t>(n));
      c_->last_write_ = c_->Now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!blocked_) c_->last_write_ = c_->Now();  // the send deadline counts from the first stall
      blocked_ = true;
      break;
    }
    flushing_ = false;
    c_->Close();
    return;
  }
  flushing_ = false;
  if (c_->closed()) return;
  if (session_.Done() || (failed_ && !blocked_)) {
    c_->CloseGracefully();
    return;
  }
  // Reading paused while the output buffer was full: it has room again.
  if (c_->readable_ && !blocked_ && WantsRead()) c_->DoRead();
}

void Http2Link::PeerGone() {
  session_.CloseStreams(http2::kCancel);
  c_->Close();
}

void Http2Link::Closing() { session_.CloseStreams(http2::kCancel); }

void Http2Link::BeginDrain() {
  if (goaway_at_ != 0 || failed_) return;
  // The notice stops the peer opening streams; the last stream id follows a round trip later.
  session_.ShutdownNotice();
  goaway_at_ = c_->Now() + kGoawayDelay;
  Flush();
}

void Http2Link::FinalGoaway() {
  if (goaway_at_ <= 0 || failed_) return;
  goaway_at_ = -1;
  session_.Goaway();
  Flush();
}

void Http2Link::CheckDeadline(double now) {
  ReleaseClosed();
  const EngineConfig& config = c_->config_;
  if (goaway_at_ > 0 && now >= goaway_at_) {
    goaway_at_ = -1;  // sent
    session_.Goaway();
    Flush();
    if (c_->closed() || c_->lingering()) return;
  }
  // A stream still open with its response complete: either its last frame waits for the client (the
  // window: output like any other), or the client is still sending a body nobody reads.
  bool waiting_for_peer = blocked_;
  std::vector<StreamLink*> answered_early, late;
  for (auto& [id, link] : streams_) {
    const HttpStream& s = *link->stream;
    if (session_.Buffered(id) > 0 || (s.response_complete() && s.body_complete())) {
      waiting_for_peer = true;
    } else if ((s.timed_out() || (s.response_complete() && (!link->discarding ||
                                                             now - link->last_data > config.timeout_request_body))) &&
               !link->reset) {
      answered_early.push_back(link.get());
    }
    if (link->request_deadline != 0 && now >= link->request_deadline && !s.response_complete() &&
        !s.connection_gone()) {
      late.push_back(link.get());
    }
  }
  if (waiting_for_peer && now - c_->last_write_ > config.timeout_send) {
    // The client takes none of the responses (socket full or windows closed): the connection goes.
    log::Error().info("Closing {}: no response bytes taken for {}s (--timeout-send)", c_->peer_.client_text,
                      config.timeout_send);
    c_->Abort();
    return;
  }
  for (StreamLink* link : late) {
    TimeOut(link);
    if (c_->closed()) return;
  }
  // The response was complete before the request: RST_STREAM NO_ERROR asks the client to stop sending
  // (RFC 9113 §8.1) — otherwise its upload stalls on the window nobody opens, and the stream stays open.
  for (StreamLink* link : answered_early) {
    Reset(link, http2::kNoError);
    if (c_->closed()) return;
  }
  // Streams whose app waits for a body that stalls (--timeout-request-body) are reset.
  std::vector<StreamLink*> stalled;
  for (auto& [id, link] : streams_) {
    HttpStream& s = *link->stream;
    // (A stream already reset waits in streams_ only for its RST_STREAM to be written: not again.)
    if (!s.connection_gone() && !s.body_complete() && s.body_wanted() &&
        now - link->last_data > config.timeout_request_body) {
      stalled.push_back(link.get());
    }
  }
  for (StreamLink* link : stalled) {
    log::Error().info("Resetting a stream of {}: request body stalled for {}s (--timeout-request-body)",
                      c_->peer_.client_text, config.timeout_request_body);
    Reset(link, http2::kCancel);
    if (c_->closed()) return;
  }
  // No stream open past the keep-alive (or, before the first, the request-head) deadline: GOAWAY, close.
  if (streams_.empty() && c_->deadline_ != 0 && now >= c_->deadline_ && !blocked_) {
    c_->deadline_ = 0;
    session_.Goaway();
    Flush();
    if (!c_->closed() && !c_->lingering()) c_->CloseGracefully();
  }
}

// --timeout-request for one stream: 504 if nothing was sent yet, else RST_STREAM (a cut-short body must
// never look complete). Unlike HTTP/1.1 the connection lives on: only this stream ends. Then the stream's
// observer is told, so the binding cancels the app's task. One warning line, one count per timeout.
void Http2Link::TimeOut(StreamLink* link) {
  StreamPtr stream = link->stream;  // detached below; kept to tell its observer afterwards
  link->request_deadline = 0;
  stream->timed_out_ = true;
  c_->host_->RequestTimedOut();
  std::string_view target = stream->target;
  std::string_view path = target.substr(0, target.find('?'));  // the query may hold secrets: not logged
  bool started = stream->response_started();
  log::Error().warn("Request timed out after {:g}s (--timeout-request): {} {} from {}; {}",
                    c_->config_.timeout_request, log::Escape(stream->method), log::Escape(path),
                    log::Escape(c_->peer_.client_text), started ? "response cut short, stream reset" : "504 sent");
  if (started) {
    Reset(link, http2::kInternalError);
  } else {
    Finished(link);
    stream->Detach();
    AnswerLocally(link->id, 504);
    RecordResponse(c_->counters_, &link->mark, 504);
    AfterOutputChange();
  }
  if (stream->observer_) stream->observer_->OnTimedOut();
}

}  // namespace esg::engine
