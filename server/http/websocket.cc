// WebSocket wire format implementation (see websocket.h).
#include "server/http/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

namespace esg::http {

std::string WebSocketAccept(std::string_view key) {
  static const char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[32];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

bool ValidWebSocketKey(std::string_view key) {
  if (key.size() != 24) return false;
  unsigned char out[24];
  int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size()));
  return n == 18 && key[22] == '=' && key[23] == '=';  // 16 bytes + 2 padding
}

bool ValidCloseCode(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

bool ValidUtf8(std::string_view text) {
  Utf8Validator v;
  return v.Feed(text) && v.Complete();
}

// Byte ranges from RFC 3629 §4: the second byte after E0, ED, F0 and F4 is narrower, which rules out
// overlong forms, surrogates and code points past U+10FFFF as soon as that byte is seen.
bool Utf8Validator::Feed(std::string_view bytes) {
  if (failed_) return false;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = s[i];
    if (remaining_ == 0) {
      if (c < 0x80) continue;
      lo_ = 0x80, hi_ = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) {
        remaining_ = 1;
      } else if (c >= 0xe0 && c <= 0xef) {
        remaining_ = 2;
        if (c == 0xe0) lo_ = 0xa0;
        if (c == 0xed) hi_ = 0x9f;
      } else if (c >= 0xf0 && c <= 0xf4) {
        remaining_ = 3;
        if (c == 0xf0) lo_ = 0x90;
        if (c == 0xf4) hi_ = 0x8f;
      } else {
        failed_ = true;
        return false;
      }
    } else {
      if (c < lo_ || c > hi_) {
        failed_ = true;
        return false;
      }
      --remaining_;
      lo_ = 0x80, hi_ = 0xbf;
    }
  }
  return true;
}

size_t EncodeFrameHeader(WsOpcode opcode, bool rsv1, uint64_t size, uint8_t out[10]) {
  out[0] = static_cast<uint8_t>(0x80 | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(opcode));
  if (size < 126) {
    out[1] = static_cast<uint8_t>(size);
    return 2;
  }
  if (size <= 0xffff) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(size >> 8);
    out[3] = static_cast<uint8_t>(size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(size >> (56 - 8 * i));
  return 10;
}

namespace {

// XORs `n` payload bytes with the mask, `offset` being their position in the frame (eight at a time).
void Unmask(char* p, size_t n, const uint8_t mask[4], uint64_t offset) {
  uint8_t m[8];
  for (int i = 0; i < 8; ++i) m[i] = mask[(offset + i) & 3];
  size_t i = 0;
  uint64_t m8;
  std::memcpy(&m8, m, 8);
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= m8;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] ^= static_cast<char>(m[i & 7]);
}

}  // namespace

bool WsFrameParser::Fail(int code, const char* reason) {
  error_code_ = code;
  error_reason_ = reason;
  stopped_ = true;
  return false;
}

bool WsFrameParser::CheckFirst() {
  uint8_t b0 = header_[0], b1 = header_[1];
  if (!(b1 & 0x80)) return Fail(1002, "client frame not masked");
  fin_ = b0 & 0x80;
  rsv1_ = b0 & 0x40;
  uint8_t op = b0 & 0x0f;
  opcode_ = static_cast<WsOpcode>(op);
  if ((b0 & 0x30) || (rsv1_ && !allow_rsv1_)) return Fail(1002, "reserved bit set");
  if (!(op <= 2 || (op >= 8 && op <= 10))) return Fail(1002, "reserved opcode");
  if (op >= 8) {
    if (!fin_ || (b1 & 0x7f) > kMaxControlPayload) return Fail(1002, "fragmented or oversized control frame");
    if (rsv1_) return Fail(1002, "compressed control frame");
    return true;
  }
  if (op == 0 && !in_message_) return Fail(1002, "continuation without a message");
  if (op == 0 && rsv1_) return Fail(1002, "reserved bit on a continuation frame");
  if (op != 0 && in_message_) return Fail(1002, "new message inside a fragmented one");
  return true;
}

bool WsFrameParser::CheckLength() {
  size_t len_bytes = LengthBytes();
  uint64_t size = len_bytes ? 0 : (header_[1] & 0x7f);
  for (size_t i = 0; i < len_bytes; ++i) size = (size << 8) | header_[2 + i];
  if (len_bytes == 8 && (size >> 63)) return Fail(1002, "invalid frame length");
  // Data frames: the whole message (the fragments already received and this one) must fit the limit.
  if (opcode_ <= WsOpcode::kBinary && size > max_message_ - message_bytes_) return Fail(1009, "message too big");
  frame_size_ = size;
  return true;
}

size_t WsFrameParser::Feed(char* data, size_t len, WsFrameHandler* handler) {
  size_t pos = 0;
  while (!stopped_) {
    if (stage_ == Stage::kFirst && header_len_ == 0 && !in_message_ && handler->Full()) break;
    if (stage_ == Stage::kFirst) {
      while (pos < len && header_len_ < 2) header_[header_len_++] = static_cast<uint8_t>(data[pos++]);
      if (header_len_ < 2) break;
      if (!CheckFirst()) break;
      stage_ = Stage::kLength;
    }
    size_t length_end = 2 + LengthBytes();
    if (stage_ == Stage::kLength) {
      while (pos < len && header_len_ < length_end) header_[header_len_++] = static_cast<uint8_t>(data[pos++]);
      if (header_len_ < length_end) break;
      if (!CheckLength()) break;
      stage_ = Stage::kMask;
    }
    if (stage_ == Stage::kMask) {
      while (pos < len && header_len_ < length_end + 4) header_[header_len_++] = static_cast<uint8_t>(data[pos++]);
      if (header_len_ < length_end + 4) break;
      std::memcpy(mask_, header_ + length_end, 4);
      header_len_ = 0;
      frame_offset_ = 0;
      control_len_ = 0;
      stage_ = Stage::kPayload;
      if (opcode_ == WsOpcode::kText || opcode_ == WsOpcode::kBinary) {
        in_message_ = true;
        message_bytes_ = 0;
        if (!handler->OnMessageStart(opcode_ == WsOpcode::kText, rsv1_)) {
          stopped_ = true;
          break;
        }
      }
    }
    // Payload.
    size_t take = static_cast<size_t>(std::min<uint64_t>(frame_size_ - frame_offset_, len - pos));
    bool control = opcode_ >= WsOpcode::kClose;
    if (take > 0) {
      Unmask(data + pos, take, mask_, frame_offset_);
      frame_offset_ += take;
      if (control) {
        std::memcpy(control_ + control_len_, data + pos, take);  // frame_size_ <= 125 (CheckFirst)
        control_len_ += take;
      } else {
        message_bytes_ += take;
        if (!handler->OnMessageData(std::string_view(data + pos, take))) {
          pos += take;
          stopped_ = true;
          break;
        }
      }
      pos += take;
    }
    if (frame_offset_ < frame_size_) break;  // the rest of the payload is still to come
    stage_ = Stage::kFirst;
    bool go_on;
    if (control) {
      go_on = handler->OnControl(opcode_, std::string_view(control_, control_len_));
    } else if (fin_) {
      in_message_ = false;
      message_bytes_ = 0;
      go_on = handler->OnMessageEnd();
    } else {
      go_on = true;
    }
    if (!go_on) {
      stopped_ = true;
      break;
    }
  }
  return pos;
}

}  // namespace esg::http
