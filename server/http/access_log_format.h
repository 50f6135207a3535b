// AccessLogFormat: --access-log-format, compiled once at start-up into a list of pieces and rendered once
// per response into a caller-owned buffer.
//
// The format is gunicorn's access_log_format (Python %-formatting over named atoms), because that is what
// people already write: `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s`, with
// `%({name}i)s` / `%({name}o)s` for a request / response header, `%({name}e)s` for an environment variable
// and `%%` for a percent sign. The preset `json` writes one JSON object per line instead. An unknown atom or
// a malformed format is refused by Compile with a sentence (the CLI names the option), never at run time.
//
// Every value that comes from a request or an app is escaped as log::Escape does (control bytes and bytes
// past ASCII become \xNN, a backslash \\) and a double quote becomes \" (as gunicorn writes it), so a client
// cannot forge a line; header values are cut at kMaxHeaderBytes. Nothing here depends on the engine: the
// connection fills an AccessLogEntry and calls Render.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace esg::http {

// What one response contributes to its access line. Views stay valid for the Render call only.
struct AccessLogEntry {
  std::string_view client_host;  // "127.0.0.1" (for a UNIX-socket peer, the "unix:PATH" text)
  std::string_view client_text;  // "127.0.0.1:51234"
  std::string_view method;
  std::string_view target;       // as sent: path[?query]
  int http_major = 1;            // 2: HTTP/2 (then http_minor is not shown)
  int http_minor = 1;
  int status = 0;
  int64_t body_bytes = 0;        // response body bytes the app sent
  double seconds = 0;            // request head complete -> response complete (if needs_duration())
  int64_t unix_micros = 0;       // wall clock now (if needs_time())
  // Values of the request headers the format asked for (request_headers()), same order; empty: absent.
  const std::vector<std::string>* request_headers = nullptr;
  std::string_view response_head;  // the encoded response head ("HTTP/1.1 200 OK\r\nname: value\r\n...")
};

class AccessLogFormat {
 public:
  // A header atom renders at most this many bytes of the value (before escaping).
  static constexpr size_t kMaxHeaderBytes = 1024;
  // Any other atom (request line, path, query) renders at most this many bytes.
  static constexpr size_t kMaxAtomBytes = 8192;

  // Compiles `spec` ("json" is the preset). False, with a sentence in *error, when it has an unknown atom
  // or is not a valid format. `spec` may be anything a user types: nothing is assumed about it.
  static bool Compile(std::string_view spec, AccessLogFormat* out, std::string* error);

  // Appends the line for `entry` (no newline) to *out.
  void Render(const AccessLogEntry& entry, std::string* out) const;

  // Lowercased names of the request headers Render reads from entry.request_headers, in that order;
  // the connection copies their values (joined with "," when repeated, cut at kMaxHeaderBytes) at the
  // request head.
  const std::vector<std::string>& request_headers() const { return request_headers_; }
  bool needs_duration() const { return needs_duration_; }
  bool needs_time() const { return needs_time_; }
  bool json() const { return json_; }

 private:
  enum class Kind : uint8_t {
    kLiteral, kRemoteHost, kDash, kUser, kTime, kRequestLine, kMethod, kPath, kQuery, kProtocol, kStatus,
    kBytes, kBytesOrDash, kSeconds, kMicros, kMillis, kDecimalSeconds, kPid, kRequestHeader,
    kResponseHeader, kJson,
  };
  struct Piece {
    Kind kind;
    std::string text;  // literal text; the header name (lowercased) for kResponseHeader
    size_t index = 0;  // request header slot for kRequestHeader and kUser
  };
  size_t HeaderSlot(std::string_view lowercase_name);
  void RenderJson(const AccessLogEntry& entry, std::string* out) const;

  std::vector<Piece> pieces_;
  std::vector<std::string> request_headers_;
  std::string pid_;  // "<1234>", as gunicorn writes it
  bool needs_duration_ = false;
  bool needs_time_ = false;
  bool json_ = false;
};

// Appends `text` escaped for a log line: bytes below 0x20, 0x7f and past ASCII as \xNN, a backslash as \\,
// and (quote == true) a double quote as \". At most `limit` input bytes are read.
void AppendEscaped(std::string_view text, bool quote, size_t limit, std::string* out);

// The value of header `lowercase_name` in an encoded response head, or false when it has none.
bool FindResponseHeader(std::string_view head, std::string_view lowercase_name, std::string_view* value);

}  // namespace esg::http
