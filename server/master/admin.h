// MasterAdmin: the master's implementation of control::AdminApi (control/admin_api.h).
//
// Every call is marshalled onto the master's io_context thread (asio::post) and the calling thread waits
// on a promise for the answer, so the Supervisor stays single-threaded. Reload and ScaleWorkers answer
// when the work is done (new generation ready or rolled back; the new count serving or timed out).
// Calls made from the io thread itself would deadlock and fail with kInternal instead. After Close()
// (the io_context has stopped) every call answers kFailedPrecondition at once.
// Event sinks run on the io thread and must not block (push into a queue and return).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "control/admin_api.h"

namespace esg {

class Supervisor;

class MasterAdmin final : public control::AdminApi {
 public:
  MasterAdmin(boost::asio::io_context& io, Supervisor& supervisor);

  // Called by RunMaster on the io thread once the io_context has stopped: answers the calls still queued.
  void Close();

  control::ServerStatus GetStatus() override;
  control::Result ScaleWorkers(std::optional<int> count, std::optional<int> delta) override;
  control::ReloadResult Reload(const std::string& release_path, std::optional<double> ready_timeout_seconds) override;
  control::Result Drain() override;
  control::Result Resume() override;
  control::Result Shutdown(bool graceful) override;
  control::Result SetLogLevel(const std::string& level) override;
  control::Result ReopenLogs() override;
  uint64_t Subscribe(std::function<bool(const control::Event&)> sink) override;
  void Unsubscribe(uint64_t token) override;
  bool serving() override;

  // Fans a supervisor event out to the subscribers (io thread).
  void Publish(const control::Event& event);

 private:
  // Runs `start(reply)` on the io thread and waits for `reply(value)`; `fallback` when closed.
  template <typename T>
  T Call(std::function<void(std::function<void(T)>)> start, T fallback);

  boost::asio::io_context& io_;
  Supervisor& supervisor_;
  std::mutex mutex_;
  bool closed_ = false;
  std::mutex sinks_mutex_;
  uint64_t next_token_ = 1;
  std::map<uint64_t, std::function<bool(const control::Event&)>> sinks_;
};

}  // namespace esg
