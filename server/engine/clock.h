// Clock: the time a connection reads for its deadlines (keep-alive, request head and body, send, lingering
// close, WebSocket pings). The server uses MonotonicClock(); a test injects its own and moves it by hand, so
// every deadline can be crossed in microseconds, without sleeping.
#pragma once

namespace esg::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds on a monotonic scale (only differences mean anything). Never goes back.
  virtual double Now() const = 0;
};

// CLOCK_MONOTONIC_COARSE (a few ms resolution, no system call): deadlines are checked every 250 ms anyway.
const Clock& MonotonicClock();

}  // namespace esg::engine
