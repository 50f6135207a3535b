// Fuzz target: --access-log-format compiled from arbitrary text and rendered over arbitrary request bytes.
// Input: the first byte is the format's length; then the format, then the bytes split on NUL into the
// method, target, three request header values and a response head. Aborts when a compiled format renders a
// byte outside printable ASCII (control bytes are taken out of the format itself: literal text is the
// operator's), or when a json line does not look like one object.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/access_log_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t format_size = std::min<size_t>(data[0], size - 1);
  std::string spec(reinterpret_cast<const char*>(data + 1), format_size);
  for (char& c : spec) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = 'x';
  }
  if (spec.size() > 4 && spec.substr(0, 4) == "json") spec = "json";
  esg::http::AccessLogFormat format;
  std::string error;
  if (!esg::http::AccessLogFormat::Compile(spec, &format, &error)) {
    if (error.empty()) abort();
    return 0;
  }
  std::string_view rest(reinterpret_cast<const char*>(data + 1 + format_size), size - 1 - format_size);
  std::vector<std::string_view> parts;
  while (parts.size() < 6) {
    size_t nul = rest.find('\0');
    parts.push_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) {
      rest = {};
    } else {
      rest.remove_prefix(nul + 1);
    }
  }
  std::vector<std::string> headers(format.request_headers().size());
  for (size_t i = 0; i < headers.size(); ++i) headers[i] = std::string(parts[2 + i % 3]);
  esg::http::AccessLogEntry entry;
  entry.client_host = "127.0.0.1";
  entry.client_text = "127.0.0.1:1";
  entry.method = parts[0];
  entry.target = parts[1];
  entry.status = 200;
  entry.body_bytes = static_cast<int64_t>(size);
  entry.seconds = static_cast<double>(size) / 7.0;
  entry.unix_micros = int64_t{1700000000} * 1000000 + static_cast<int64_t>(size);
  entry.request_headers = &headers;
  entry.response_head = parts[5];
  std::string line;
  format.Render(entry, &line);
  for (char c : line) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) abort();
  }
  if (format.json() && (line.empty() || line.front() != '{' || line.back() != '}')) abort();
  return 0;
}
