// A scriptable AdminApi for the control plane's tests: canned results, a Reload that takes time and
// records how many ran at once, a serving flag, and events the test emits to subscribers.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "control/admin_api.h"

namespace esg::control::testing {

class FakeAdminApi final : public AdminApi {
 public:
  ServerStatus GetStatus() override {
    std::lock_guard<std::mutex> guard(mu_);
    get_status_calls++;
    return status;
  }
  Result ScaleWorkers(std::optional<int> count, std::optional<int> delta) override {
    std::lock_guard<std::mutex> guard(mu_);
    last_count = count;
    last_delta = delta;
    return next_result;
  }
  ReloadResult Reload(const std::string& release_path, std::optional<double> ready_timeout) override {
    int now = ++reloads_running;
    int seen = max_reloads_running.load();
    while (now > seen && !max_reloads_running.compare_exchange_weak(seen, now)) {}
    std::this_thread::sleep_for(reload_duration);
    --reloads_running;
    std::lock_guard<std::mutex> guard(mu_);
    reload_calls++;
    last_release = release_path;
    last_ready_timeout = ready_timeout;
    return reload_result;
  }
  Result Drain() override {
    std::lock_guard<std::mutex> guard(mu_);
    if (next_result.code == Result::Code::kOk) serving_ = false;
    return next_result;
  }
  Result Resume() override {
    std::lock_guard<std::mutex> guard(mu_);
    if (next_result.code == Result::Code::kOk) serving_ = true;
    return next_result;
  }
  Result Shutdown(bool graceful) override {
    std::lock_guard<std::mutex> guard(mu_);
    last_graceful = graceful;
    return next_result;
  }
  Result SetLogLevel(const std::string& level) override {
    std::lock_guard<std::mutex> guard(mu_);
    last_level = level;
    return next_result;
  }
  Result ReopenLogs() override {
    std::lock_guard<std::mutex> guard(mu_);
    reopen_calls++;
    return next_result;
  }
  uint64_t Subscribe(std::function<bool(const Event&)> sink) override {
    std::lock_guard<std::mutex> guard(mu_);
    sinks_[++next_token_] = std::move(sink);
    return next_token_;
  }
  void Unsubscribe(uint64_t token) override {
    std::lock_guard<std::mutex> guard(mu_);
    sinks_.erase(token);
  }
  bool serving() override {
    std::lock_guard<std::mutex> guard(mu_);
    return serving_;
  }

  // Test controls.
  void Emit(const Event& event) {
    std::lock_guard<std::mutex> guard(mu_);
    for (auto it = sinks_.begin(); it != sinks_.end();) {
      it = it->second(event) ? std::next(it) : sinks_.erase(it);
    }
  }
  size_t subscribers() {
    std::lock_guard<std::mutex> guard(mu_);
    return sinks_.size();
  }
  void set_serving(bool value) {
    std::lock_guard<std::mutex> guard(mu_);
    serving_ = value;
  }

  ServerStatus status;
  Result next_result;
  ReloadResult reload_result;
  std::chrono::milliseconds reload_duration{0};
  std::atomic<int> reloads_running{0};
  std::atomic<int> max_reloads_running{0};
  int get_status_calls = 0;
  int reload_calls = 0;
  int reopen_calls = 0;
  std::optional<int> last_count, last_delta;
  std::string last_release, last_level;
  std::optional<double> last_ready_timeout;
  std::optional<bool> last_graceful;

 private:
  std::mutex mu_;
  bool serving_ = true;
  std::map<uint64_t, std::function<bool(const Event&)>> sinks_;
  uint64_t next_token_ = 0;
};

}  // namespace esg::control::testing
