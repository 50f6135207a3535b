// The seam between the supervisor's policy (supervisor.h) and the worker processes: WorkerLauncher starts,
// signals and talks to workers; WorkerEvents is how what they do comes back. ProcessLauncher is the real
// one (worker_process.h's posix_spawn + one WorkerChannel per worker + waitpid); supervisor_test.cc drives
// the policy with a fake one, in milliseconds and without processes.
//
// Threading: everything runs on the master's io thread. A launcher never calls WorkerEvents from inside
// one of its own methods (Spawn, Send, Signal, Forget): only from the event loop (a read, a reap).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/master/listeners.h"
#include "server/master/release.h"
#include "server/master/worker_channel.h"
#include "server/master/worker_protocol.h"

namespace esg {

// What the workers do, as the supervisor learns it.
class WorkerEvents {
 public:
  virtual ~WorkerEvents() = default;
  // One control line from worker `pid`, parsed; `line` is the raw text (for the log).
  virtual void OnWorkerMessage(pid_t pid, const WorkerMessage& message, std::string_view line) = 0;
  // Worker `pid` sent a control line longer than `max_line` bytes; its channel is closed.
  virtual void OnWorkerOverflow(pid_t pid, size_t max_line) = 0;
  // A child exited with wait status `status` (any child: pids the supervisor does not know are ignored).
  virtual void OnWorkerExit(pid_t pid, int status) = 0;
};

class WorkerLauncher {
 public:
  virtual ~WorkerLauncher() = default;
  // Starts a worker running `release`. Returns its pid, or -1 with `*error` set (one sentence).
  virtual pid_t Spawn(const Release& release, std::string* error) = 0;
  // Sends a command; dropped when the worker's channel is closed or its socket buffer is full.
  virtual void Send(pid_t pid, const WorkerCommand& command) = 0;
  // kill(2): SIGTERM to stop gracefully, SIGKILL.
  virtual void Signal(pid_t pid, int signal_number) = 0;
  // Its recent stderr lines, each followed by "\n" ("" for an unknown pid). Valid until Forget.
  virtual std::string RecentOutput(pid_t pid) const = 0;
  // The worker exited (OnWorkerExit was called): close its channel. Its output pipes are still relayed
  // until they close.
  virtual void Forget(pid_t pid) = 0;
};

// The real launcher: `python -m esg.worker_process` processes with the master's listeners.
class ProcessLauncher final : public WorkerLauncher {
 public:
  // `listeners` is read at each Spawn (the master may close them on stop); `events` must outlive this.
  ProcessLauncher(boost::asio::io_context& io, const std::vector<BoundSocket>& listeners, std::string package_root);
  ~ProcessLauncher() override;

  void set_events(WorkerEvents* events) { events_ = events; }
  // Collects every exited child (call on SIGCHLD) and reports each through OnWorkerExit.
  void ReapChildren();

  pid_t Spawn(const Release& release, std::string* error) override;
  void Send(pid_t pid, const WorkerCommand& command) override;
  void Signal(pid_t pid, int signal_number) override;
  std::string RecentOutput(pid_t pid) const override;
  void Forget(pid_t pid) override;

 private:
  boost::asio::io_context& io_;
  const std::vector<BoundSocket>& listeners_;
  std::string package_root_;
  WorkerEvents* events_ = nullptr;
  std::map<pid_t, std::shared_ptr<WorkerChannel>> channels_;
};

}  // namespace esg
