// H2HeadBuilder: one HTTP/2 request header block, field by field as nghttp2 decodes it, turned into the
// head the engine's app channel takes (StreamHead), with the bounds and the checks nghttp2 leaves to its
// user: header-list size and field count, Host vs :authority, :path form, CONNECT, cookie crumbs.
// Pure (no nghttp2): H2Session feeds it from its on_header callback; see README.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "server/http/request_head.h"

namespace esg::http2 {

// A request as the engine's app channel takes it: method, path[?query] as target, version 2.0, headers
// with `host` first (from :authority, or the Host header when :authority is absent), cookies joined.
struct StreamHead {
  http::RequestHead head;
  std::string scheme;  // :scheme as sent (nghttp2 checked its characters)
};

class H2HeadBuilder {
 public:
  enum class Verdict {
    kOk,         // `head` is complete
    kTooLarge,   // over the list size or the field count: answer 431
    kConnect,    // CONNECT: answer 501 (ESG is not a proxy)
    kMalformed,  // RFC 9113 §8.3.1 (Host vs :authority, :path form): RST_STREAM PROTOCOL_ERROR
  };

  H2HeadBuilder(size_t max_list_size, size_t max_fields) : max_list_(max_list_size), max_fields_(max_fields) {}

  // A new header block starts (the request head, or later a trailer section): the bounds count afresh.
  void StartBlock() {
    list_size_ = 0;
    fields_ = 0;
  }
  // One decoded field of the request head, in order (nghttp2 already let through only valid names and
  // values, known pseudo-headers first and once). Past the bounds nothing more is kept.
  void AddField(std::string_view name, std::string_view value, StreamHead* out);
  // One field of a trailer section: counted against the bounds, not kept (ASGI has no request trailers).
  void CountField(std::string_view name, std::string_view value) { Count(name, value); }
  bool too_large() const { return too_large_; }
  // The block ended: the verdict, and for kOk the finished head (host first, cookies joined, framing).
  Verdict Finish(StreamHead* out);

 private:
  void Count(std::string_view name, std::string_view value) {
    list_size_ += name.size() + value.size() + 32;  // RFC 9113 §6.5.2
    if (++fields_ > max_fields_ || list_size_ > max_list_) too_large_ = true;
  }

  size_t max_list_;
  size_t max_fields_;
  size_t list_size_ = 0;
  size_t fields_ = 0;
  bool too_large_ = false;
  bool has_authority_ = false;
  bool has_host_ = false;
  std::string authority_, host_, cookie_;
};

}  // namespace esg::http2
