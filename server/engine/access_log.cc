// Access log lines of HTTP responses (see access_log.h).
#include "server/engine/access_log.h"

#include <ctime>
#include <string>

#include "server/common/log.h"
#include "server/engine/clock.h"

namespace esg::engine {
namespace {

double PreciseNow() { return static_cast<double>(PreciseMonotonicMicros()) / 1e6; }

int64_t UnixMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

void CaptureForAccessLog(const EngineConfig& config, const http::RequestHead& head, HttpStream* stream) {
  const http::AccessLogFormat* format = config.access_log_format.get();
  if (!format) return;
  if (format->needs_duration()) stream->access_started = PreciseNow();
  const std::vector<std::string>& names = format->request_headers();
  if (names.empty()) return;
  stream->access_headers.resize(names.size());
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::Header& h = head.headers[i];
    for (size_t slot = 0; slot < names.size(); ++slot) {
      if (h.name != names[slot]) continue;
      std::string& value = stream->access_headers[slot];
      if (value.size() >= http::AccessLogFormat::kMaxHeaderBytes) break;
      if (!value.empty()) value.push_back(',');  // repeated: joined, as a WSGI environ has them
      value.append(h.value, 0, http::AccessLogFormat::kMaxHeaderBytes - value.size());
      break;
    }
  }
}

void WriteAccessLog(const EngineConfig& config, const PeerInfo& peer, HttpStream& stream) {
  const http::AccessLogFormat* format = config.access_log_format.get();
  if (!format) {
    log::Access().info("{} - \"{} {} HTTP/{}\" {}", peer.client_text, log::Escape(stream.method),
                       log::Escape(stream.target),
                       stream.http_major == 2 ? "2" : stream.http_minor == 0 ? "1.0" : "1.1",
                       stream.response().status());
    return;
  }
  http::AccessLogEntry entry;
  entry.client_host = peer.client_host.empty() ? std::string_view(peer.client_text) : peer.client_host;
  entry.client_text = peer.client_text;
  entry.method = stream.method;
  entry.target = stream.target;
  entry.http_major = stream.http_major;
  entry.http_minor = stream.http_minor;
  entry.status = stream.response().status();
  entry.body_bytes = stream.body_sent;
  if (format->needs_duration() && stream.access_started > 0) entry.seconds = PreciseNow() - stream.access_started;
  if (format->needs_time()) entry.unix_micros = UnixMicros();
  entry.request_headers = &stream.access_headers;
  entry.response_head = stream.response().encoded();
  // One buffer per thread, reused: its capacity stays with the longest line seen.
  thread_local std::string line;
  line.clear();
  format->Render(entry, &line);
  log::AccessLine(line);
}

}  // namespace esg::engine
