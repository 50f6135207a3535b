// RequestCounters: the per-request figures one worker counts (server/engine/request_metrics.h), sends in its
// heartbeat (server/master/WORKER_PROTOCOL.md) and the master sums over workers for Prometheus
// (control/prometheus.cc). One struct and one set of classes for all three, so the engine, the wire and the
// exposition cannot disagree on a label or a bucket.
//
// Every label set is small and fixed: 8 method classes x 5 status classes, 12 duration buckets. Every field is
// a counter (it only grows in a worker; the master keeps the totals of workers that exited), so summing two
// RequestCounters (Add) is always meaningful, and so is an element-wise maximum of two readings of one worker
// (MaxWith), which keeps a bogus lower reading from moving the totals backwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace esg {

// Method classes, the label `method_class`: the seven methods browsers and APIs use, and "other" for the
// rest (WebDAV, custom tokens, and a request ESG rejected before it could read a method).
inline constexpr int kMethodClasses = 8;
inline constexpr int kMethodOther = 7;
inline constexpr std::string_view kMethodClassNames[kMethodClasses] = {"GET",    "HEAD",    "POST",
                                                                       "PUT",    "PATCH",   "DELETE",
                                                                       "OPTIONS", "other"};

// Status classes, the label `status_class`: 1xx (a WebSocket's 101) to 5xx.
inline constexpr int kStatusClasses = 5;
inline constexpr std::string_view kStatusClassNames[kStatusClasses] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// Upper bounds of the duration histogram's buckets, in microseconds (5 ms ... 10 s); a last bucket, +Inf,
// holds the rest. The heartbeat carries one count per bucket (not cumulative); Prometheus' _bucket{le} is
// the running sum.
inline constexpr int kDurationBounds = 11;
inline constexpr int kDurationBuckets = kDurationBounds + 1;
inline constexpr uint64_t kDurationBoundsMicros[kDurationBounds] = {
    5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};
// The same bounds as Prometheus writes them in `le`.
inline constexpr std::string_view kDurationBoundNames[kDurationBounds] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};

// The class of a request method (case-sensitive, as HTTP methods are).
inline int MethodClassOf(std::string_view method) {
  switch (method.size()) {
    case 3:
      if (method == "GET") return 0;
      if (method == "PUT") return 3;
      break;
    case 4:
      if (method == "HEAD") return 1;
      if (method == "POST") return 2;
      break;
    case 5:
      if (method == "PATCH") return 4;
      break;
    case 6:
      if (method == "DELETE") return 5;
      break;
    case 7:
      if (method == "OPTIONS") return 6;
      break;
  }
  return kMethodOther;
}

// The class of a response status: 1xx is 0, ..., 5xx is 4. Out-of-range values (ESG only sends 100..599)
// land in the nearest class rather than outside the table.
inline int StatusClassOf(int status) {
  int c = status / 100 - 1;
  return c < 0 ? 0 : (c >= kStatusClasses ? kStatusClasses - 1 : c);
}

// The bucket a duration falls in: the first whose bound is >= micros, kDurationBounds (+Inf) past 10 s.
inline int DurationBucketOf(uint64_t micros) {
  int i = 0;
  while (i < kDurationBounds && micros > kDurationBoundsMicros[i]) ++i;
  return i;
}

struct RequestCounters {
  // Responses by method class and status class (answered by the app or by ESG itself).
  uint64_t requests[kMethodClasses][kStatusClasses] = {};
  // How long they took, from the request head to the response's last byte handed to the socket.
  uint64_t duration_buckets[kDurationBuckets] = {};
  uint64_t duration_sum_us = 0;
  // Bytes read from and written to clients (after TLS: HTTP and WebSocket bytes), every connection.
  uint64_t received_bytes = 0;
  uint64_t sent_bytes = 0;
  // Requests ended by --timeout-request (504, or a response cut short), kept by the engine's Server.
  uint64_t request_timeouts = 0;

  void Record(int method_class, int status, uint64_t micros) {
    ++requests[method_class][StatusClassOf(status)];
    ++duration_buckets[DurationBucketOf(micros)];
    duration_sum_us += micros;
  }

  uint64_t total_requests() const {
    uint64_t n = 0;
    for (const auto& row : requests) {
      for (uint64_t v : row) n += v;
    }
    return n;
  }

  template <typename Op>
  void Each(const RequestCounters& other, Op op) {
    for (int m = 0; m < kMethodClasses; ++m) {
      for (int s = 0; s < kStatusClasses; ++s) op(requests[m][s], other.requests[m][s]);
    }
    for (int b = 0; b < kDurationBuckets; ++b) op(duration_buckets[b], other.duration_buckets[b]);
    op(duration_sum_us, other.duration_sum_us);
    op(received_bytes, other.received_bytes);
    op(sent_bytes, other.sent_bytes);
    op(request_timeouts, other.request_timeouts);
  }
  // Saturates instead of wrapping: a worker's bogus huge reading cannot make a total go backwards.
  void Add(const RequestCounters& other) {
    Each(other, [](uint64_t& a, uint64_t b) { a = a + b < a ? UINT64_MAX : a + b; });
  }
  void MaxWith(const RequestCounters& other) {
    Each(other, [](uint64_t& a, uint64_t b) { a = a > b ? a : b; });
  }
};

}  // namespace esg
