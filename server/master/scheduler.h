// The supervisor's clock and timers, injected: AsioScheduler runs callbacks on the master's io_context;
// supervisor_test.cc uses a fake whose time moves only when the test says so (backoff, health checks and
// kill deadlines tested in milliseconds).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace esg {

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = uint64_t;  // never 0: 0 means "no timer"

  virtual ~Scheduler() = default;
  virtual Clock::time_point Now() const = 0;
  // Runs `callback` once, `after` from now, on the io thread (never from inside RunAfter itself).
  virtual TimerId RunAfter(Clock::duration after, std::function<void()> callback) = 0;
  // The callback will not run. A no-op for 0, or a timer that already ran or was cancelled.
  virtual void Cancel(TimerId id) = 0;
};

class AsioScheduler final : public Scheduler {
 public:
  explicit AsioScheduler(boost::asio::io_context& io) : io_(io) {}

  Clock::time_point Now() const override { return Clock::now(); }
  TimerId RunAfter(Clock::duration after, std::function<void()> callback) override;
  void Cancel(TimerId id) override;

 private:
  boost::asio::io_context& io_;
  TimerId next_id_ = 1;
  std::map<TimerId, std::unique_ptr<boost::asio::steady_timer>> timers_;
};

}  // namespace esg
