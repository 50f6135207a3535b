// Connection: one accepted socket. Reads into a pooled buffer, feeds the request parser, hands each
// request to the app channel through an HttpStream, and writes responses with writev, answering
// pipelined requests strictly in order (the parser pauses after each message until its response ends).
//
// Backpressure: reading pauses while the app has not consumed more than read_high_water of body, and
// send() waits while more than write_high_water is queued. No pipelined request is parsed or started
// while more than write_high_water is queued, whatever the shape of the response that queued it: the
// next request waits unparsed in the read buffer, reading stops once that buffer is full, and TCP pushes
// back on the client. Flush() resumes the parser once the queue falls to half the mark. So one
// connection holds at most its read buffer, the mark plus the last response's unsent bytes, and the
// request in flight. An idle keep-alive connection holds no read buffer and no Python object.
//
// What it needs from outside comes through interfaces, so a test runs one on a socketpair: the server
// behind ConnectionHost (connection_host.h; its clock gives every deadline), the app behind AppChannel, the
// socket behind Transport. Its state is two enums (Phase: open → close-after-write → lingering → closed;
// Request: where the current message is) plus a few orthogonal facts (peer's end seen, draining, a sender
// waiting, re-entry guards). Files: connection.cc (HTTP/1), connection_close.cc (deadlines and closing),
// connection_deferred.cc (streamed chunks written at the end of the loop turn), request_timeout.cc
// (--timeout-request), websocket_upgrade.cc (the WebSocket side).
#pragma once

#include <sys/uio.h>

#include <memory>
#include <string>
#include <string_view>

#include "server/engine/connection_host.h"
#include "server/engine/peer_info.h"
#include "server/engine/reactor.h"
#include "server/engine/request_metrics.h"
#include "server/engine/stream.h"
#include "server/engine/stream_connection.h"
#include "server/engine/transport.h"
#include "server/engine/websocket_stream.h"
#include "server/http/parser.h"

namespace esg::engine {

struct Listener;
class Http2Link;

class Connection final : public EventHandler, public StreamConnection, private http::RequestHandler {
 public:
  // `listener` is only handed to the app channel (through the streams): it may be null in tests.
  // `transport` moves the bytes of `fd` (plain or TLS); the connection owns both.
  Connection(ConnectionHost* host, int fd, const Listener* listener, PeerInfo peer,
             std::unique_ptr<Transport> transport);
  ~Connection() override;

  // Registers the descriptor with the host's reactor and reads what already arrived.
  void Start();
  void OnEvents(uint32_t events) override;

  // StreamConnection (called by HttpStream, WebSocketStream and WebSocketSession).
  SendResult Write(const struct iovec* iov, int count, size_t total) override;
  SendResult WriteSoon(const struct iovec* iov, int count, size_t total) override;  // connection_deferred.cc
  void SendContinue() override;
  void ResumeReading() override { DoRead(); }
  void BodyWanted() override;
  void ResponseComplete(HttpStream* stream) override;
  void Abort() override;
  bool draining() const override { return draining_; }
  const http::DefaultHeaders& defaults() const override { return config_.defaults; }
  std::string_view date() override { return host_->Date(); }
  const Listener* listener() const override { return listener_; }
  const PeerInfo& peer() const override { return peer_; }
  void AcceptWebSocket(WebSocketStream* stream, const std::string& response_head) override;
  void RejectWebSocket(int status) override;
  WebSocketSession* websocket() override { return ws_.get(); }
  void CloseAfterWrite() override;
  void Close() override;

  // Called by the host (Server).
  bool idle() const { return !stream_ && !buffer_len_; }
  bool lingering() const { return phase_ == Phase::kLingering; }
  // Accepted, no request head yet (and not closing).
  bool fresh() const { return requests_ == 0 && phase_ < Phase::kLingering; }
  bool closed() const { return phase_ == Phase::kClosed; }
  // Deferred response bytes (WriteSoon): the host's DeferredFlush lists the connection until it calls
  // FlushDeferred(), which writes them (connection_deferred.cc).
  bool flush_listed() const { return flush_listed_; }
  void FlushDeferred();
  // The host's DeferredFlush bookkeeping: the scheduled flush that last wrote this connection's deferred
  // bytes, and whether they are held past the current one (deferred_flush.h, coalescing).
  struct FlushMark {
    uint64_t flushed_run = 0;
    bool held = false;
  };
  FlushMark& flush_mark() { return flush_mark_; }
  // Closes the connection if one of its deadlines (request head, request body, send, keep-alive, lingering
  // close, WebSocket ping and close) is past `now` (a reading of the host's clock).
  void CheckDeadline(double now);
  // The worker stops: every response from now on says Connection: close. Idle keep-alive connections are
  // closed now, or with keep_idle left to their keep-alive deadline (see Server::BeginDrain).
  void BeginDrain(bool keep_idle = false);
  void CloseWebSocket(int code);

 private:
  // Where the connection is in its life. Only moves forward; steps may be skipped.
  enum class Phase : uint8_t {
    kOpen,             // reading and answering requests (or WebSocket frames)
    kCloseAfterWrite,  // the last answer is written or queued: close (lingering) once it is all sent
    kLingering,        // our side is shut; input is read and dropped until the peer closes (CloseGracefully)
    kClosed,           // the descriptor is closed; the host deletes the connection after this event batch
  };
  // Where the current HTTP message is. The parser pauses itself after each message, and resumes on the
  // next one only once this one's response is complete: pipelined requests are answered in order.
  enum class Request : uint8_t {
    kReceiving,         // the parser reads this message (its head or its body)
    kAnsweredEarly,     // answered inside the parse step, before the parser reached the message end
    kDiscarding,        // answered before its body was all in: the rest of the body is read and dropped
    kAwaitingResponse,  // parsed (the parser is paused); its response is not complete yet
    kAnswered,          // parsed and answered: the parser resumes on the next request
    kOutputBlocked,     // parsed and answered, but more than write_high_water is queued: Flush() resumes
  };
  bool parser_paused() const { return request_ >= Request::kAwaitingResponse; }
  bool response_done() const { return request_ != Request::kReceiving && request_ != Request::kAwaitingResponse; }

  // RequestHandler (parser callbacks).
  void OnRequestHead(http::RequestHead& head) override;
  void OnRequestBody(std::string_view chunk) override;
  void OnRequestComplete() override;

  double Now() const { return clock_->Now(); }
  void DoRead();
  void ReadLoop();
  void ParseBuffered();
  void Flush();
  void FailRequest(int status, const std::string& reason);
  void AnswerAndClose(int status, const std::string& reason);  // FailRequest without its log line
  // --timeout-request (request_timeout.cc): the current request's response is not complete in time.
  void TimeOutRequest();
  void StartDeferred();  // starts the app of a deferred request (see deferred_head_)
  void ReleaseBuffer();
  void FinishDiscard();
  bool ReadPaused() const;
  // A WebSocket app has read_high_water bytes or --ws-max-queue messages waiting: no more frames are parsed.
  bool WsQueueFull() const;
  size_t unsent() const { return out_.size() - out_sent_; }
  bool OutputOverMark() const { return unsent() > config_.write_high_water; }
  void ResumeAfterResponse();  // goes on with the next pipelined request, if any is buffered
  void CloseAtEof();           // the peer closed and nothing is left to answer: close after the write
  void SetCloseAfterWrite() {
    if (phase_ == Phase::kOpen) phase_ = Phase::kCloseAfterWrite;
  }
  // Closing (connection_close.cc).
  void CloseGracefully();
  // --http2: true once h2_ is set, false for HTTP/1.1; nothing yet while a preface may still be arriving.
  enum class Protocol { kUnknown, kHttp1, kHttp2 };
  Protocol DetectProtocol();
  friend class Http2Link;
  // WebSocket upgrade (websocket_upgrade.cc).
  bool StartWebSocket(http::RequestHead& head);
  void EndWebSocket(int code);

  ConnectionHost* host_;
  const EngineConfig& config_;
  AppChannel* channel_;
  const Clock* clock_;
  int fd_;
  const Listener* listener_;
  PeerInfo peer_;
  std::unique_ptr<http::RequestParser> parser_;
  std::unique_ptr<Transport> transport_;
  StreamPtr stream_;           // the request being answered, if any
  // A request with a body whose app start waits until the body bytes already read are parsed (see
  // OnRequestHead); the parser's head stays valid until the message completes.
  http::RequestHead* deferred_head_ = nullptr;
  WsStreamPtr ws_stream_;      // the WebSocket being offered to or used by the app, if any
  std::unique_ptr<WebSocketSession> ws_;  // set once the app accepted: the connection speaks frames
  char* buffer_ = nullptr;     // pooled read buffer (only while there are unparsed bytes)
  size_t buffer_start_ = 0;
  size_t buffer_len_ = 0;
  std::string out_;            // bytes writev could not send yet
  size_t out_sent_ = 0;
  double deadline_ = 0;        // close when now passes it (0: none)
  double last_read_ = 0;       // when bytes last arrived (request-body deadline)
  double last_write_ = 0;      // when queued response bytes last moved (send deadline)
  double request_deadline_ = 0;  // --timeout-request: the current request's response is due (0: none)
  uint64_t requests_ = 0;      // request heads received on this connection
  int reject_status_ = 0;      // answer this instead of dispatching (e.g. 503 over the concurrency limit)
  RequestCounters* counters_;  // the worker's per-request figures (request_metrics.h); null: not counted
  RequestMark mark_;           // the request being answered, for counters_
  Phase phase_ = Phase::kOpen;
  Request request_ = Request::kReceiving;
  bool readable_ = false;      // edge seen, socket not yet drained
  bool eof_ = false;           // the peer closed its side (it may still read: a half-close)
  bool draining_ = false;      // the worker is stopping: close after the current response
  bool waiting_writable_ = false;  // a send() returned kWait: wake the stream at the low-water mark
  bool reading_ = false;       // inside DoRead (re-entry guard)
  bool parsing_ = false;       // inside ParseBuffered's loop (an eager app may answer from within it)
  bool flush_listed_ = false;  // WriteSoon queued bytes and the host will call FlushDeferred()
  FlushMark flush_mark_;
  bool protocol_known_ = false;  // --http2: the first bytes were checked for the h2c preface (or ALPN)
  // Set once the connection speaks HTTP/2 (http2_link.h): it then drives reading, writing and deadlines.
  std::unique_ptr<Http2Link> h2_;
  static constexpr double kLingerSeconds = 2.0;
  static constexpr int64_t kMaxDiscard = 1 << 20;
};

}  // namespace esg::engine
