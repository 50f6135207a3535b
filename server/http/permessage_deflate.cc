// permessage-deflate implementation: raw deflate streams with context takeover as negotiated.
#include "server/http/permessage_deflate.h"

#include <algorithm>
#include <charconv>

namespace esg::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses one offer ("permessage-deflate; a; b=1"); nothing when it is not acceptable.
std::optional<DeflateParams> ParseOffer(std::string_view offer) {
  size_t semi = offer.find(';');
  if (Trim(offer.substr(0, semi)) != "permessage-deflate") return std::nullopt;
  DeflateParams p;
  std::string response = "permessage-deflate";
  bool seen_snct = false, seen_cnct = false, seen_smwb = false, seen_cmwb = false;
  while (semi != std::string_view::npos) {
    offer = offer.substr(semi + 1);
    semi = offer.find(';');
    std::string_view param = Trim(offer.substr(0, semi));
    size_t eq = param.find('=');
    std::string_view name = Trim(param.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? std::string_view() : Trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (name == "server_no_context_takeover" && value.empty() && !seen_snct) {
      seen_snct = p.server_no_context_takeover = true;
      response += "; server_no_context_takeover";
    } else if (name == "client_no_context_takeover" && value.empty() && !seen_cnct) {
      seen_cnct = p.client_no_context_takeover = true;
      response += "; client_no_context_takeover";
    } else if (name == "server_max_window_bits" && !seen_smwb) {
      seen_smwb = true;
      int bits = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), bits);
      // zlib's raw deflate cannot make 8-bit windows: decline such an offer rather than lie.
      if (ec != std::errc() || ptr != value.data() + value.size() || bits < 9 || bits > 15) return std::nullopt;
      p.server_max_window_bits = bits;
      response += "; server_max_window_bits=" + std::to_string(bits);
    } else if (name == "client_max_window_bits" && !seen_cmwb) {
      seen_cmwb = true;  // we inflate with a 15-bit window, which reads any smaller one
      if (!value.empty()) {
        int bits = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), bits);
        if (ec != std::errc() || ptr != value.data() + value.size() || bits < 8 || bits > 15) return std::nullopt;
      }
    } else {
      return std::nullopt;  // unknown or repeated parameter: this offer is not acceptable
    }
  }
  p.response = response;
  return p;
}

}  // namespace

std::optional<DeflateParams> NegotiateDeflate(std::string_view header) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    if (auto p = ParseOffer(Trim(header.substr(0, comma)))) return p;
    if (comma == std::string_view::npos) break;
    header = header.substr(comma + 1);
  }
  return std::nullopt;
}

PerMessageDeflate::PerMessageDeflate(const DeflateParams& params) : params_(params) {
  inflate_ok_ = inflateInit2(&inflate_, -15) == Z_OK;
  deflate_ok_ = deflateInit2(&deflate_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -params.server_max_window_bits, 8,
                             Z_DEFAULT_STRATEGY) == Z_OK;
}

PerMessageDeflate::~PerMessageDeflate() {
  if (inflate_ok_) inflateEnd(&inflate_);
  if (deflate_ok_) deflateEnd(&deflate_);
}

PerMessageDeflate::InflateResult PerMessageDeflate::InflateSome(const unsigned char* data, size_t len,
                                                               size_t limit, std::string* out) {
  while (len > 0) {
    if (stream_ended_) return InflateResult::kCorrupt;  // data after the end of the deflate stream
    // zlib counts in uInt: hand it at most 1 GiB at a time.
    uInt piece = static_cast<uInt>(std::min<size_t>(len, 1u << 30));
    inflate_.next_in = const_cast<Bytef*>(data);
    inflate_.avail_in = piece;
    for (;;) {
      char chunk[16384];
      inflate_.next_out = reinterpret_cast<Bytef*>(chunk);
      inflate_.avail_out = sizeof chunk;
      uInt in_before = inflate_.avail_in;
      int rc = inflate(&inflate_, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return InflateResult::kCorrupt;
      size_t got = sizeof chunk - inflate_.avail_out;
      if (got > limit - std::min(limit, out->size())) return InflateResult::kTooBig;
      out->append(chunk, got);
      if (rc == Z_STREAM_END) {
        stream_ended_ = true;  // what follows in this message, if anything, is refused above
        break;
      }
      // Done once zlib has taken all the input and had room to spare (or had nothing more to give). Every
      // other round must move something: never loop without progress.
      if (inflate_.avail_in == 0 && (inflate_.avail_out > 0 || got == 0)) break;
      if (got == 0 && inflate_.avail_in == in_before) return InflateResult::kCorrupt;
    }
    size_t used = piece - inflate_.avail_in;
    data += used;
    len -= used;
    if (!stream_ended_ && used < piece) return InflateResult::kCorrupt;  // not reachable: zlib took it all
  }
  return InflateResult::kOk;
}

bool PerMessageDeflate::RestartInflate() {
  stream_ended_ = false;
  if (params_.client_no_context_takeover) return inflateReset(&inflate_) == Z_OK;
  // RFC 7692 §7.2.2: without client_no_context_takeover the next message may refer to this one's data,
  // even though this one ended its deflate stream: keep the window as the new stream's dictionary.
  unsigned char window[32768];
  uInt size = sizeof window;
  if (inflateGetDictionary(&inflate_, window, &size) != Z_OK) return false;
  if (inflateReset(&inflate_) != Z_OK) return false;
  return size == 0 || inflateSetDictionary(&inflate_, window, size) == Z_OK;
}

PerMessageDeflate::InflateResult PerMessageDeflate::Inflate(std::string_view in, bool last, size_t limit,
                                                           std::string* out) {
  if (!inflate_ok_) return InflateResult::kCorrupt;
  InflateResult r = InflateSome(reinterpret_cast<const unsigned char*>(in.data()), in.size(), limit, out);
  if (r != InflateResult::kOk || !last) return r;
  if (stream_ended_) {
    // The data ended with a final block: the 00 00 ff ff tail would come after the stream's end.
    return RestartInflate() ? InflateResult::kOk : InflateResult::kCorrupt;
  }
  static const unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
  r = InflateSome(kTail, sizeof kTail, limit, out);
  if (r != InflateResult::kOk) return r;
  if (stream_ended_) return RestartInflate() ? InflateResult::kOk : InflateResult::kCorrupt;
  if (params_.client_no_context_takeover && inflateReset(&inflate_) != Z_OK) return InflateResult::kCorrupt;
  return InflateResult::kOk;
}

bool PerMessageDeflate::Decompress(std::string_view in, size_t limit, std::string* out, bool* too_big) {
  out->clear();
  InflateResult r = Inflate(in, /*last=*/true, limit, out);
  *too_big = r == InflateResult::kTooBig;
  return r == InflateResult::kOk;
}

bool PerMessageDeflate::Compress(std::string_view in, std::string* out) {
  if (!deflate_ok_) return false;
  out->clear();
  if (in.empty()) {
    // RFC 7692 §7.2.3.6: a single 00 (an empty stored block once the receiver appends 00 00 ff ff). zlib would
    // give nothing at all after an earlier sync flush (Z_BUF_ERROR), and an empty payload would leave the
    // peer's inflater inside a block header: found by the permessage_deflate fuzzer.
    out->push_back('\0');
    return true;
  }
  char chunk[16384];
  deflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  deflate_.avail_in = static_cast<uInt>(in.size());
  do {
    deflate_.next_out = reinterpret_cast<Bytef*>(chunk);
    deflate_.avail_out = sizeof chunk;
    int rc = deflate(&deflate_, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    out->append(chunk, sizeof chunk - deflate_.avail_out);
  } while (deflate_.avail_out == 0);
  if (out->size() >= 4) out->resize(out->size() - 4);  // RFC 7692 §7.2.1: drop 00 00 ff ff
  if (params_.server_no_context_takeover) deflateReset(&deflate_);
  return true;
}

}  // namespace esg::http
