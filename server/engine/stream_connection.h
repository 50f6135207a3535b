// StreamConnection: what an HttpStream, a WebSocketStream and a WebSocketSession need from the connection
// they belong to. Connection (connection.h) implements it; the interface lets the streams and the
// connection live in separate targets, and lets a test drive a stream against a stand-in connection.
// Every call happens on the reactor's thread. A stream holds a raw pointer and drops it when the
// connection detaches it (HttpStream::Detach, WebSocketStream::Detach): after that it never calls here.
#pragma once

#include <sys/uio.h>

#include <string>
#include <string_view>
#include <vector>

#include "server/engine/peer_info.h"
#include "server/http/request_head.h"
#include "server/http/response_head.h"

namespace esg::engine {

class HttpStream;
class WebSocketStream;
class WebSocketSession;
struct Listener;

// The outcome of a send. kWait: accepted, but more than the write high-water mark is queued: wait for
// the observer's OnWritable() before sending more. kClosed: the connection is gone. kError: the data
// contradicts the response's framing (the connection was aborted) or the app's arguments are invalid.
enum class SendResult { kOk, kWait, kClosed, kError };

class StreamConnection {
 public:
  virtual ~StreamConnection() = default;

  // Writes `total` bytes from `iov` (queues what the socket does not take). Never re-enters the stream.
  virtual SendResult Write(const struct iovec* iov, int count, size_t total) = 0;
  // Write for a response chunk the app means to follow with more (more_body): the bytes may wait for the end
  // of the current loop turn, so that what one task sends before it yields leaves in one write (see
  // deferred_flush.h). Never later than that turn. By default, Write.
  virtual SendResult WriteSoon(const struct iovec* iov, int count, size_t total) { return Write(iov, count, total); }
  // Writes "HTTP/1.1 100 Continue" (the app asked for a body the client is waiting to send).
  virtual void SendContinue() = 0;
  // The app took buffered input (body bytes, WebSocket messages): reading may resume. May parse and
  // dispatch the next input, and so call back into the stream.
  virtual void ResumeReading() = 0;
  // The app asked for the request body: the body deadline counts from now at the earliest.
  virtual void BodyWanted() = 0;
  // The stream's response is complete: the connection goes on with the next request, or closes.
  virtual void ResponseComplete(HttpStream* stream) = 0;
  // Ends the connection with a reset (a response that cannot be completed). Detaches the stream.
  virtual void Abort() = 0;

  // The worker is going away: responses say `connection: close`.
  virtual bool draining() const = 0;
  virtual const http::DefaultHeaders& defaults() const = 0;
  virtual std::string_view date() = 0;
  virtual const Listener* listener() const = 0;
  virtual const PeerInfo& peer() const = 0;

  // WebSocket: the app accepted (`response_head` is the 101 to write) or refused with `status`.
  virtual void AcceptWebSocket(WebSocketStream* stream, const std::string& response_head) = 0;
  virtual void RejectWebSocket(int status) = 0;
  // The session once accepted (null before).
  virtual WebSocketSession* websocket() = 0;
  // Close (lingering) once what is queued is written.
  virtual void CloseAfterWrite() = 0;
  // Close now.
  virtual void Close() = 0;

  // HTTP/2 (http2_link.h): the connection frames the response itself. HttpStream::SendBody hands it the
  // app's data unframed when the stream was created with framed_by_connection; never called otherwise.
  virtual SendResult SendFramed(HttpStream* stream, std::string_view data, bool more_body) {
    (void)stream, (void)data, (void)more_body;
    return SendResult::kError;
  }
  // HTTP/2: ends a response whose app announced trailers (HttpStream::trailers_expected) with them.
  virtual SendResult SendFramedTrailers(HttpStream* stream, std::vector<http::Header> fields) {
    (void)stream, (void)fields;
    return SendResult::kError;
  }
};

}  // namespace esg::engine
