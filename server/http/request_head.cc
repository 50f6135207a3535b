// RequestHead helpers: splitting the request-target and resetting for the next request.
#include "server/http/request_head.h"

namespace esg::http {

std::string_view RequestHead::path() const {
  std::string_view t(target);
  size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view RequestHead::query_string() const {
  std::string_view t(target);
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

void RequestHead::Reset() {
  method.clear();
  target.clear();
  version_major = 1;
  version_minor = 1;
  header_count = 0;
  content_length = -1;
  chunked = false;
  keep_alive = true;
  expect_continue = false;
  upgrade = false;
}

}  // namespace esg::http
