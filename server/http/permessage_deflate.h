// permessage-deflate (RFC 7692): offer negotiation and the per-connection compressor/decompressor (zlib).
// Decompression streams (a message is inflated as its fragments arrive) and is capped while it runs, so a
// small compressed message cannot expand past --ws-max-size, and it always terminates: a message whose data
// ends the deflate stream (a final block, as zlib's Z_FINISH makes) is decoded and the inflater restarted
// with the same window.
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

  enum class InflateResult { kOk, kTooBig, kCorrupt };
  // Inflates the next piece of the current message, appending to *out, which never grows past `limit`
  // bytes (kTooBig then). `last`: the message ends with this piece (its 00 00 ff ff tail is added and the
  // next message starts as the context-takeover rules say). After kTooBig or kCorrupt the connection
  // closes: the inflater is not usable for another message.
  InflateResult Inflate(std::string_view in, bool last, size_t limit, std::string* out);
  // Inflates one whole message into *out (cleared first); false when it is corrupt or would exceed `limit`
  // bytes (*too_big set).
  bool Decompress(std::string_view in, size_t limit, std::string* out, bool* too_big);
  // Deflates one whole message (without the trailing 00 00 ff ff).
  bool Compress(std::string_view in, std::string* out);

 private:
  DeflateParams params_;
  z_stream inflate_{};
  z_stream deflate_{};
  InflateResult InflateSome(const unsigned char* data, size_t len, size_t limit, std::string* out);
  bool RestartInflate();  // after the end of a deflate stream: a new stream with the same window

  bool inflate_ok_ = false;
  bool stream_ended_ = false;  // the current message's data ended the deflate stream (BFINAL block)
  bool deflate_ok_ = false;
};

}  // namespace esg::http
