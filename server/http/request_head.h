// RequestHead: one parsed HTTP/1.x request line and header block, as the engine hands it to the app
// channel. Names are lowercased; order and duplicates are kept. Strings keep their capacity between
// requests on a connection, so a keep-alive connection does not re-allocate per request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace esg::http {

struct Header {
  std::string name;  // lowercased
  std::string value;
};

struct RequestHead {
  std::string method;
  std::string target;  // request-target as sent: path[?query]
  int version_major = 1;
  int version_minor = 1;
  std::vector<Header> headers;  // only the first header_count entries are valid
  size_t header_count = 0;

  // Framing facts the parser derived (validated: at most one framing, no conflicts).
  int64_t content_length = -1;  // -1: none given
  bool chunked = false;
  bool keep_alive = true;       // after this request, per version and Connection header
  bool expect_continue = false;
  bool upgrade = false;         // Connection: upgrade with an Upgrade header

  std::string_view path() const;          // target up to '?'
  std::string_view query_string() const;  // after '?', or empty
  bool has_body() const { return chunked || content_length > 0; }
  void Reset();
};

}  // namespace esg::http
