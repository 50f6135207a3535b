// WebSocket wire format (RFC 6455): the opening-handshake checks and accept key, an incremental frame
// parser for client frames (strict: masked, no reserved bits or opcodes, control frames whole and
// short, fragmentation rules, a message-size limit enforced from frame headers), frame-header encoding for
// server frames, close-code rules and an incremental UTF-8 validator.
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

// UTF-8 validation of a text that arrives in pieces (fragments, inflated chunks): fails at the first byte
// that no valid continuation could make right (so an invalid fragment is refused before the message ends).
class Utf8Validator {
 public:
  // False once the bytes seen so far cannot begin a valid UTF-8 text.
  bool Feed(std::string_view bytes);
  // True when the text seen so far is valid and complete (no code point cut short).
  bool Complete() const { return remaining_ == 0 && !failed_; }
  void Reset() { remaining_ = 0, failed_ = false; }

 private:
  bool failed_ = false;
  uint8_t remaining_ = 0;   // continuation bytes still expected
  uint8_t lo_ = 0x80, hi_ = 0xbf;  // range of the next continuation byte (narrower right after some leads)
};

// Server frame header for `payload_size` bytes (FIN set, unmasked). Returns its length (2, 4 or 10).
size_t EncodeFrameHeader(WsOpcode opcode, bool rsv1, uint64_t payload_size, uint8_t out[10]);

// What the parser reports: messages (possibly fragmented, payload streamed as it arrives) and control frames.
// Every callback returns false to stop parsing (the connection is closing).
class WsFrameHandler {
 public:
  virtual ~WsFrameHandler() = default;
  // The first frame of a text or binary message; `compressed`: its RSV1 bit (permessage-deflate).
  virtual bool OnMessageStart(bool text, bool compressed) = 0;
  // Unmasked payload bytes of the current message, in order (never empty).
  virtual bool OnMessageData(std::string_view data) = 0;
  // The frame with FIN ended: the message is whole.
  virtual bool OnMessageEnd() = 0;
  // A whole control frame (ping, pong, close), at most 125 bytes of payload, unmasked. May arrive between
  // the fragments of a message.
  virtual bool OnControl(WsOpcode opcode, std::string_view payload) = 0;
  // Asked between whole messages: true stops Feed() before the next frame, leaving the rest unconsumed
  // for the caller to feed again later (the receiver's queue is full: --ws-max-queue).
  virtual bool Full() const { return false; }
};

class WsFrameParser {
 public:
  static constexpr size_t kMaxControlPayload = 125;

  // allow_rsv1: permessage-deflate was negotiated. max_message: the payload bytes one message may have on
  // the wire, all its fragments counted; a frame header announcing more is refused at once (1009).
  WsFrameParser(bool allow_rsv1, uint64_t max_message) : allow_rsv1_(allow_rsv1), max_message_(max_message) {}

  // Consumes bytes (unmasking payload in place); returns how many. On a protocol error returns what was
  // consumed and sets error_code() (1002 protocol error, 1009 too big); the caller then closes with that
  // code. A header is judged as soon as the bytes that decide it are in: the length before the mask.
  size_t Feed(char* data, size_t len, WsFrameHandler* handler);
  int error_code() const { return error_code_; }
  const std::string& error_reason() const { return error_reason_; }
  bool stopped() const { return stopped_; }

 private:
  enum class Stage : uint8_t { kFirst, kLength, kMask, kPayload };
  bool Fail(int code, const char* reason);
  bool CheckFirst();   // the first two bytes: mask bit, reserved bits, opcode, fragmentation rules
  bool CheckLength();  // the length: its top bit, control frame and message limits
  size_t LengthBytes() const { return (header_[1] & 0x7f) == 126 ? 2 : (header_[1] & 0x7f) == 127 ? 8 : 0; }

  bool allow_rsv1_;
  uint64_t max_message_;
  uint8_t header_[14] = {};      // partial frame header (2 + up to 8 length + 4 mask bytes)
  size_t header_len_ = 0;
  Stage stage_ = Stage::kFirst;
  uint64_t frame_size_ = 0;     // payload length of the current frame
  char control_[kMaxControlPayload] = {};  // payload of the current control frame
  size_t control_len_ = 0;
  uint64_t frame_offset_ = 0;   // payload bytes of the current frame seen (mask position)
  uint64_t message_bytes_ = 0;  // payload bytes of the current message so far (all its frames)
  bool in_message_ = false;     // a text/binary message without its FIN frame yet
  bool fin_ = false;
  bool rsv1_ = false;
  WsOpcode opcode_ = WsOpcode::kContinuation;
  uint8_t mask_[4] = {};
  int error_code_ = 0;
  std::string error_reason_;
  bool stopped_ = false;
};

}  // namespace esg::http
