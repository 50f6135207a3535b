// H2HeadBuilder: the request head of one HTTP/2 stream, field by field, and ESG's checks on it.
#include "server/http2/h2_head.h"

#include <cstdint>

namespace esg::http2 {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

void H2HeadBuilder::AddField(std::string_view n, std::string_view v, StreamHead* out) {
  // The decoder has to run to the end of the block (HPACK state is per connection), but nothing past the
  // bound is kept: an HPACK bomb costs CPU proportional to its (bounded) compressed size only.
  Count(n, v);
  if (too_large_) return;
  http::RequestHead& h = out->head;
  if (!n.empty() && n[0] == ':') {
    if (n == ":method") h.method.assign(v);
    else if (n == ":path") h.target.assign(v);
    else if (n == ":scheme") out->scheme.assign(v);
    else if (n == ":authority") { authority_.assign(v); has_authority_ = true; }
    return;
  }
  if (n == "host") {  // put first by Finish, or replaced by :authority (a mismatch is malformed)
    host_.assign(v);
    has_host_ = true;
    return;
  }
  if (n == "cookie") {  // §8.2.3: crumbs are joined for an HTTP/1.1-shaped app
    if (!cookie_.empty()) cookie_ += "; ";
    cookie_.append(v);
    return;
  }
  h.headers.push_back(http::Header{std::string(n), std::string(v)});
}

H2HeadBuilder::Verdict H2HeadBuilder::Finish(StreamHead* out) {
  http::RequestHead& h = out->head;
  if (too_large_) return Verdict::kTooLarge;
  if (h.method == "CONNECT") return Verdict::kConnect;  // nghttp2 accepts CONNECT (§8.5)
  // §8.3.1: Host naming another authority than :authority is malformed. nghttp2 does not check it.
  if (has_authority_ && has_host_ && !EqualsNoCase(authority_, host_)) return Verdict::kMalformed;
  // §8.3.1 :path: origin-form, or "*" for OPTIONS (nghttp2 checks this too; kept as a second line).
  if (h.target.empty() || (h.target[0] != '/' && !(h.target == "*" && h.method == "OPTIONS")))
    return Verdict::kMalformed;
  if (has_authority_ || has_host_)
    h.headers.insert(h.headers.begin(), http::Header{"host", has_authority_ ? authority_ : host_});
  if (!cookie_.empty()) h.headers.push_back(http::Header{"cookie", cookie_});
  h.header_count = h.headers.size();
  for (const http::Header& f : h.headers) {
    if (f.name == "content-length") {  // nghttp2 checked it is one decimal number
      int64_t v = 0;
      for (char c : f.value) {
        if (v > (INT64_MAX - 9) / 10) break;  // nghttp2 refuses such values already
        v = v * 10 + (c - '0');
      }
      h.content_length = v;
    }
  }
  h.version_major = 2;
  h.version_minor = 0;
  h.keep_alive = true;
  return Verdict::kOk;
}

}  // namespace esg::http2
