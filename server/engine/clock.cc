// MonotonicClock: the engine's real clock (see clock.h).
#include "server/engine/clock.h"

#include <ctime>

namespace esg::engine {
namespace {

class CoarseMonotonicClock final : public Clock {
 public:
  double Now() const override {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
  }
};

}  // namespace

const Clock& MonotonicClock() {
  static const CoarseMonotonicClock clock;
  return clock;
}

}  // namespace esg::engine
