// WebSocket wire format implementation (see websocket.h).
#include "server/http/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

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
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
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

bool WsFrameParser::Fail(int code, const char* reason) {
  error_code_ = code;
  error_reason_ = reason;
  stopped_ = true;
  return false;
}

size_t WsFrameParser::Feed(const char* data, size_t len, WsFrameHandler* handler) {
  size_t pos = 0;
  while (pos < len && !stopped_) {
    if (!in_payload_) {
      // Header: 2 bytes, then 2 or 8 length bytes, then the 4-byte mask.
      while (pos < len && header_.size() < 2) header_.push_back(data[pos++]);
      if (header_.size() < 2) break;
      uint8_t b0 = static_cast<uint8_t>(header_[0]), b1 = static_cast<uint8_t>(header_[1]);
      if (!(b1 & 0x80)) return Fail(1002, "client frame not masked"), pos;
      size_t len_bytes = (b1 & 0x7f) == 126 ? 2 : (b1 & 0x7f) == 127 ? 8 : 0;
      size_t want = 2 + len_bytes + 4;
      while (pos < len && header_.size() < want) header_.push_back(data[pos++]);
      if (header_.size() < want) break;
      fin_ = b0 & 0x80;
      rsv1_ = b0 & 0x40;
      opcode_ = static_cast<WsOpcode>(b0 & 0x0f);
      if ((b0 & 0x30) || (rsv1_ && !allow_rsv1_)) return Fail(1002, "reserved bit set"), pos;
      uint8_t op = b0 & 0x0f;
      bool control = op >= 8;
      if (!(op <= 2 || (op >= 8 && op <= 10))) return Fail(1002, "reserved opcode"), pos;
      uint64_t size = len_bytes ? 0 : (b1 & 0x7f);
      for (size_t i = 0; i < len_bytes; ++i) size = (size << 8) | static_cast<uint8_t>(header_[2 + i]);
      if (len_bytes == 8 && (size >> 63)) return Fail(1002, "invalid frame length"), pos;
      if (control && (!fin_ || size > 125)) return Fail(1002, "fragmented or oversized control frame"), pos;
      if (control && rsv1_) return Fail(1002, "compressed control frame"), pos;
      if (size > max_frame_) return Fail(1009, "frame too big"), pos;
      std::memcpy(mask_, header_.data() + 2 + len_bytes, 4);
      header_.clear();
      payload_.clear();
      need_ = size;
      in_payload_ = true;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(need_, len - pos));
    size_t offset = payload_.size();
    payload_.append(data + pos, take);
    for (size_t i = 0; i < take; ++i) payload_[offset + i] ^= static_cast<char>(mask_[(offset + i) & 3]);
    pos += take;
    need_ -= take;
    if (need_ == 0) {
      in_payload_ = false;
      if (!handler->OnFrame(fin_, rsv1_, opcode_, payload_)) {
        stopped_ = true;
        break;
      }
    }
  }
  return pos;
}

}  // namespace esg::http
