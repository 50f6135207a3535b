// The master's supervisor (see supervisor.h): start, signals, workers, reconcile and health checks.
#include "server/master/supervisor.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "server/common/log.h"
#include "server/common/unix_user.h"
#include "server/master/master.h"

namespace esg {
namespace {

std::string SignalName(int signal_number) {
  const char* abbrev = sigabbrev_np(signal_number);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal_number);
}

std::string Quoted(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out + "]";
}

}  // namespace

Supervisor::Supervisor(MasterOptions& options, SupervisorPorts ports)
    : options_(options), launcher_(ports.launcher), scheduler_(ports.scheduler), ports_(std::move(ports)) {
  target_ = std::max(1, options_.config.workers.value_or(1));
  started_ = Now();
}

Supervisor::~Supervisor() {
  scheduler_->Cancel(health_timer_);
  scheduler_->Cancel(respawn_timer_);
  for (const auto& [pid, w] : workers_) scheduler_->Cancel(w->kill_timer);
}

Supervisor::Clock::duration Supervisor::Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

double Supervisor::SecondsSince(Clock::time_point t) const { return std::chrono::duration<double>(Now() - t).count(); }

// ------------------------------------------------------------------------------------------------ start

bool Supervisor::Start() {
  log::Error().info("Started parent process [{}]", getpid());

  const Config& config = options_.config;
  if (!config.user.empty() || !config.group.empty()) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (!config.user.empty() && !LookUpUser(config.user, &uid, &gid)) {
      log::Error().error("--user {}: no such user.", config.user);
      Finish(1);
      return false;
    }
    if (!config.group.empty() && !LookUpGroup(config.group, &gid)) {
      log::Error().error("--group {}: no such group.", config.group);
      Finish(1);
      return false;
    }
    if (geteuid() != 0 && (uid != geteuid() || gid != getegid())) {
      log::Error().error("--user/--group need esg to be started as root (it runs as uid {}).", geteuid());
      Finish(1);
      return false;
    }
  } else if (geteuid() == 0) {
    log::Error().warn(
        "Running the application as root: pass --user (and --group) so that workers run unprivileged.");
  }

  std::string error;
  if (!BuildRelease(config, options_.python, &current_release_, &error)) {
    log::Error().error("{}", error);
    Finish(1);
    return false;
  }
  if (current_release_.config.app_dir != config.app_dir && config.app_dir != ".") {
    log::Error().info("Release: {}", current_release_.describe);
  }

  if (config.reload && !StartWatcher(&error)) {
    log::Error().error("{}", error);
    Finish(1);
    return false;
  }

  CheckHealth();
  Reconcile();
  return !finished_;
}

bool Supervisor::StartWatcher(std::string* error) {
  const Config& config = options_.config;
  std::vector<std::string> dirs;
  for (const std::string& d : config.reload_dirs) {
    std::string real;
    dirs.push_back(RealPath(d, &real) ? real : d);
  }
  if (dirs.empty()) {
    char cwd[PATH_MAX];
    dirs.push_back(getcwd(cwd, sizeof cwd) != nullptr ? cwd : ".");
  }
  if (!ports_.make_watcher) {
    *error = "--reload is not available here (no file watcher).";
    return false;
  }
  watcher_ = ports_.make_watcher(WatchFilter::Make(config.reload_includes, config.reload_excludes),
                                 config.reload_delay,
                                 [this](const std::vector<std::string>& changed) { OnFilesChanged(changed); });
  if (!watcher_->Start(dirs, error)) return false;
  log::Error().info("Will watch for changes in these directories: {}", Quoted(dirs));
  log::Error().info("Started reloader process [{}] using inotify", getpid());
  return true;
}

// ---------------------------------------------------------------------------------------------- signals

void Supervisor::OnSignal(int signal_number) {
  switch (signal_number) {
    case SIGINT:
    case SIGTERM:
      ++stop_requests_;
      if (stop_requests_ == 1) {
        Stop(true, "Received " + SignalName(signal_number));
      } else if (signal_number == SIGINT || stop_requests_ > 2) {
        log::Error().info("Received {} again: stopping at once.", SignalName(signal_number));
        Stop(false, "");
      }
      return;
    case SIGHUP:
      StartReload("SIGHUP", "", std::nullopt, nullptr);
      return;
    case SIGTTIN:
    case SIGTTOU: {
      if (stopping_) return;
      int before = target_;
      target_ = signal_number == SIGTTIN ? std::min(control::kMaxWorkers, target_ + 1) : std::max(1, target_ - 1);
      if (target_ == before) {
        if (signal_number == SIGTTIN) {
          log::Error().warn("Received SIGTTIN: already at {} workers, the maximum.", target_);
        } else {
          log::Error().info("Received SIGTTOU: already at 1 worker, the minimum.");
        }
        return;
      }
      log::Error().info("Received {}: {} -> {} workers.", SignalName(signal_number), before, target_);
      Emit(control::EventKind::kScale, 0, generation_, std::to_string(target_));
      Reconcile();
      return;
    }
    case SIGUSR1:
      ReopenLogs();
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------- workers

Supervisor::WorkerPtr Supervisor::Spawn(uint64_t generation, const Release& release, Clock::duration ready_timeout) {
  std::string error;
  const pid_t pid = launcher_->Spawn(release, &error);
  if (pid < 0) {
    log::Error().error("{}", error);
    return nullptr;
  }
  auto worker = std::make_shared<Worker>();
  worker->pid = pid;
  worker->generation = generation;
  worker->spawned = worker->last_heartbeat = Now();
  worker->ready_deadline = worker->spawned + ready_timeout;
  worker->retire_at = RetireAt(worker->spawned);
  workers_[pid] = worker;
  log::Error().debug("Started worker process [{}] (generation {}) with {}", pid, generation, release.python);
  Emit(control::EventKind::kWorkerSpawned, pid, generation, release.describe);
  return worker;
}

void Supervisor::OnWorkerOverflow(pid_t pid, size_t max_line) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  const WorkerPtr& worker = it->second;
  // A broken (or hostile) worker: the channel carries small JSON lines only. The channel stopped reading;
  // kill it, and OnWorkerExit starts a replacement as for any worker that died.
  log::Error().error("Worker [{}] sent a control message longer than {} bytes; killing it.", pid, max_line);
  if (worker->kill_reason.empty()) worker->kill_reason = "control message too long";
  launcher_->Signal(worker->pid, SIGKILL);
}

// Newline-delimited JSON events from the worker (see WORKER_PROTOCOL.md): ready,
// heartbeat, max_requests, startup_failed; anything else is ignored (newer workers).
void Supervisor::OnWorkerMessage(pid_t pid, const WorkerMessage& message, std::string_view line) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  const WorkerPtr worker = it->second;
  if (message.kind == WorkerMessage::Kind::kMalformed) {
    log::Error().debug("Ignoring a malformed control message from worker [{}]: {}", worker->pid,
                       log::Escape(std::string(line.substr(0, 200))));
    return;
  }
  worker->last_heartbeat = Now();
  switch (message.kind) {
    case WorkerMessage::Kind::kHeartbeat:
      // A worker's request counter only grows; max() keeps a bogus lower value from moving the master's
      // totals (metrics) backwards.
      worker->requests = std::max(worker->requests, message.requests);
      worker->in_flight = message.in_flight;
      worker->connections = message.connections;
      worker->websockets = message.websockets;
      if (message.has_counters) worker->counters.MaxWith(message.counters);
      worker->rss = message.rss;
      CheckMemory(worker);
      break;
    case WorkerMessage::Kind::kReady:
      OnReady(worker);
      break;
    case WorkerMessage::Kind::kStartupFailed:
      worker->failure = message.message;
      break;
    case WorkerMessage::Kind::kMaxRequests:
      worker->requests = message.requests;
      Recycle(worker, RestartReason::kMaxRequests,
              "served " + std::to_string(worker->requests) + " requests (--limit-max-requests)");
      break;
    default:
      break;
  }
}

void Supervisor::OnReady(const WorkerPtr& worker) {
  if (worker->state != WState::kStarting) return;
  worker->state = WState::kReady;
  worker->last_heartbeat = Now();
  boot_failures_ = 0;
  Emit(control::EventKind::kWorkerReady, worker->pid, worker->generation, "");
  if (reload_ && worker->generation == reload_->generation) {
    MaybeFinishReload();
    return;
  }
  if (worker->generation != generation_ || drained_) {
    DrainWorker(worker, "it belongs to a replaced generation");
    return;
  }
  // A new worker of the serving generation takes over from one that reached a limit (Recycle).
  WorkerPtr retiring;
  for (const auto& [pid, w] : workers_) {
    if (w->generation == generation_ && w->retiring && w->state == WState::kReady &&
        (!retiring || w->spawned < retiring->spawned)) {
      retiring = w;
    }
  }
  if (retiring) DrainWorker(retiring, "its replacement is ready");
  if (!booted_) {
    std::vector<WorkerPtr> live = Current(false);
    bool all_ready = static_cast<int>(live.size()) >= target_ &&
                     std::all_of(live.begin(), live.end(), [](const WorkerPtr& w) { return w->state == WState::kReady; });
    if (all_ready) {
      booted_ = true;
      state_ = control::ServerState::kServing;
      Announce();
    }
  }
}

std::string Supervisor::ExitText(const WorkerPtr& worker, int status) const {
  std::string text;
  if (WIFEXITED(status)) {
    text = "exit code " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    text = "killed by " + SignalName(WTERMSIG(status));
  } else {
    text = "status " + std::to_string(status);
  }
  if (!worker->kill_reason.empty()) text += ", " + worker->kill_reason;
  return text;
}

void Supervisor::OnWorkerExit(pid_t pid, int status) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  WorkerPtr w = it->second;
  workers_.erase(it);
  exited_requests_ += w->requests;  // keeps the metrics' totals from going backwards
  exited_counters_.Add(w->counters);
  scheduler_->Cancel(w->kill_timer);
  w->kill_timer = 0;
  const std::string recent_output = launcher_->RecentOutput(pid);
  launcher_->Forget(pid);
  const std::string text = ExitText(w, status);
  Emit(control::EventKind::kWorkerExited, pid, w->generation, text);

  if (stopping_) {
    log::Error().debug("Worker [{}] stopped ({}).", pid, text);
    if (workers_.empty()) Finish(exit_code_);
    return;
  }
  if (w->state == WState::kDraining || w->state == WState::kStopping) {
    log::Error().info("Worker [{}] (generation {}) stopped ({}).", pid, w->generation, text);
    Reconcile();
    return;
  }
  std::string output = w->failure;
  if (output.empty()) {
    output = recent_output;
  }
  if (reload_ && w->generation == reload_->generation) {
    FailReload("worker [" + std::to_string(pid) + "] of generation " + std::to_string(w->generation) +
                   " did not start (" + text + ")",
               output);
    return;
  }
  if (w->generation != generation_) {
    Reconcile();
    return;
  }
  const bool was_ready = w->state == WState::kReady;
  const bool app_failed = !w->failure.empty() || (WIFEXITED(status) && WEXITSTATUS(status) == 3);
  if (!was_ready) {
    ++boot_failures_;
    if (booted_) CountRestart(RestartReason::kCrash);
    if (!booted_ && options_.config.reload) {
      log::Error().error("Worker [{}] failed to start ({}); waiting for a file change.", pid, text);
      waiting_for_change_ = true;
      return;
    }
    if (!booted_) {
      log::Error().error("Worker [{}] failed to start ({}); stopping.", pid, text);
      int code = WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
      if (app_failed) code = 3;
      exit_code_ = code;
      Stop(true, "");
      return;
    }
    bool none_serving = true;
    for (const WorkerPtr& c : Current(true)) none_serving = none_serving && c->state != WState::kReady;
    if (boot_failures_ >= kMaxBootFailures && none_serving && !options_.config.reload) {
      log::Error().error("{} workers in a row failed to start and none is serving; stopping.", boot_failures_);
      exit_code_ = app_failed ? 3 : 1;
      Stop(true, "");
      return;
    }
    backoff_seconds_ = std::min(kMaxBackoffSeconds, std::max(0.1, backoff_seconds_ * 2));
    log::Error().error("Worker [{}] failed to start ({}); retrying in {:.1f}s.", pid, text, backoff_seconds_);
    ScheduleReconcile(Seconds(backoff_seconds_));
    return;
  }
  if (Now() - w->spawned >= kStableUptime) {
    backoff_seconds_ = 0;
  } else {
    backoff_seconds_ = std::min(kMaxBackoffSeconds, std::max(0.1, backoff_seconds_ * 2));
  }
  if (w->retiring) {
    log::Error().info("Worker [{}] exited after reaching a limit ({}: {}).", pid,
                      RestartReasonName(w->retire_reason), text);
  } else {
    CountRestart(w->kill_reason.rfind("no heartbeat", 0) == 0 ? RestartReason::kHeartbeat : RestartReason::kCrash);
    log::Error().error("Worker [{}] died ({}); starting a replacement.", pid, text);
  }
  ScheduleReconcile(Seconds(backoff_seconds_));
}

void Supervisor::DrainWorker(const WorkerPtr& worker, const char* why) {
  if (worker->state == WState::kDraining || worker->state == WState::kStopping) return;
  log::Error().info("Draining worker [{}] (generation {}): {}.", worker->pid, worker->generation, why);
  if (worker->state == WState::kStarting) {
    worker->state = WState::kStopping;
    launcher_->Signal(worker->pid, SIGTERM);
    KillLater(worker, kKillGrace);
    return;
  }
  worker->state = WState::kDraining;
  launcher_->Send(worker->pid, WorkerCommand::Drain());
  if (options_.config.timeout_graceful_shutdown) {
    KillLater(worker, Seconds(*options_.config.timeout_graceful_shutdown) + kKillGrace);
  }
}

void Supervisor::KillLater(const WorkerPtr& worker, Clock::duration after) {
  scheduler_->Cancel(worker->kill_timer);
  worker->kill_timer = scheduler_->RunAfter(after, [this, worker] {
    worker->kill_timer = 0;
    if (workers_.count(worker->pid) == 0) return;
    log::Error().warn("Worker [{}] did not stop in time; killing it.", worker->pid);
    worker->kill_reason = "did not stop in time";
    launcher_->Signal(worker->pid, SIGKILL);
  });
}

std::vector<Supervisor::WorkerPtr> Supervisor::Current(bool include_retiring) const {
  std::vector<WorkerPtr> out;
  for (const auto& [pid, w] : workers_) {
    if (w->generation != generation_) continue;
    if (w->state != WState::kStarting && w->state != WState::kReady) continue;
    if (w->retiring && !include_retiring) continue;
    out.push_back(w);
  }
  std::sort(out.begin(), out.end(), [](const WorkerPtr& a, const WorkerPtr& b) { return a->spawned < b->spawned; });
  return out;
}

// Keeps the serving generation at target_ workers (spawning after the backoff, draining extras).
void Supervisor::Reconcile() {
  if (stopping_ || drained_ || waiting_for_change_ || finished_) return;
  if (Now() < respawn_not_before_) {
    ScheduleReconcile(respawn_not_before_ - Now());
    return;
  }
  std::vector<WorkerPtr> live = Current(false);
  const auto ready_timeout = Seconds(std::max(options_.config.timeout_worker_healthcheck, kMinReadySeconds));
  while (static_cast<int>(live.size()) < target_) {
    WorkerPtr w = Spawn(generation_, current_release_, ready_timeout);
    if (!w) {
      if (!booted_) {
        exit_code_ = 1;
        Stop(true, "");
        return;
      }
      backoff_seconds_ = std::min(kMaxBackoffSeconds, std::max(0.1, backoff_seconds_ * 2));
      ScheduleReconcile(Seconds(backoff_seconds_));
      return;
    }
    live.push_back(w);
  }
  // Too many: drain starting ones first (newest first), then the oldest ready ones.
  std::stable_sort(live.begin(), live.end(), [](const WorkerPtr& a, const WorkerPtr& b) {
    return (a->state == WState::kStarting) > (b->state == WState::kStarting);
  });
  for (size_t i = 0; static_cast<int>(live.size() - i) > target_; ++i) DrainWorker(live[i], "scaling down");
  CompleteScaleWaiters(false);
}

void Supervisor::ScheduleReconcile(Clock::duration after) {
  respawn_not_before_ = Now() + after;
  if (respawn_timer_ != 0) return;
  respawn_timer_ = scheduler_->RunAfter(after, [this] {
    respawn_timer_ = 0;
    Reconcile();
  });
}

void Supervisor::CancelReconcile() {
  scheduler_->Cancel(respawn_timer_);
  respawn_timer_ = 0;
}

// Once a second: workers silent for --timeout-worker-healthcheck, workers not ready in time.
void Supervisor::CheckHealth() {
  const auto now = Now();
  const auto silent_limit = Seconds(options_.config.timeout_worker_healthcheck);
  for (const auto& [pid, w] : workers_) {
    if (!w->kill_reason.empty()) continue;
    if (w->state == WState::kStarting && now > w->ready_deadline) {
      w->kill_reason = "not ready within " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(w->ready_deadline - w->spawned).count()) + "s";
      log::Error().error("Worker [{}] did not become ready in time; killing it.", pid);
      launcher_->Signal(pid, SIGKILL);
    } else if ((w->state == WState::kReady || w->state == WState::kDraining) && now - w->last_heartbeat > silent_limit) {
      w->kill_reason = "no heartbeat for " + std::to_string(options_.config.timeout_worker_healthcheck) + "s";
      log::Error().error("Worker [{}] sent no heartbeat for {}s; killing it{}.", pid,
                         options_.config.timeout_worker_healthcheck,
                         w->state == WState::kReady ? " and starting a replacement" : "");
      launcher_->Signal(pid, SIGKILL);
    }
  }
  CheckAge();
  CompleteScaleWaiters(true);
  health_timer_ = scheduler_->RunAfter(std::chrono::seconds(1), [this] {
    health_timer_ = 0;
    if (!finished_) CheckHealth();
  });
}


}  // namespace esg
