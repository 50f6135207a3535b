// The supervisor's operations asked from outside (see supervisor.h): reload (SIGHUP, esgctl, a file
// change), stop, and the AdminApi calls — status, scale, drain/resume, shutdown, log level.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "server/common/log.h"
#include "server/common/version.h"
#include "server/master/master.h"
#include "server/master/sd_notify.h"
#include "server/master/supervisor.h"

namespace esg {
namespace {

using control::Result;
using Code = control::Result::Code;

std::string PidList(const std::vector<pid_t>& pids) {
  std::string out = "[";
  for (size_t i = 0; i < pids.size(); ++i) out += (i ? ", " : "") + std::to_string(pids[i]);
  return out + "]";
}

control::WorkerState ToApi(int state) {
  switch (state) {
    case 0: return control::WorkerState::kStarting;
    case 1: return control::WorkerState::kReady;
    case 2: return control::WorkerState::kDraining;
    default: return control::WorkerState::kStopping;
  }
}

}  // namespace

// ----------------------------------------------------------------------------------------------- reload

void Supervisor::StartReload(const std::string& reason, const std::string& release_path,
                             std::optional<double> ready_timeout, std::function<void(control::ReloadResult)> done) {
  auto reply = [&done](Code code, const std::string& message, uint64_t generation) {
    if (!done) return;
    control::ReloadResult r;
    r.result = Result{code, message};
    r.generation = generation;
    done(r);
  };
  if (stopping_) return reply(Code::kFailedPrecondition, "ESG is stopping.", generation_);
  if (drained_) return reply(Code::kFailedPrecondition, "ESG is drained; resume it before reloading.", generation_);
  if (reload_) {
    if (!done) {
      reload_again_ = true;  // SIGHUP or a file change during a reload: one more once it is over
      return;
    }
    return reply(Code::kBusy, "A reload is already running (generation " + std::to_string(reload_->generation) + ").",
                 generation_);
  }
  if (!release_path.empty()) {
    // Refused outright (INVALID_ARGUMENT, nothing started): it would otherwise be recorded as --app-dir.
    // (A path that does not exist keeps its old answer: BuildRelease fails and the reload is rolled back.)
    struct stat st;
    if (stat(release_path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      return reply(Code::kInvalidArgument, "The release path " + release_path + " is not a directory.", generation_);
    }
  }
  Config base = options_.config;
  if (!release_path.empty()) base.app_dir = release_path;
  Release release;
  std::string error;
  if (!BuildRelease(base, options_.python, &release, &error)) {
    log::Error().error("Reload failed: {}; generation {} keeps serving.", error, generation_);
    Emit(control::EventKind::kReloadFinished, 0, generation_, "rolled back: " + error);
    if (done) {
      control::ReloadResult r;
      r.result = Result{Code::kInvalidArgument, error};
      r.rolled_back = true;
      r.generation = generation_;
      done(r);
    }
    return;
  }
  PendingReload pending;
  pending.generation = next_generation_++;
  pending.release = release;
  pending.release_path = release_path;
  pending.reason = reason;
  if (done) pending.waiters.push_back(std::move(done));
  reload_ = std::move(pending);
  state_ = control::ServerState::kReloading;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  SdNotify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(now.tv_sec * 1000000LL + now.tv_nsec / 1000));
  log::Error().info("Reloading ({}): starting generation {} with {}.", reason, reload_->generation,
                    release.describe);
  Emit(control::EventKind::kReloadStarted, 0, reload_->generation, reason);
  // An explicit timeout is bounded (AdminApi refuses more) so that spawned + timeout cannot overflow the
  // clock; the default follows --timeout-worker-healthcheck (an int of seconds: no overflow either).
  const double timeout = ready_timeout ? std::min(control::kMaxReadyTimeoutSeconds, *ready_timeout)
                                       : std::max(options_.config.timeout_worker_healthcheck, kMinReadySeconds);
  const uint64_t generation = reload_->generation;
  for (int i = 0; i < target_; ++i) {
    WorkerPtr w = Spawn(generation, release, Seconds(timeout));
    if (!reload_ || reload_->generation != generation) return;  // failed meanwhile
    if (!w) {
      FailReload("a worker of generation " + std::to_string(generation) + " could not be started", "");
      return;
    }
    ++reload_->spawned;
  }
}

void Supervisor::MaybeFinishReload() {
  if (!reload_) return;
  std::vector<pid_t> fresh;
  for (const auto& [pid, w] : workers_) {
    if (w->generation != reload_->generation) continue;
    if (w->state != WState::kReady) return;
    fresh.push_back(pid);
  }
  if (static_cast<int>(fresh.size()) < reload_->spawned) return;
  PendingReload done = std::move(*reload_);
  reload_.reset();
  std::vector<pid_t> old;
  for (const auto& [pid, w] : workers_) {
    if (w->generation != done.generation && (w->state == WState::kStarting || w->state == WState::kReady)) {
      old.push_back(pid);
      DrainWorker(w, "reload");
      CountRestart(RestartReason::kReload);
    }
  }
  const uint64_t previous = generation_;
  generation_ = done.generation;
  current_release_ = done.release;
  if (!done.release_path.empty()) options_.config.app_dir = done.release_path;
  waiting_for_change_ = false;
  boot_failures_ = 0;
  backoff_seconds_ = 0;
  respawn_not_before_ = Now();
  state_ = control::ServerState::kServing;
  log::Error().info("Reload finished: generation {} serves with workers {}; generation {} drains {}.", generation_,
                    PidList(fresh), previous, PidList(old));
  Emit(control::EventKind::kReloadFinished, 0, generation_, "ok");
  if (!booted_) {
    booted_ = true;
    Announce();
  } else {
    SdNotify("READY=1");
  }
  for (auto& waiter : done.waiters) {
    control::ReloadResult r;
    r.generation = generation_;
    waiter(r);
  }
  Reconcile();
  if (reload_again_) {
    reload_again_ = false;
    StartReload("SIGHUP", "", std::nullopt, nullptr);
  }
}

void Supervisor::FailReload(const std::string& why, const std::string& output) {
  if (!reload_) return;
  PendingReload failed = std::move(*reload_);
  reload_.reset();
  for (const auto& [pid, w] : workers_) {
    if (w->generation != failed.generation || w->state == WState::kStopping) continue;
    w->state = WState::kStopping;
    launcher_->Signal(pid, SIGTERM);
    KillLater(w, kKillGrace);
  }
  state_ = booted_ ? control::ServerState::kServing : control::ServerState::kStarting;
  if (booted_) {
    log::Error().error("Reload failed: {}; generation {} keeps serving.", why, generation_);
    SdNotify("READY=1");
  } else {
    log::Error().error("Reload failed: {}; waiting for a file change.", why);
  }
  Emit(control::EventKind::kReloadFinished, 0, failed.generation, "rolled back: " + why);
  for (auto& waiter : failed.waiters) {
    control::ReloadResult r;
    r.result = Result{Code::kFailedPrecondition, "Reload failed: " + why + "; generation " +
                                                     std::to_string(generation_) + " keeps serving."};
    r.rolled_back = true;
    r.generation = generation_;
    r.worker_output = output;
    waiter(r);
  }
  if (reload_again_) {
    reload_again_ = false;
    StartReload("SIGHUP", "", std::nullopt, nullptr);
  }
}

void Supervisor::OnFilesChanged(const std::vector<std::string>& changed) {
  if (stopping_) return;
  std::vector<std::string> names;
  for (const std::string& path : changed) {
    size_t slash = path.rfind('/');
    names.push_back(slash == std::string::npos ? path : path.substr(slash + 1));
    if (names.size() == 5) break;
  }
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) list += (i ? ", '" : "'") + names[i] + "'";
  log::Error().warn("Detected changes in {}. Reloading...", list);
  StartReload("file change", "", std::nullopt, nullptr);
}

// ------------------------------------------------------------------------------------------------- stop

void Supervisor::Stop(bool graceful, const std::string& why) {
  if (finished_) return;
  if (!stopping_) {
    stopping_ = true;
    state_ = control::ServerState::kStopping;
    SdNotify("STOPPING=1");
    if (!why.empty()) log::Error().debug("{}: stopping {} worker(s).", why, workers_.size());
    if (watcher_) watcher_->Stop();
    CancelReconcile();
    if (reload_) {
      for (auto& waiter : reload_->waiters) {
        control::ReloadResult r;
        r.result = Result{Code::kFailedPrecondition, "ESG is stopping."};
        r.rolled_back = true;
        r.generation = generation_;
        waiter(r);
      }
      reload_.reset();
    }
    CompleteScaleWaiters(true);
  }
  for (const auto& [pid, w] : workers_) {
    if (!graceful) {
      launcher_->Signal(pid, SIGKILL);
      continue;
    }
    if (w->state == WState::kStopping) continue;
    // SIGTERM, not the drain command: a worker still importing the app has no handler yet and just ends.
    w->state = WState::kStopping;
    launcher_->Signal(pid, SIGTERM);
    if (options_.config.timeout_graceful_shutdown) {
      KillLater(w, Seconds(*options_.config.timeout_graceful_shutdown) + kKillGrace);
    }
  }
  if (!listeners_stopped_) {
    // New connections are refused from now on (not queued, then reset when the last worker exits); the
    // in-flight ones finish. After the SIGTERMs, so that the workers are already closing their copies
    // (a worker still watching a shut-down TCP listener sees accept() fail with EINVAL until it does).
    // Sockets passed to us (--fd, LISTEN_FDS) stay with their owner.
    listeners_stopped_ = true;
    for (BoundSocket& listener : options_.listeners) {
      if (StopListening(&listener)) log::Error().debug("Stopped listening on {}.", listener.spec.Url(false));
    }
  }
  if (workers_.empty()) Finish(exit_code_);
}

void Supervisor::Finish(int code) {
  if (finished_) return;
  exit_code_ = code;
  finished_ = true;
  for (BoundSocket& listener : options_.listeners) CloseListener(&listener);
  log::Error().info("Stopping parent process [{}]", getpid());
  scheduler_->Cancel(health_timer_);
  health_timer_ = 0;
  CancelReconcile();
  if (watcher_) watcher_->Stop();
  CompleteScaleWaiters(true);
  if (ports_.on_finished) ports_.on_finished();
}

void Supervisor::Announce() {
  for (const BoundSocket& l : options_.listeners) log::Error().info("{}", RunningMessage(options_.config, l.spec));
  SdNotify("READY=1\nSTATUS=Serving\nMAINPID=" + std::to_string(getpid()));
}

void Supervisor::Emit(control::EventKind kind, pid_t pid, uint64_t generation, const std::string& detail) {
  if (kind == control::EventKind::kReloadFinished) ++(detail == "ok" ? reloads_ok_ : reloads_rolled_back_);
  if (!event_sink_) return;
  control::Event event;
  event.kind = kind;
  event.pid = pid;
  event.generation = generation;
  event.detail = detail;
  event.timestamp = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  event_sink_(event);
}

// ------------------------------------------------------------------------------------------- admin ops

control::ServerStatus Supervisor::Status() const {
  control::ServerStatus s;
  s.version = kVersion;
  s.master_pid = getpid();
  s.uptime_seconds = SecondsSince(started_);
  s.state = drained_ ? control::ServerState::kDraining : state_;
  s.generation = generation_;
  for (const BoundSocket& l : options_.listeners) s.listeners.push_back(l.spec.Url(false));
  s.config_summary = ConfigSummary(current_release_, target_, options_.config.log_level);

  for (const auto& [pid, w] : workers_) {
    control::WorkerStatus ws;
    ws.pid = pid;
    ws.generation = w->generation;
    ws.state = ToApi(static_cast<int>(w->state));
    ws.uptime_seconds = SecondsSince(w->spawned);
    ws.requests = w->requests;
    ws.in_flight = w->in_flight;
    ws.connections = w->connections;
    ws.websockets = w->websockets;
    ws.rss_bytes = w->rss;
    ws.seconds_since_heartbeat = SecondsSince(w->last_heartbeat);
    if (w->retiring) ws.recycling = RestartReasonName(w->retire_reason);
    s.workers.push_back(ws);
  }
  s.requests_total = exited_requests_;
  for (const control::WorkerStatus& ws : s.workers) s.requests_total += ws.requests;
  s.request_counters_counted = !options_.config.metrics_bind.empty();
  s.request_counters = exited_counters_;
  for (const auto& [pid, w] : workers_) s.request_counters.Add(w->counters);
  s.reloads = {{"ok", reloads_ok_}, {"rolled_back", reloads_rolled_back_}};
  for (int i = 0; i < kRestartReasons; ++i) {
    s.worker_restarts.emplace_back(RestartReasonName(static_cast<RestartReason>(i)), restarts_[i]);
  }
  return s;
}

void Supervisor::Reload(const std::string& release_path, std::optional<double> ready_timeout,
                        std::function<void(control::ReloadResult)> done) {
  StartReload("esgctl", release_path, ready_timeout, std::move(done));
}

void Supervisor::Scale(int count, std::function<void(control::Result)> done) {
  if (stopping_) return done(Result{Code::kFailedPrecondition, "ESG is stopping."});
  if (count < 1 || count > control::kMaxWorkers) {
    return done(Result{Code::kInvalidArgument, "The number of workers must be between 1 and " +
                                                   std::to_string(control::kMaxWorkers) + " (asked for " +
                                                   std::to_string(count) + ")."});
  }
  if (count != target_) {
    log::Error().info("Scaling: {} -> {} workers.", target_, count);
    target_ = count;
    Emit(control::EventKind::kScale, 0, generation_, std::to_string(target_));
  }
  const double timeout = std::max(options_.config.timeout_worker_healthcheck, kMinReadySeconds);
  scale_waiters_.push_back({count, Now() + Seconds(timeout), std::move(done)});
  Reconcile();
  CompleteScaleWaiters(false);
}

void Supervisor::CompleteScaleWaiters(bool check_deadlines) {
  if (scale_waiters_.empty()) return;
  int ready = 0;
  int live = 0;
  for (const WorkerPtr& w : Current(false)) {
    ++live;
    if (w->state == WState::kReady) ++ready;
  }
  std::vector<ScaleWaiter> keep;
  std::vector<ScaleWaiter> complete;
  for (ScaleWaiter& waiter : scale_waiters_) {
    if (finished_ || stopping_) {
      waiter.done(Result{Code::kFailedPrecondition, "ESG is stopping."});
    } else if (waiter.count != target_) {
      waiter.done(Result{Code::kFailedPrecondition, "Superseded by another scale request (now " +
                                                        std::to_string(target_) + " workers)."});
    } else if (drained_ || (ready == target_ && live == target_)) {
      waiter.done(Result::Ok());
    } else if (check_deadlines && Now() > waiter.deadline) {
      waiter.done(Result{Code::kDeadlineExceeded, std::to_string(ready) + " of " + std::to_string(target_) +
                                                      " workers are ready; the others did not start in time."});
    } else {
      keep.push_back(std::move(waiter));
    }
  }
  scale_waiters_ = std::move(keep);
}

Result Supervisor::Drain() {
  if (stopping_) return Result{Code::kFailedPrecondition, "ESG is stopping."};
  if (drained_) return Result::Ok();
  drained_ = true;
  log::Error().info("Draining: the workers stop accepting, finish in-flight requests and exit; ESG stays up "
                    "until resumed.");
  if (reload_) FailReload("ESG was drained", "");
  CancelReconcile();
  for (const auto& [pid, w] : workers_) DrainWorker(w, "drain requested");
  Emit(control::EventKind::kDrain, 0, generation_, "");
  return Result::Ok();
}

Result Supervisor::Resume() {
  if (stopping_) return Result{Code::kFailedPrecondition, "ESG is stopping."};
  if (!drained_) return Result::Ok();
  drained_ = false;
  generation_ = next_generation_++;
  respawn_not_before_ = Now();
  log::Error().info("Resuming: starting generation {} with {} worker(s).", generation_, target_);
  Emit(control::EventKind::kResume, 0, generation_, "");
  Reconcile();
  return Result::Ok();
}

Result Supervisor::Shutdown(bool graceful) {
  if (finished_) return Result::Ok();
  ++stop_requests_;
  Stop(graceful, "Shutdown requested");
  return Result::Ok();
}

Result Supervisor::SetLogLevel(const std::string& level) {
  spdlog::level::level_enum parsed;
  if (!log::ParseLevel(level, &parsed)) {
    return Result{Code::kInvalidArgument,
                  "Unknown log level '" + level + "'; use critical, error, warning, info, debug or trace."};
  }
  options_.config.log_level = level;
  current_release_.config.log_level = level;
  if (reload_) reload_->release.config.log_level = level;
  log::Init({level, options_.config.use_colors, options_.config.access_log});
  for (const auto& [pid, w] : workers_) launcher_->Send(pid, WorkerCommand::SetLogLevel(level));
  return Result::Ok();
}

Result Supervisor::ReopenLogs() {
  log::Error().info("Reopening log files (ESG logs to stdout and stderr: nothing to reopen in the master).");
  for (const auto& [pid, w] : workers_) launcher_->Send(pid, WorkerCommand::ReopenLogs());
  return Result::Ok();
}

bool Supervisor::serving() const { return !drained_ && !stopping_ && booted_; }

}  // namespace esg
