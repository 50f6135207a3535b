// Clock: the time a connection reads for its deadlines (keep-alive, request head and body, send, lingering
// close, WebSocket pings). The server uses MonotonicClock(); a test injects its own and moves it by hand, so
// every deadline can be crossed in microseconds, without sleeping.
#pragma once

#include <cstdint>
#include <ctime>

namespace esg::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds on a monotonic scale (only differences mean anything). Never goes back.
  virtual double Now() const = 0;
};

// CLOCK_MONOTONIC_COARSE (a few ms resolution, no system call): deadlines are checked every 250 ms anyway.
const Clock& MonotonicClock();

// Microseconds on CLOCK_MONOTONIC, precise (a vDSO call): for what is measured rather than checked per tick —
// request durations in the access log and the metrics' histogram (whose first bucket is 5 ms wide).
inline uint64_t PreciseMonotonicMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace esg::engine
