// Http2Link: what a Connection becomes once it speaks HTTP/2 (--http2: ALPN h2 on TLS, the h2c
// connection preface on cleartext). The Connection keeps the socket, the transport, the reactor
// registration and its close paths; the link owns the H2Session (server/http2, nghttp2 behind it) and
// turns every stream into an HttpStream the app channel serves exactly as an HTTP/1.1 exchange.
//
// Per stream, a StreamLink stands in for the connection (StreamConnection): SendFramed hands the app's
// response to the session (HEADERS from the ResponseHead the app built, DATA as the peer's windows allow,
// kWait while more than write_high_water is buffered for the stream, resumed by OnStreamDrained); taking
// body bytes (ResumeReading) reopens that much receive window (H2Session::Consume), so a client can have
// at most the stream window unconsumed per stream. Streams whose heads arrive in one read are started after
// the read is fed, so a small body that came with its head is whole at the first receive().
//
// Output is written straight from the session's lazily produced buffer (at most ~64 KiB outside nghttp2);
// while the socket does not take it, reading pauses (WantsRead) and --timeout-send counts. Deadlines:
// the keep-alive timeout while no stream is open, the send timeout while output or a stream's end waits
// for the client, the body timeout per stream whose app waits for its body, --timeout-request per stream
// (504, or a reset once the response started; the connection lives on). A response complete before its
// request body: the rest of the body is read and dropped (up to kMaxDiscard), and an upload past that, or
// one that stalls for the body timeout, gets RST_STREAM NO_ERROR (RFC 9113 §8.1). Drain and stop:
// GOAWAY in two steps (a notice with the highest id, the real last id a tick later); open streams finish,
// then the connection closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/engine/request_metrics.h"
#include "server/engine/stream.h"
#include "server/http2/h2_session.h"

namespace esg::engine {

class Connection;

class Http2Link final : private http2::H2Handler {
 public:
  explicit Http2Link(Connection* connection);
  ~Http2Link() override;

  // Bytes read from the peer (all consumed). Starts the streams whose heads they completed, then writes.
  void Input(const char* data, size_t len);
  // Writes what the session has for the peer, as far as the socket takes it; closes the connection once
  // the session is done.
  void Flush();
  // Reading pauses while the session's output buffer is full (a peer that does not read).
  bool WantsRead() const;
  size_t open_streams() const { return streams_.size(); }
  // The peer closed or the socket failed: every stream ends (the apps see http.disconnect).
  void PeerGone();
  // The connection is closing: streams are detached (idempotent).
  void Closing();
  // The worker drains or stops: GOAWAY (notice now, the last stream id at the next tick).
  void BeginDrain();
  // The drain's final GOAWAY now, if it is still due (the connection is about to close).
  void FinalGoaway();
  void CheckDeadline(double now);
  // Frees the links of closed streams (only from a reactor callback or the tick: never below a stream's call).
  void ReleaseClosed();

 private:
  class StreamLink;
  friend class StreamLink;

  // H2Handler.
  void OnStreamHead(int32_t stream_id, http2::StreamHead& head) override;
  void OnStreamData(int32_t stream_id, std::string_view chunk) override;
  void OnStreamEnd(int32_t stream_id) override;
  void OnStreamClose(int32_t stream_id, uint32_t error_code) override;
  void OnStreamDrained(int32_t stream_id) override;

  StreamLink* Find(int32_t stream_id) const;
  void StartPending();
  // StreamLink's calls.
  SendResult Send(StreamLink* link, std::string_view data, bool more_body);
  SendResult SendTrailers(StreamLink* link, std::vector<http::Header> fields);
  void Consumed(StreamLink* link);
  void Complete(StreamLink* link);
  void Reset(StreamLink* link, uint32_t code);
  // --timeout-request: the stream's response is not complete in time (504, or a reset once started).
  void TimeOut(StreamLink* link);
  // Answers a stream ESG answers itself (503 over --limit-concurrency, 504 at --timeout-request).
  void AnswerLocally(int32_t stream_id, int status);
  // RequestFinished for the stream, once.
  void Finished(StreamLink* link);
  // Takes the stream out of streams_ (its link kept in retired_), detaches its HttpStream (the app sees
  // http.disconnect), and starts the keep-alive deadline once none is open.
  void Unlink(int32_t stream_id, bool peer_closed);
  void AfterOutputChange();

  Connection* c_;
  http2::H2Session session_;
  std::unordered_map<int32_t, std::unique_ptr<StreamLink>> streams_;
  std::vector<int32_t> to_start_;  // heads complete during the current Input(), started after it
  // Closed streams, freed at the next Input or tick: a StreamLink method may be on the stack when its
  // stream closes (a send whose flush wrote the stream's last frame).
  std::vector<std::unique_ptr<StreamLink>> retired_;
  double goaway_at_ = 0;           // drain: when to send the final GOAWAY (0: not due, -1: sent)
  static constexpr double kGoawayDelay = 0.5;  // seconds between the notice and the final GOAWAY
  // Body bytes dropped after an early answer before the stream is reset (NO_ERROR) instead.
  static constexpr int64_t kMaxDiscard = 16 << 20;
  bool feeding_ = false;           // inside session_.Feed (its callbacks must not write)
  bool batching_ = false;          // starting streams: their output is written once, after them
  bool flushing_ = false;          // inside Flush (PendingOutput calls back)
  bool blocked_ = false;           // the socket did not take all the output: EPOLLOUT resumes
  bool failed_ = false;            // Feed() tore the connection down: flush the GOAWAY, then close
  bool closing_ = false;
};

}  // namespace esg::engine
