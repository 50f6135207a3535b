// HttpStream implementation: request-body hand-over and response framing on the wire.
#include "server/engine/stream.h"

#include <sys/uio.h>

#include <charconv>


namespace esg::engine {

const Listener* HttpStream::listener() const { return connection_ ? connection_->listener() : nullptr; }

const PeerInfo* HttpStream::peer() const { return connection_ ? &connection_->peer() : nullptr; }

bool HttpStream::TakeBody(std::string* out) {
  if (!body_wanted_ && connection_) connection_->BodyWanted();
  body_wanted_ = true;
  if (expect_continue && !continue_sent_ && !body_complete_ && connection_ && !started_) {
    continue_sent_ = true;
    connection_->SendContinue();
  }
  bool was_full = connection_ && body_.size() > 0;
  out->swap(body_);
  body_.clear();
  bool last = body_complete_;  // bytes that arrive from here on belong to the next message
  // Reading may have paused on this stream's unread body: the app has taken it, so read on.
  if (was_full) connection_->ResumeReading();
  return last;
}

void HttpStream::Detach() {
  if (!connection_) return;
  connection_ = nullptr;
  if (observer_) {
    observer_->OnBodyReady();
    observer_->OnWritable();
  }
}

HttpStream::SendResult HttpStream::SendBody(std::string_view data, bool more_body) {
  if (!connection_) return SendResult::kClosed;
  if (complete_) return SendResult::kError;
  if (framed_by_connection_) return connection_->SendFramed(this, data, more_body);
  // At most five pieces: head, chunk-size line, data, CRLF, last chunk (an app that set chunked itself and
  // sends its whole body in one message).
  struct iovec iov[5];
  int count = 0;
  size_t total = 0;
  auto add = [&](const void* p, size_t n) {
    if (n == 0) return;
    iov[count].iov_base = const_cast<void*>(p);
    iov[count].iov_len = n;
    total += n;
    ++count;
  };
  if (!started_) {
    started_ = true;
    if (connection_->draining()) keep_alive = false;  // the worker is going away: say so in this response
    std::string_view head = response_.Finish(connection_->defaults(), connection_->date(), http_minor,
                                               head_request, !more_body, data.size(), keep_alive);
    add(head.data(), head.size());
  }
  bool send_body = response_.body_allowed() && !head_request;
  if (!send_body) data = std::string_view();
  char chunk_line[24];
  using Framing = http::ResponseHead::Framing;
  Framing framing = response_.framing();
  if (framing == Framing::kLength && send_body) {
    int64_t limit = response_.content_length();
    if (body_sent + static_cast<int64_t>(data.size()) > limit ||
        (!more_body && body_sent + static_cast<int64_t>(data.size()) != limit)) {
      // The app's body disagrees with its Content-Length: never send a response that looks complete.
      connection_->Abort();
      return SendResult::kError;
    }
  }
  if (framing == Framing::kChunked && send_body && !data.empty()) {
    auto [ptr, ec] = std::to_chars(chunk_line, chunk_line + 16, data.size(), 16);
    *ptr++ = '\r';
    *ptr++ = '\n';
    add(chunk_line, static_cast<size_t>(ptr - chunk_line));
    add(data.data(), data.size());
    add("\r\n", 2);
  } else {
    add(data.data(), data.size());
  }
  if (!more_body && framing == Framing::kChunked && send_body) add("0\r\n\r\n", 5);
  body_sent += static_cast<int64_t>(data.size());
  // A chunk with more to follow may wait for the end of this loop turn (StreamConnection::WriteSoon).
  SendResult result = !count ? SendResult::kOk
                      : more_body ? connection_->WriteSoon(iov, count, total)
                                  : connection_->Write(iov, count, total);
  if (result == SendResult::kClosed) return result;
  if (!more_body) {
    complete_ = true;
    if (connection_) connection_->ResponseComplete(this);
    return SendResult::kOk;
  }
  return result;
}

HttpStream::SendResult HttpStream::SendTrailers(std::vector<http::Header> fields, bool more_trailers) {
  if (!connection_) return SendResult::kClosed;
  if (complete_ || !framed_by_connection_ || !trailers_expected) return SendResult::kError;
  if (!pending_trailers_.empty()) {
    pending_trailers_.insert(pending_trailers_.end(), std::make_move_iterator(fields.begin()),
                             std::make_move_iterator(fields.end()));
    fields.swap(pending_trailers_);
    pending_trailers_.clear();
  }
  if (more_trailers) {
    if (fields.size() > 1000) return SendResult::kError;  // bounded: an app looping on more_trailers
    pending_trailers_ = std::move(fields);
    return SendResult::kOk;
  }
  return connection_->SendFramedTrailers(this, std::move(fields));
}

void HttpStream::Abandon() {
  if (connection_ && !complete_) connection_->Abort();
}

void HttpStream::Fail() {
  if (!connection_ || complete_) return;
  if (started_) {
    connection_->Abort();
    return;
  }
  response_.Begin(500);
  const char* reason = nullptr;
  response_.Add("content-type", "text/plain; charset=utf-8", &reason);
  response_.Add("connection", "close", &reason);
  SendBody("Internal Server Error", false);
}

}  // namespace esg::engine
