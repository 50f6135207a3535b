// HttpStream: one request/response exchange as the app channel sees it.
//
// The connection creates a stream when a request head is complete and hands it to the AppChannel. The
// stream outlives its connection if the app still holds it (shared_ptr): once the client is gone, every
// operation reports kClosed and the body reads end with a disconnect. All calls happen on the Python
// thread (the reactor's thread), so there is no locking.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/engine/stream_connection.h"
#include "server/http/request_head.h"
#include "server/http/response_head.h"

namespace esg::engine {

class Connection;

// What the app channel wants to hear about one stream. Both calls come on the reactor's thread, possibly
// from inside a call the observer made into the stream (SendBody, TakeBody), and possibly more than once.
// The observer may be replaced or cleared (set_observer(nullptr)) at any time, e.g. when the exchange
// is freed; a stream never calls a cleared observer.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  // Body bytes arrived, the body ended, or the client went away (or closed its side).
  virtual void OnBodyReady() = 0;
  // After a kWait: the queued output fell to half the write high-water mark (the low-water mark), or the
  // client went away. Called once per wait, however many SendBody calls returned kWait meanwhile: the
  // observer wakes every sender that waits.
  virtual void OnWritable() = 0;
  // --timeout-request: the response was not complete in time. The connection has already answered 504
  // (or cut the response short) and detached the stream; the observer stops the app (cancels its task).
  virtual void OnTimedOut() {}
};

class HttpStream {
 public:
  using SendResult = engine::SendResult;

  // framed_by_connection: the connection frames the response (HTTP/2: StreamConnection::SendFramed).
  explicit HttpStream(StreamConnection* connection, bool framed_by_connection = false)
      : connection_(connection), framed_by_connection_(framed_by_connection) {}

  void set_observer(StreamObserver* observer) { observer_ = observer; }
  // The connection's listener and peer; null once the connection is gone.
  const struct Listener* listener() const;
  const struct PeerInfo* peer() const;

  // --- Request body (app side) ---
  // Moves the buffered body bytes into *out; true when they are the last of the body. Sends
  // "100 Continue" first if the client asked for it.
  bool TakeBody(std::string* out);
  bool body_complete() const { return body_complete_; }
  bool has_body_bytes() const { return !body_.empty(); }
  // The app has asked for the body (a receive() call): from then on a stalled body is the client's fault.
  bool body_wanted() const { return body_wanted_; }
  // The client is gone (or closed its side after a complete request): receive() reports http.disconnect.
  bool disconnected() const { return connection_ == nullptr || peer_closed_; }
  // The connection is gone: SendBody reports kClosed and nothing more reaches the client. Unlike
  // disconnected(), false after a mere half-close, when a response is still written if the socket takes it.
  bool connection_gone() const { return connection_ == nullptr; }
  // Ended by --timeout-request (the connection is gone too).
  bool timed_out() const { return timed_out_; }

  // --- Response (app side) ---
  http::ResponseHead& response() { return response_; }
  bool response_started() const { return started_; }
  bool response_complete() const { return complete_; }
  // Sends body bytes (the head goes out with the first call). kWait: accepted, but the app should wait
  // for OnWritable() before sending more. kError: the body contradicts the framing (connection aborted).
  // A final call (!more_body) completes the response even over the mark (its bytes are queued); the
  // connection then starts no further request until the queue is below the mark again.
  SendResult SendBody(std::string_view data, bool more_body);
  // Response trailers (the ASGI http.response.trailers extension), offered on HTTP/2 streams only
  // (trailers_supported()). With trailers_expected set before the first send, the final SendBody leaves
  // the response open and SendTrailers completes it; kError when the stream cannot carry them.
  bool trailers_supported() const { return framed_by_connection_; }
  // more_trailers: fields accumulate until the last call.
  SendResult SendTrailers(std::vector<http::Header> fields, bool more_trailers);
  // The app failed or returned early: 500 if nothing was sent yet, otherwise abort the connection.
  void Fail();
  // The app is done with a response that cannot complete (its client went away): drop the connection.
  void Abandon();

  // --- Engine side ---
  void PushBody(std::string_view chunk) {
    body_received += static_cast<int64_t>(chunk.size());
    body_.append(chunk.data(), chunk.size());
    Notify();
  }
  void EndBody() { body_complete_ = true; Notify(); }
  void Detach();  // the connection is closing
  size_t buffered_body() const { return body_.size(); }
  // Body bytes still to come (unknown for chunked bodies: then a large number).
  int64_t body_remaining() const {
    if (body_complete_) return 0;
    return content_length < 0 ? (int64_t{1} << 40) : content_length - body_received;
  }
  void MarkStarted() { started_ = true; }

  // Request facts kept for the response and the access log.
  std::string method;
  std::string target;
  int http_major = 1;  // 2 for a stream of an HTTP/2 connection
  int http_minor = 1;
  bool head_request = false;
  bool keep_alive = true;
  bool expect_continue = false;
  int64_t body_sent = 0;
  bool trailers_expected = false;  // the app announced trailers (http.response.start "trailers": True)
  int64_t content_length = -1;  // of the request body (-1: chunked or none)
  int64_t body_received = 0;
  // Only with --access-log-format (access_log.h): the request headers it shows, and when the head was
  // complete (a precise monotonic clock, for its durations).
  std::vector<std::string> access_headers;
  double access_started = 0;

 private:
  friend class Connection;
  friend class Http2Link;
  void Notify() {
    if (observer_) observer_->OnBodyReady();
  }

  StreamConnection* connection_;
  StreamObserver* observer_ = nullptr;
  std::string body_;
  bool body_complete_ = false;
  bool started_ = false;
  bool complete_ = false;
  bool continue_sent_ = false;
  bool peer_closed_ = false;
  bool body_wanted_ = false;
  bool timed_out_ = false;
  bool framed_by_connection_ = false;
  std::vector<http::Header> pending_trailers_;  // trailer fields of calls with more_trailers
  http::ResponseHead response_;
};

using StreamPtr = std::shared_ptr<HttpStream>;

}  // namespace esg::engine
