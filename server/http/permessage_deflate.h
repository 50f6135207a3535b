// permessage-deflate (RFC 7692): offer negotiation and the per-connection compressor/decompressor (zlib).
// Decompression is capped, so a small compressed message cannot expand past --ws-max-size.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace esg::http {

struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;
  std::string response;  // the Sec-WebSocket-Extensions value to answer with
};

// Picks the first acceptable permessage-deflate offer of a Sec-WebSocket-Extensions header.
std::optional<DeflateParams> NegotiateDeflate(std::string_view extensions_header);

class PerMessageDeflate {
 public:
  explicit PerMessageDeflate(const DeflateParams& params);
  ~PerMessageDeflate();
  PerMessageDeflate(const PerMessageDeflate&) = delete;
  PerMessageDeflate& operator=(const PerMessageDeflate&) = delete;

  // Inflates one whole message; false when it is corrupt or would exceed `limit` bytes (*too_big set).
  bool Decompress(std::string_view in, size_t limit, std::string* out, bool* too_big);
  // Deflates one whole message (without the trailing 00 00 ff ff).
  bool Compress(std::string_view in, std::string* out);

 private:
  DeflateParams params_;
  z_stream inflate_{};
  z_stream deflate_{};
  bool inflate_ok_ = false;
  bool deflate_ok_ = false;
};

}  // namespace esg::http
