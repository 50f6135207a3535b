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
#pragma once

#include <sys/uio.h>

#include <memory>
#include <string>
#include <string_view>

#include "server/engine/reactor.h"
#include "server/engine/stream.h"
#include "server/engine/transport.h"
#include "server/engine/websocket_stream.h"
#include "server/http/parser.h"

namespace esg::engine {

class Server;
struct Listener;

struct PeerInfo {
  std::string client_host;  // empty for UNIX-socket peers
  int client_port = 0;
  std::string client_text;  // "127.0.0.1:51234" for the access log
  int fd = -1;              // the connection's socket (SO_PEERCRED for unix:USER proxy trust)
  // Per-connection answer of the app channel's proxy-trust check (-1: not asked yet), so it is
  // computed once per connection rather than once per request.
  mutable int8_t forwarded_trust = -1;
};

class Connection final : public EventHandler, private http::RequestHandler {
 public:
  Connection(Server* server, int fd, const Listener* listener, PeerInfo peer);
  ~Connection() override;

  void Start();
  void OnEvents(uint32_t events) override;

  // Called by HttpStream.
  HttpStream::SendResult Write(const struct iovec* iov, int count, size_t total);
  void ResponseComplete(HttpStream* stream);
  void Abort();
  void SendContinue();
  void ResumeReading() { DoRead(); }
  // The app asked for the request body: the body deadline counts from now at the earliest.
  void BodyWanted();

  // WebSocket (called by WebSocketStream/Session).
  void AcceptWebSocket(WebSocketStream* stream, const std::string& response_head);
  void RejectWebSocket(int status);
  void CloseAfterWrite();
  void CloseGracefully();
  WebSocketSession* websocket() { return ws_.get(); }
  const http::DefaultHeaders& defaults() const;
  std::string_view date();

  // Called by Server.
  bool idle() const { return !stream_ && !buffer_len_; }
  bool lingering() const { return lingering_; }
  bool fresh() const { return requests_ == 0 && !closed_ && !lingering_; }  // accepted, no request head yet
  bool draining() const { return draining_; }
  bool closed() const { return closed_; }
  void Close();
  void CheckDeadline(double now);
  void BeginDrain();
  void CloseWebSocket(int code);
  const Listener* listener() const { return listener_; }
  const PeerInfo& peer() const { return peer_; }

 private:
  // RequestHandler (parser callbacks).
  void OnRequestHead(http::RequestHead& head) override;
  void OnRequestBody(std::string_view chunk) override;
  void OnRequestComplete() override;

  void DoRead();
  void ReadLoop();
  void ParseBuffered();
  void Flush();
  void FailRequest(int status, const std::string& reason);
  void StartDeferred();  // starts the app of a deferred request (see deferred_head_)
  void ReleaseBuffer();
  void FinishDiscard();
  bool StartWebSocket(http::RequestHead& head);
  void EndWebSocket(int code);
  bool ReadPaused() const;
  size_t unsent() const { return out_.size() - out_sent_; }
  bool OutputOverMark() const;
  void ResumeAfterResponse();  // goes on with the next pipelined request, if any is buffered
  void CloseAtEof();           // the peer closed and nothing is left to answer: close after the write

  Server* server_;
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
  bool readable_ = false;      // edge seen, socket not yet drained
  bool paused_ = false;        // parser paused after a complete message
  bool eof_ = false;           // the peer closed its side
  bool closed_ = false;
  bool close_after_write_ = false;
  bool draining_ = false;
  bool waiting_writable_ = false;
  bool reading_ = false;
  bool parsing_ = false;        // inside ParseBuffered's loop (an eager app may answer from within it)
  bool response_done_ = false;  // the current message's response is complete; resume after its end
  bool output_blocked_ = false; // the next request waits until Flush() brings out_ under the mark
  bool discarding_ = false;     // dropping the rest of a body the app did not read
  uint64_t requests_ = 0;       // request heads received on this connection
  double last_read_ = 0;        // when bytes last arrived (request-body deadline)
  double last_write_ = 0;       // when queued response bytes last moved (send deadline)
  bool lingering_ = false;      // our side is closed; dropping input until the peer closes (CloseGracefully)
  static constexpr double kLingerSeconds = 2.0;
  static constexpr int64_t kMaxDiscard = 1 << 20;
  int reject_status_ = 0;      // answer this instead of dispatching (e.g. 503 over the concurrency limit)
};

}  // namespace esg::engine
