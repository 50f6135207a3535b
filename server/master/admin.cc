// MasterAdmin (see admin.h).
#include "server/master/admin.h"

#include <boost/asio/post.hpp>
#include <future>
#include <memory>
#include <vector>

#include "server/master/supervisor.h"

namespace esg {
namespace {

using control::Result;
using Code = control::Result::Code;

Result Stopped() { return Result{Code::kFailedPrecondition, "ESG is stopping."}; }

}  // namespace

MasterAdmin::MasterAdmin(boost::asio::io_context& io, Supervisor& supervisor) : io_(io), supervisor_(supervisor) {}

void MasterAdmin::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  // Handlers posted before closed_ was set still run, and answer from the finished supervisor.
  io_.restart();
  io_.poll();
}

template <typename T>
T MasterAdmin::Call(std::function<void(std::function<void(T)>)> start, T fallback) {
  if (io_.get_executor().running_in_this_thread()) {
    if constexpr (std::is_same_v<T, Result>) {
      return Result{Code::kInternal, "AdminApi called from the master's own thread."};
    }
    return fallback;
  }
  auto promise = std::make_shared<std::promise<T>>();
  auto answered = std::make_shared<bool>(false);
  std::future<T> future = promise->get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return fallback;
    boost::asio::post(io_, [this, start, promise, answered, fallback] {
      if (supervisor_.finished()) {
        *answered = true;
        promise->set_value(fallback);
        return;
      }
      start([promise, answered](T value) {
        if (*answered) return;
        *answered = true;
        promise->set_value(std::move(value));
      });
    });
  }
  return future.get();
}

control::ServerStatus MasterAdmin::GetStatus() {
  control::ServerStatus stopped;
  stopped.state = control::ServerState::kStopping;
  return Call<control::ServerStatus>(
      [this](auto reply) { reply(supervisor_.Status()); }, stopped);
}

control::Result MasterAdmin::ScaleWorkers(std::optional<int> count, std::optional<int> delta) {
  if (count.has_value() == delta.has_value()) {
    return Result{Code::kInvalidArgument, "Give either a worker count or a delta, not both or neither."};
  }
  return Call<Result>(
      [this, count, delta](auto reply) {
        int target = count ? *count : supervisor_.target_workers() + *delta;
        supervisor_.Scale(target, reply);
      },
      Stopped());
}

control::ReloadResult MasterAdmin::Reload(const std::string& release_path, std::optional<double> ready_timeout) {
  // The gRPC service checks the same; any other caller of AdminApi gets the same answer.
  auto invalid = [](const std::string& why) {
    control::ReloadResult r;
    r.result = Result{Code::kInvalidArgument, why};
    return r;
  };
  if (ready_timeout && !(*ready_timeout > 0 && *ready_timeout <= control::kMaxReadyTimeoutSeconds)) {
    return invalid("The ready timeout must be more than 0 and at most " +
                   std::to_string(static_cast<int>(control::kMaxReadyTimeoutSeconds)) + " seconds.");
  }
  if (release_path.find('\0') != std::string::npos || release_path.size() > control::kMaxPathBytes) {
    return invalid("The release path must be at most " + std::to_string(control::kMaxPathBytes) +
                   " bytes long, without NUL bytes.");
  }
  control::ReloadResult stopped;
  stopped.result = Stopped();
  return Call<control::ReloadResult>(
      [this, release_path, ready_timeout](auto reply) { supervisor_.Reload(release_path, ready_timeout, reply); },
      stopped);
}

control::Result MasterAdmin::Drain() {
  return Call<Result>([this](auto reply) { reply(supervisor_.Drain()); }, Stopped());
}

control::Result MasterAdmin::Resume() {
  return Call<Result>([this](auto reply) { reply(supervisor_.Resume()); }, Stopped());
}

control::Result MasterAdmin::Shutdown(bool graceful) {
  // Answers once the stop has started (the caller's connection may not outlive the master).
  return Call<Result>([this, graceful](auto reply) { reply(supervisor_.Shutdown(graceful)); }, Result::Ok());
}

control::Result MasterAdmin::SetLogLevel(const std::string& level) {
  return Call<Result>([this, level](auto reply) { reply(supervisor_.SetLogLevel(level)); }, Stopped());
}

control::Result MasterAdmin::ReopenLogs() {
  return Call<Result>([this](auto reply) { reply(supervisor_.ReopenLogs()); }, Stopped());
}

uint64_t MasterAdmin::Subscribe(std::function<bool(const control::Event&)> sink) {
  std::lock_guard<std::mutex> lock(sinks_mutex_);
  uint64_t token = next_token_++;
  sinks_[token] = std::move(sink);
  return token;
}

void MasterAdmin::Unsubscribe(uint64_t token) {
  std::lock_guard<std::mutex> lock(sinks_mutex_);
  sinks_.erase(token);
}

bool MasterAdmin::serving() {
  return Call<bool>([this](auto reply) { reply(supervisor_.serving()); }, false);
}

void MasterAdmin::Publish(const control::Event& event) {
  std::vector<std::pair<uint64_t, std::function<bool(const control::Event&)>>> sinks;
  {
    std::lock_guard<std::mutex> lock(sinks_mutex_);
    sinks.assign(sinks_.begin(), sinks_.end());
  }
  std::vector<uint64_t> done;
  for (auto& [token, sink] : sinks) {
    if (!sink(event)) done.push_back(token);
  }
  if (done.empty()) return;
  std::lock_guard<std::mutex> lock(sinks_mutex_);
  for (uint64_t token : done) sinks_.erase(token);
}

}  // namespace esg
