// The engine's per-request recorder: the few inline calls connection.cc and websocket_upgrade.cc make to
// count responses, their durations and the bytes moved, into the worker's RequestCounters
// (server/common/request_counters.h), which the worker sends in its heartbeat.
//
// Off (no --metrics-bind) the server hands its connections a null RequestCounters*, and every call below is
// one predictable branch on it: no clock read, no store. On, a request costs two CLOCK_MONOTONIC reads (vDSO,
// no system call) and a few increments. Single-threaded: the counters belong to the worker's reactor thread,
// and the heartbeat reads them on that same thread (the asyncio loop the reactor runs on), so plain integers.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <string_view>

#include "server/common/request_counters.h"

namespace esg::engine {

// The request a connection is answering, as far as the counters need it.
struct RequestMark {
  uint64_t start_us = 0;  // when its head was parsed (0: unknown, e.g. a head ESG rejected as malformed)
  int method_class = kMethodOther;
};

// Microseconds on CLOCK_MONOTONIC. Precise, unlike the engine's coarse deadline clock (a few ms steps),
// since the first bucket is 5 ms wide.
inline uint64_t MetricsNowMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// A request head was parsed.
inline void MarkRequest(RequestCounters* counters, RequestMark* mark, std::string_view method) {
  if (!counters) return;
  mark->start_us = MetricsNowMicros();
  mark->method_class = MethodClassOf(method);
}

// Its response (`status`, from the app or from ESG) is complete. Clears the mark, so an answer to bytes that
// never made a head (a malformed request) counts as "other" with a zero duration.
inline void RecordResponse(RequestCounters* counters, RequestMark* mark, int status) {
  if (!counters) return;
  uint64_t now = MetricsNowMicros();
  counters->Record(mark->method_class, status, mark->start_us != 0 && now > mark->start_us ? now - mark->start_us : 0);
  *mark = RequestMark();
}

inline void CountReceived(RequestCounters* counters, ssize_t n) {
  if (counters) counters->received_bytes += static_cast<uint64_t>(n);
}

inline void CountSent(RequestCounters* counters, ssize_t n) {
  if (counters && n > 0) counters->sent_bytes += static_cast<uint64_t>(n);
}

}  // namespace esg::engine
