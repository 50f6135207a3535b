// ServerStatus as Prometheus text (see prometheus.h).
#include "control/prometheus.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace esg::control {
namespace {

class Writer {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void Sample(std::string_view name, std::string_view labels, uint64_t value) {
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    out_.append(" ").append(std::to_string(value)).append("\n");
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", value);
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    out_.append(" ").append(text).append("\n");
  }
  // Microseconds written as exact decimal seconds ("62.008000"), not a binary double's approximation.
  void SampleMicros(std::string_view name, uint64_t micros) {
    char text[48];
    std::snprintf(text, sizeof text, "%" PRIu64 ".%06" PRIu64, micros / 1000000, micros % 1000000);
    out_.append(name).append(" ").append(text).append("\n");
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + PrometheusLabelValue(value) + "\"";
}

// The families of RequestCounters: requests by class, their durations, bytes in and out. Every class and
// bucket is written, zeros included, so a series exists from the first scrape (rate() needs two points).
void RequestFigures(Writer& w, const RequestCounters& c) {
  w.Family("esg_requests_total", "counter",
           "HTTP requests answered by all workers since the master started, by method class and status class "
           "(responses ESG sent itself, such as 400, 408, 413, 431 and 503, included).");
  for (int m = 0; m < kMethodClasses; ++m) {
    for (int st = 0; st < kStatusClasses; ++st) {
      w.Sample("esg_requests_total",
               Label("method_class", kMethodClassNames[m]) + "," + Label("status_class", kStatusClassNames[st]),
               c.requests[m][st]);
    }
  }
  w.Family("esg_request_duration_seconds", "histogram",
           "Time from a request's head to its response's last byte handed to the socket.");
  uint64_t cumulative = 0;
  for (int b = 0; b < kDurationBuckets; ++b) {
    cumulative += c.duration_buckets[b];
    std::string le = b < kDurationBounds ? std::string(kDurationBoundNames[b]) : std::string("+Inf");
    w.Sample("esg_request_duration_seconds_bucket", Label("le", le), cumulative);
  }
  w.SampleMicros("esg_request_duration_seconds_sum", c.duration_sum_us);
  w.Sample("esg_request_duration_seconds_count", "", cumulative);
  w.Family("esg_http_received_bytes_total", "counter",
           "Bytes read from clients (HTTP and WebSocket, after TLS) by all workers.");
  w.Sample("esg_http_received_bytes_total", "", c.received_bytes);
  w.Family("esg_http_sent_bytes_total", "counter",
           "Bytes written to clients (HTTP and WebSocket, before TLS) by all workers.");
  w.Sample("esg_http_sent_bytes_total", "", c.sent_bytes);
  w.Family("esg_request_timeouts_total", "counter",
           "Requests ended by --timeout-request (a 504, or a response cut short) in all workers.");
  w.Sample("esg_request_timeouts_total", "", c.request_timeouts);
}

}  // namespace

std::string PrometheusLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText(const ServerStatus& s) {
  Writer w;
  std::string python;
  for (const auto& [key, value] : s.config_summary) {
    if (key == "python") python = value;
  }
  w.Family("esg_build_info", "gauge", "ESG's version and the workers' Python interpreter (always 1).");
  w.Sample("esg_build_info", Label("version", s.version) + "," + Label("python", python), uint64_t{1});

  if (s.request_counters_counted) {
    RequestFigures(w, s.request_counters);
  } else {
    // Without --metrics-bind (GetMetrics, esgctl metrics) the workers count no classes: the total only.
    w.Family("esg_requests_total", "counter", "HTTP requests served by all workers since the master started.");
    w.Sample("esg_requests_total", "", s.requests_total);
  }

  uint64_t in_flight = 0, connections = 0, websockets = 0, rss_sum = 0, rss_max = 0;
  uint64_t by_state[4] = {0, 0, 0, 0};
  for (const WorkerStatus& worker : s.workers) {
    in_flight += worker.in_flight;
    connections += worker.connections;
    websockets += worker.websockets;
    rss_sum += worker.rss_bytes;
    rss_max = std::max(rss_max, worker.rss_bytes);
    ++by_state[static_cast<int>(worker.state)];
  }
  w.Family("esg_requests_in_flight", "gauge", "Requests being handled now (at the workers' last heartbeats).");
  w.Sample("esg_requests_in_flight", "", in_flight);
  w.Family("esg_connections_open", "gauge", "Open client connections (at the workers' last heartbeats).");
  w.Sample("esg_connections_open", "", connections);
  w.Family("esg_websockets_open", "gauge", "Open WebSocket sessions (at the workers' last heartbeats).");
  w.Sample("esg_websockets_open", "", websockets);

  w.Family("esg_workers", "gauge", "Worker processes by state.");
  const char* states[4] = {"starting", "ready", "draining", "stopping"};
  for (int i = 0; i < 4; ++i) w.Sample("esg_workers", Label("state", states[i]), by_state[i]);

  w.Family("esg_worker_restarts_total", "counter",
           "Workers replaced, by reason (crash, heartbeat, max-requests, memory, age, reload).");
  for (const auto& [reason, count] : s.worker_restarts) {
    w.Sample("esg_worker_restarts_total", Label("reason", reason), count);
  }
  w.Family("esg_reloads_total", "counter", "Reloads by result (ok, rolled_back).");
  for (const auto& [result, count] : s.reloads) w.Sample("esg_reloads_total", Label("result", result), count);

  w.Family("esg_worker_rss_bytes_sum", "gauge", "Resident memory of all workers together.");
  w.Sample("esg_worker_rss_bytes_sum", "", rss_sum);
  w.Family("esg_worker_rss_bytes_max", "gauge", "Resident memory of the largest worker.");
  w.Sample("esg_worker_rss_bytes_max", "", rss_max);

  w.Family("esg_generation", "gauge", "The serving generation (incremented by every successful reload).");
  w.Sample("esg_generation", "", s.generation);
  w.Family("esg_master_uptime_seconds", "gauge", "Seconds since the master started.");
  w.Sample("esg_master_uptime_seconds", "", s.uptime_seconds);
  return w.Take();
}

}  // namespace esg::control
