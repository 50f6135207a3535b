// WebSocketStream: one WebSocket connection as the app channel sees it (ASGI `websocket` scope), and
// WebSocketSession: the engine side that turns client frames into messages and app messages into frames.
//
// Life: the connection creates the stream for a valid upgrade request and hands it to the channel; the
// app accepts (101 goes out and the connection switches to frames) or closes (403). Messages wait in the
// stream's queue (reading pauses past read_high_water); a close from either side, a protocol error
// (1002/1007/1009), a missed pong (1011) or the socket going away (1006) ends it with a disconnect code.
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

class Connection;
struct Listener;
struct PeerInfo;

class WebSocketStream {
 public:
  using SendResult = HttpStream::SendResult;
  struct Message {
    bool text = false;
    std::string data;
  };

  explicit WebSocketStream(Connection* connection) : connection_(connection) {}

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
  void Writable() {
    if (observer_) observer_->OnWritable();
  }
  size_t queued_bytes() const { return queued_bytes_; }
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

  Connection* connection_;
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
};

class WebSocketSession final : private http::WsFrameHandler {
 public:
  using SendResult = HttpStream::SendResult;
  WebSocketSession(Connection* connection, WsStreamPtr stream, const WebSocketLimits& limits, double now);

  // Consumes bytes from the wire; false once the connection must close after its writes.
  size_t Feed(const char* data, size_t len);
  SendResult SendFrame(http::WsOpcode opcode, std::string_view payload);
  SendResult SendMessage(bool text, std::string_view data);
  SendResult SendClose(int code, std::string_view reason);
  void Tick(double now);
  bool closing() const { return closing_; }
  const WsStreamPtr& stream() const { return stream_; }

 private:
  bool OnFrame(bool fin, bool rsv1, http::WsOpcode opcode, std::string_view payload) override;
  bool ProtocolError(int code, const char* reason);
  bool FinishMessage();

  Connection* connection_;
  WsStreamPtr stream_;
  WebSocketLimits limits_;
  http::WsFrameParser parser_;
  std::unique_ptr<http::PerMessageDeflate> deflate_;
  std::string message_;
  bool in_message_ = false;
  bool message_text_ = false;
  bool message_compressed_ = false;
  bool closing_ = false;
  double next_ping_ = 0;
  double pong_deadline_ = 0;
  double close_deadline_ = 0;
  std::string scratch_;
};

}  // namespace esg::engine
