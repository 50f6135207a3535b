// WebSocketStream: one WebSocket connection as the app channel sees it (ASGI `websocket` scope), and
// WebSocketSession: the engine side that turns client frames into messages and app messages into frames.
//
// Life: the connection creates the stream for a valid upgrade request and hands it to the channel; the
// app accepts (101 goes out and the connection switches to frames) or closes (403). Messages wait in the
// stream's queue (reading pauses past read_high_water); a close from either side, a protocol error
// (1002/1007/1009), a missed pong (1011) or the socket going away (1006) ends it with a disconnect code.
//
// Bounds (what one client can make a worker hold): a message being received, at most --ws-max-size bytes
// on the wire and again after inflating (refused from the frame header, and while inflating, with 1009);
// received messages waiting for the app, read_high_water plus one message and at most --ws-max-queue
// messages (reading pauses at either mark, as uvicorn's websockets stop reading when max_queue is full,
// so a client cannot queue a flood of tiny messages); unsent output, write_high_water
// plus what one read buffer of frames can answer (reading stops while output is over the mark, and at most
// one pong waits: a newer ping replaces it, RFC 6455 §5.5.3); a client that reads nothing is dropped after
// --timeout-send.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/engine/stream.h"
#include "server/http/permessage_deflate.h"
#include "server/http/websocket.h"

namespace esg::engine {

struct Listener;

class WebSocketStream {
 public:
  using SendResult = HttpStream::SendResult;
  struct Message {
    bool text = false;
    std::string data;
  };

  explicit WebSocketStream(StreamConnection* connection) : connection_(connection) {}

  void set_observer(StreamObserver* observer) { observer_ = observer; }
  const Listener* listener() const;
  const PeerInfo* peer() const;

  // --- App side ---
  bool accepted() const { return accepted_; }
  bool close_sent() const { return close_sent_; }
  bool disconnected() const { return disconnect_code_ != 0; }
  int disconnect_code() const { return disconnect_code_; }
  const std::string& disconnect_reason() const { return disconnect_reason_; }
  bool PopMessage(Message* out);
  SendResult Accept(std::string_view subprotocol, const std::vector<std::pair<std::string, std::string>>& headers,
                    std::string* error);
  SendResult Send(bool text, std::string_view data);
  SendResult Close(int code, std::string_view reason);  // before accept: an HTTP 403
  void Fail();                                           // the app raised or returned early

  // --- Engine side ---
  void PushMessage(Message message);
  void Disconnected(int code, std::string_view reason);
  // The connection's unsent output fell below the write low-water mark: the app may send again, a pong held
  // back is sent, and reading resumes.
  void Writable();
  size_t queued_bytes() const { return queued_bytes_; }
  size_t queued_messages() const { return queue_.size(); }
  void Detach(int code);

  // Handshake facts kept from the request.
  std::string key;
  std::optional<http::DeflateParams> deflate;
  int http_minor = 1;
  std::string target;

 private:
  friend class WebSocketSession;
  void Notify() {
    if (observer_) observer_->OnBodyReady();
  }

  StreamConnection* connection_;
  StreamObserver* observer_ = nullptr;
  std::deque<Message> queue_;
  size_t queued_bytes_ = 0;
  bool accepted_ = false;
  bool close_sent_ = false;
  bool rejected_ = false;
  int disconnect_code_ = 0;
  std::string disconnect_reason_;
};

using WsStreamPtr = std::shared_ptr<WebSocketStream>;

struct WebSocketLimits {
  uint64_t max_message = 16 * 1024 * 1024;  // --ws-max-size: 1009 beyond it (after decompression)
  double ping_interval = 20.0;              // --ws-ping-interval (0: never ping)
  double ping_timeout = 20.0;               // --ws-ping-timeout: 1011 when no pong arrives in time
  size_t compress_threshold = 64;           // smaller messages go out uncompressed
  size_t max_queue = 32;                    // --ws-max-queue: reading pauses while this many messages wait
};

class WebSocketSession final : private http::WsFrameHandler {
 public:
  using SendResult = HttpStream::SendResult;
  WebSocketSession(StreamConnection* connection, WsStreamPtr stream, const WebSocketLimits& limits, double now);

  // Consumes bytes from the wire (unmasking them in place); all of them once the connection is closing.
  size_t Feed(char* data, size_t len);
  SendResult SendFrame(http::WsOpcode opcode, std::string_view payload);
  SendResult SendMessage(bool text, std::string_view data);
  SendResult SendClose(int code, std::string_view reason);
  void Tick(double now);
  bool closing() const { return closing_; }
  // --ws-max-queue messages wait for the app: the frame parser stops between messages (http::WsFrameHandler).
  bool Full() const override { return stream_->queued_messages() >= limits_.max_queue; }
  // More than write_high_water of our frames wait to be sent: the connection stops reading.
  bool output_blocked() const { return output_blocked_; }
  void OnDrained();  // the unsent output fell under the low-water mark
  const WsStreamPtr& stream() const { return stream_; }

 private:
  bool OnMessageStart(bool text, bool compressed) override;
  bool OnMessageData(std::string_view data) override;
  bool OnMessageEnd() override;
  bool OnControl(http::WsOpcode opcode, std::string_view payload) override;
  bool ProtocolError(int code, const char* reason);
  bool Inflate(std::string_view data, bool last);
  SendResult Track(SendResult result);

  StreamConnection* connection_;
  WsStreamPtr stream_;
  WebSocketLimits limits_;
  http::WsFrameParser parser_;
  std::unique_ptr<http::PerMessageDeflate> deflate_;
  std::string message_;           // the message being received (inflated when compressed)
  http::Utf8Validator utf8_;      // of message_ so far, when it is text
  bool message_text_ = false;
  bool message_compressed_ = false;
  bool closing_ = false;
  bool output_blocked_ = false;
  bool pong_pending_ = false;     // a pong held back while output_blocked_ (only the newest)
  std::string pending_pong_;
  double next_ping_ = 0;
  double pong_deadline_ = 0;
  double close_deadline_ = 0;
  std::string scratch_;
};

}  // namespace esg::engine
