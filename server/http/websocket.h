// WebSocket wire format (RFC 6455): the opening-handshake checks and accept key, an incremental frame
// parser for client frames (strict: masked, no reserved bits or opcodes, control frames whole and
// short), frame-header encoding for server frames, close-code rules and UTF-8 validation.
//
// Why not Boost.Beast: its websocket::stream needs an Asio stream and executor, while the engine runs
// its own epoll reactor on the Python thread; its frame codec is not a public API. The format is small.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace esg::http {

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64(SHA-1(key + GUID))).
std::string WebSocketAccept(std::string_view key);
// A key is valid when it is the base64 of 16 bytes.
bool ValidWebSocketKey(std::string_view key);

enum class WsOpcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Close codes a peer may send (RFC 6455 §7.4): 1000-1003, 1007-1011 (and 1012-1014), 3000-4999.
bool ValidCloseCode(int code);
bool ValidUtf8(std::string_view text);

// Server frame header for `payload_size` bytes (FIN set, unmasked). Returns its length (2, 4 or 10).
size_t EncodeFrameHeader(WsOpcode opcode, bool rsv1, uint64_t payload_size, uint8_t out[10]);

class WsFrameHandler {
 public:
  virtual ~WsFrameHandler() = default;
  // One complete frame, unmasked. Returns false to stop parsing (the connection is closing).
  virtual bool OnFrame(bool fin, bool rsv1, WsOpcode opcode, std::string_view payload) = 0;
};

class WsFrameParser {
 public:
  // allow_rsv1: permessage-deflate was negotiated. max_frame: larger payloads are refused (1009).
  WsFrameParser(bool allow_rsv1, uint64_t max_frame) : allow_rsv1_(allow_rsv1), max_frame_(max_frame) {}

  // Consumes bytes; returns how many. On a protocol error returns what was consumed and sets
  // error_code() (1002 protocol error, 1009 too big); the caller then closes with that code.
  size_t Feed(const char* data, size_t len, WsFrameHandler* handler);
  int error_code() const { return error_code_; }
  const std::string& error_reason() const { return error_reason_; }

 private:
  bool Fail(int code, const char* reason);

  bool allow_rsv1_;
  uint64_t max_frame_;
  std::string header_;   // partial frame header
  std::string payload_;  // partial payload
  uint64_t need_ = 0;    // payload bytes still missing
  bool in_payload_ = false;
  bool fin_ = false, rsv1_ = false;
  WsOpcode opcode_ = WsOpcode::kContinuation;
  uint8_t mask_[4] = {};
  int error_code_ = 0;
  std::string error_reason_;
  bool stopped_ = false;
};

}  // namespace esg::http
