// The master's supervisor: the policy that keeps generations of workers running — boot, replacement with
// backoff, health checks, reload, scale, drain, stop. Policy only: it starts, signals and talks to workers
// through an injected WorkerLauncher (worker_launcher.h; the real one spawns processes and owns their
// pipes), reads time and sets timers through an injected Scheduler (scheduler.h), and learns what the
// workers do through WorkerEvents, which it implements. RunMaster (master.cc) wires the real ones to the
// io_context and its signal_set; supervisor_test.cc wires fakes. The methods are split over
// supervisor.cc (start, signals, workers, reconcile, health), supervisor_recycling.cc (replacing a worker
// that reached a limit) and supervisor_operations.cc (reload, stop and the AdminApi operations).
//
// Single-threaded: every method runs on the master's io_context thread (MasterAdmin posts onto it).
//
// Lifecycle of a worker: kStarting (spawned; importing the app, lifespan startup) -> kReady (it said
// {"event": "ready"}; it heartbeats every second) -> kDraining ({"cmd": "drain"} sent, or SIGTERM on
// shutdown: it stops accepting, finishes in-flight requests, exits). The workers of the *current
// generation* are kept at the target count: one that dies is replaced (with backoff), one that misses
// heartbeats for --timeout-worker-healthcheck is killed and replaced, one that reports
// {"event": "max_requests"} gets a replacement first and is drained once the replacement is ready; so does
// one whose heartbeat RSS passes --limit-worker-memory or whose age passes --limit-worker-lifetime (+ jitter)
// (supervisor_recycling.cc). Every replacement is counted by reason (Status().worker_restarts).
//
// Reload (SIGHUP, AdminApi::Reload, a file change under --reload): re-read the release (--env-file,
// --app-dir and --venv resolved again through symlinks), start a full new generation, wait until every
// new worker is ready, then drain the old generation. If a new worker fails (exits, reports
// startup_failed, or is not ready in time), the new generation is stopped and the old one keeps serving.
//
// Boot: "ESG running on ..." and sd_notify READY=1 once every first-generation worker is ready. A worker
// that cannot boot before anything served ends ESG with exit status 3 (the app's error is in the log),
// except under --reload, where the watcher stays alive and the next change tries again.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "control/admin_api.h"
#include "server/common/config.h"
#include "server/master/file_watch.h"
#include "server/master/release.h"
#include "server/master/scheduler.h"
#include "server/master/worker_launcher.h"
#include "server/master/worker_protocol.h"

namespace esg {

struct MasterOptions;

// What the supervisor acts through besides the workers; the pointers must outlive it.
struct SupervisorPorts {
  WorkerLauncher* launcher = nullptr;
  Scheduler* scheduler = nullptr;
  // Makes the --reload file watcher (on the io_context). Unset: Start fails under --reload.
  std::function<std::unique_ptr<FileWatcher>(WatchFilter filter, double delay_seconds, FileWatcher::Callback)>
      make_watcher;
  // Called once, when the supervisor has finished (every worker gone): stop the event loop.
  std::function<void()> on_finished;
};

class Supervisor final : public WorkerEvents {
 public:
  using Clock = Scheduler::Clock;

  // Extra time a stopping worker gets past --timeout-graceful-shutdown before the master kills it.
  static constexpr std::chrono::seconds kKillGrace{10};
  // A new worker has at least this long to become ready (or --timeout-worker-healthcheck if longer).
  static constexpr int kMinReadySeconds = 60;
  // Consecutive workers failing before ready, with none serving, before ESG gives up (exit 3).
  static constexpr int kMaxBootFailures = 5;
  // The respawn backoff doubles from 0.1 s up to this.
  static constexpr double kMaxBackoffSeconds = 10;
  // A worker that lived at least this long before dying resets the respawn backoff.
  static constexpr std::chrono::seconds kStableUptime{10};
  // --limit-worker-lifetime: each worker lives up to this fraction longer (random), so that workers started
  // together are not replaced together.
  static constexpr double kLifetimeJitter = 0.1;

  // Why a worker of the serving generation was replaced. Counted for the life of the master
  // (Status().worker_restarts, in this order, named by RestartReasonName).
  enum class RestartReason { kCrash, kHeartbeat, kMaxRequests, kMemory, kAge, kReload };
  static constexpr int kRestartReasons = 6;
  // "crash", "heartbeat", "max-requests", "memory", "age", "reload".
  static const char* RestartReasonName(RestartReason reason);

  Supervisor(MasterOptions& options, SupervisorPorts ports);
  ~Supervisor() override;

  // Starts the first generation (and the --reload watcher). False with the exit status in exit_code()
  // when nothing could start. The caller registers the signals first, so that none slips past.
  bool Start();
  bool finished() const { return finished_; }
  int exit_code() const { return exit_code_; }

  // A signal the master received (not SIGCHLD: exits come through OnWorkerExit). SIGINT/SIGTERM stop
  // (graceful; SIGINT again or SIGTERM a third time: at once), SIGHUP reloads, SIGTTIN/SIGTTOU scale by
  // one, SIGUSR1 reopens the logs; others are ignored.
  void OnSignal(int signal_number);

  // WorkerEvents.
  void OnWorkerMessage(pid_t pid, const WorkerMessage& message, std::string_view line) override;
  void OnWorkerOverflow(pid_t pid, size_t max_line) override;
  void OnWorkerExit(pid_t pid, int status) override;

  // AdminApi operations; each completion runs exactly once, on the io thread (also when stopping).
  control::ServerStatus Status() const;
  void Reload(const std::string& release_path, std::optional<double> ready_timeout,
              std::function<void(control::ReloadResult)> done);
  void Scale(int count, std::function<void(control::Result)> done);
  int target_workers() const { return target_; }
  control::Result Drain();
  control::Result Resume();
  control::Result Shutdown(bool graceful);
  control::Result SetLogLevel(const std::string& level);
  control::Result ReopenLogs();
  bool serving() const;

  // Events for AdminApi::Subscribe; the sink runs on the io thread and must not block.
  void set_event_sink(std::function<void(const control::Event&)> sink) { event_sink_ = std::move(sink); }

 private:
  enum class WState { kStarting, kReady, kDraining, kStopping };

  struct Worker {
    pid_t pid = -1;
    uint64_t generation = 0;
    WState state = WState::kStarting;
    Clock::time_point spawned;
    Clock::time_point last_heartbeat;
    Clock::time_point ready_deadline;
    uint64_t requests = 0, in_flight = 0, connections = 0, rss = 0, websockets = 0;
    RequestCounters counters;     // the largest of each counter seen in its heartbeats
    bool retiring = false;        // reached a limit (retire_reason); drained once a replacement is ready
    RestartReason retire_reason = RestartReason::kMaxRequests;
    Clock::time_point retire_at = Clock::time_point::max();  // --limit-worker-lifetime (+ jitter) is up
    std::string failure;          // startup_failed message
    std::string kill_reason;      // why the master killed it (heartbeat, ready timeout)
    Scheduler::TimerId kill_timer = 0;
  };
  using WorkerPtr = std::shared_ptr<Worker>;

  struct PendingReload {
    uint64_t generation = 0;
    Release release;
    std::vector<std::function<void(control::ReloadResult)>> waiters;
    std::string reason;        // "SIGHUP", "esgctl", "file change"
    std::string release_path;  // AdminApi::Reload: the new --app-dir, kept once the reload succeeds
    int spawned = 0;
  };

  struct ScaleWaiter {
    int count;
    Clock::time_point deadline;
    std::function<void(control::Result)> done;
  };

  static Clock::duration Seconds(double s);
  Clock::time_point Now() const { return scheduler_->Now(); }
  double SecondsSince(Clock::time_point t) const;
  bool StartWatcher(std::string* error);

  // Workers (supervisor.cc).
  WorkerPtr Spawn(uint64_t generation, const Release& release, Clock::duration ready_timeout);
  void OnReady(const WorkerPtr& worker);
  void DrainWorker(const WorkerPtr& worker, const char* why);
  void KillLater(const WorkerPtr& worker, Clock::duration after);
  void Reconcile();
  void ScheduleReconcile(Clock::duration after);
  void CancelReconcile();
  void CheckHealth();
  std::vector<WorkerPtr> Current(bool include_retiring) const;
  std::string ExitText(const WorkerPtr& worker, int status) const;

  // Recycling (supervisor_recycling.cc).
  Clock::time_point RetireAt(Clock::time_point spawned);
  void CheckMemory(const WorkerPtr& worker);
  void CheckAge();
  // Marks a ready worker of the serving generation to be replaced (once), counts and announces it, and
  // starts the replacement; OnReady drains it when the replacement is ready.
  void Recycle(const WorkerPtr& worker, RestartReason reason, const std::string& why);
  void CountRestart(RestartReason reason, uint64_t n = 1) { restarts_[static_cast<int>(reason)] += n; }

  // Reload (supervisor_operations.cc).
  void StartReload(const std::string& reason, const std::string& release_path, std::optional<double> ready_timeout,
                   std::function<void(control::ReloadResult)> done);
  void MaybeFinishReload();
  void FailReload(const std::string& why, const std::string& output);
  void OnFilesChanged(const std::vector<std::string>& changed);
  void CompleteScaleWaiters(bool check_deadlines);

  // Stop (supervisor_operations.cc).
  void Stop(bool graceful, const std::string& why);
  void Finish(int code);
  void Announce();
  void Emit(control::EventKind kind, pid_t pid, uint64_t generation, const std::string& detail);

  MasterOptions& options_;
  WorkerLauncher* launcher_;
  Scheduler* scheduler_;
  SupervisorPorts ports_;
  std::unique_ptr<FileWatcher> watcher_;
  Clock::time_point started_;
  Scheduler::TimerId health_timer_ = 0;
  Scheduler::TimerId respawn_timer_ = 0;  // set while a Reconcile is scheduled

  std::map<pid_t, WorkerPtr> workers_;
  Release current_release_;
  uint64_t generation_ = 1;       // the generation that serves (or boots)
  uint64_t next_generation_ = 2;
  std::optional<PendingReload> reload_;
  bool reload_again_ = false;     // a SIGHUP arrived during a reload: one more after it
  int target_ = 1;
  control::ServerState state_ = control::ServerState::kStarting;
  bool booted_ = false;           // some generation has been fully ready once
  bool drained_ = false;          // AdminApi::Drain: no workers until Resume
  bool waiting_for_change_ = false;  // --reload: the app failed to start; the next file change retries
  Clock::time_point respawn_not_before_;
  double backoff_seconds_ = 0;
  int boot_failures_ = 0;         // consecutive workers that died before ready
  int stop_requests_ = 0;
  bool stopping_ = false;
  bool listeners_stopped_ = false;  // StopListening done (at the start of a stop)
  bool finished_ = false;
  int exit_code_ = 0;
  std::vector<ScaleWaiter> scale_waiters_;
  std::function<void(const control::Event&)> event_sink_;
  std::array<uint64_t, kRestartReasons> restarts_{};
  uint64_t exited_requests_ = 0;  // the last request counters of the workers that exited
  RequestCounters exited_counters_;  // likewise, their per-request figures (--metrics-bind)
  uint64_t reloads_ok_ = 0, reloads_rolled_back_ = 0;
  std::mt19937_64 random_{std::random_device{}()};  // lifetime jitter
};

}  // namespace esg
