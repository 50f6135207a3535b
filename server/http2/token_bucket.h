// TokenBucket: the rate limiter behind H2Session's flood defences (rapid reset, control-frame floods).
// Holds up to `burst` tokens, regains `rate_per_s` per second of the injected monotonic clock, and
// Take() spends one. Header-only and allocation-free: one per connection per defence.
#pragma once

#include <algorithm>
#include <cstdint>

namespace esg::http2 {

class TokenBucket {
 public:
  TokenBucket(uint32_t burst, uint32_t rate_per_s) : burst_(burst), rate_(rate_per_s), tokens_(burst) {}

  // Spends one token at `now_ms`; false when none is left (the caller's limit is exceeded).
  bool Take(int64_t now_ms) {
    Refill(now_ms);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  // Gives back `n` tokens (capped at the burst): credit for useful work, e.g. a frame the server sent.
  void Credit(double n) { tokens_ = std::min<double>(burst_, tokens_ + n); }

  double tokens() const { return tokens_; }

 private:
  void Refill(int64_t now_ms) {
    if (last_ms_ < 0) last_ms_ = now_ms;
    if (now_ms > last_ms_) {
      tokens_ = std::min<double>(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0);
      last_ms_ = now_ms;
    }
  }

  uint32_t burst_;
  uint32_t rate_;
  double tokens_;
  int64_t last_ms_ = -1;
};

}  // namespace esg::http2
