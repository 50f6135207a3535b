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

#include <cstdint>
#include <string_view>

#include "server/common/request_counters.h"
#include "server/engine/clock.h"

namespace esg::engine {

// The request a connection is answering, as far as the counters need it, and the last complete response
// whose bytes still wait in the connection's output queue (a slow reader, a large body): it is counted when
// the queue drains (ResponseFlushed), or when the connection closes.
struct RequestMark {
  uint64_t start_us = 0;  // when its head was parsed (0: unknown, e.g. a head ESG rejected as malformed)
  int method_class = kMethodOther;
  uint64_t queued_start_us = 0;
  int queued_method_class = kMethodOther;
  int queued_status = 0;  // 0: none queued
};

// Durations use PreciseMonotonicMicros (clock.h), not the engine's coarse deadline clock (a few ms steps):
// the first bucket is 5 ms wide.
inline uint64_t MetricsNowMicros() { return PreciseMonotonicMicros(); }

// A request head was parsed.
inline void MarkRequest(RequestCounters* counters, RequestMark* mark, std::string_view method) {
  if (!counters) return;
  mark->start_us = MetricsNowMicros();
  mark->method_class = MethodClassOf(method);
}

// Its response (`status`, from the app or from ESG) is complete. Clears the request's mark, so an answer to
// bytes that never made a head (a malformed request) counts as "other" with a zero duration.
inline void RecordResponse(RequestCounters* counters, RequestMark* mark, int status) {
  if (!counters) return;
  uint64_t now = MetricsNowMicros();
  counters->Record(mark->method_class, status, mark->start_us != 0 && now > mark->start_us ? now - mark->start_us : 0);
  mark->start_us = 0;
  mark->method_class = kMethodOther;
}

// The output queue drained, or the connection closed: the queued response, if any, is done.
inline void ResponseFlushed(RequestCounters* counters, RequestMark* mark) {
  if (!counters || mark->queued_status == 0) return;
  uint64_t now = MetricsNowMicros();
  uint64_t start = mark->queued_start_us;
  counters->Record(mark->queued_method_class, mark->queued_status, start != 0 && now > start ? now - start : 0);
  mark->queued_status = 0;
}

// The app's response is complete; `queued`: some of its bytes are still in the output queue, so its
// duration ends when they are written (ResponseFlushed). A response completed while an earlier one is still
// queued (pipelining below the write mark) counts the earlier one now.
inline void CompleteResponse(RequestCounters* counters, RequestMark* mark, int status, bool queued) {
  if (!counters) return;
  if (!queued) {
    RecordResponse(counters, mark, status);
    return;
  }
  ResponseFlushed(counters, mark);
  mark->queued_start_us = mark->start_us;
  mark->queued_method_class = mark->method_class;
  mark->queued_status = status;
  mark->start_us = 0;
  mark->method_class = kMethodOther;
}

inline void CountReceived(RequestCounters* counters, ssize_t n) {
  if (counters) counters->received_bytes += static_cast<uint64_t>(n);
}

inline void CountSent(RequestCounters* counters, ssize_t n) {
  if (counters && n > 0) counters->sent_bytes += static_cast<uint64_t>(n);
}

}  // namespace esg::engine
