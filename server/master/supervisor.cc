// The master's supervisor (see supervisor.h).
#include "server/master/supervisor.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <istream>

#include "server/common/log.h"
#include "server/common/unix_user.h"
#include "server/common/version.h"
#include "server/master/master.h"
#include "server/master/sd_notify.h"
#include "server/master/worker_process.h"

namespace esg {
namespace {

namespace asio = boost::asio;
using control::Result;
using Code = control::Result::Code;

// Extra time a stopping worker gets past --timeout-graceful-shutdown before the master kills it.
constexpr std::chrono::seconds kKillGrace{10};
// A new worker has at least this long to become ready (or --timeout-worker-healthcheck if longer).
constexpr int kMinReadySeconds = 60;
// Consecutive workers failing before ready, with none serving, before ESG gives up (exit 3).
constexpr int kMaxBootFailures = 5;
constexpr double kMaxBackoffSeconds = 10;
// A worker that lived at least this long before dying resets the respawn backoff.
constexpr std::chrono::seconds kStableUptime{10};

std::string SignalName(int signal_number) {
  const char* abbrev = sigabbrev_np(signal_number);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal_number);
}

Supervisor::Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Supervisor::Clock::duration>(std::chrono::duration<double>(s));
}

double SecondsSince(Supervisor::Clock::time_point t) {
  return std::chrono::duration<double>(Supervisor::Clock::now() - t).count();
}

bool RealPath(const std::string& path, std::string* out) {
  char buffer[PATH_MAX];
  if (realpath(path.c_str(), buffer) == nullptr) return false;
  *out = buffer;
  return true;
}

std::string PidList(const std::vector<pid_t>& pids) {
  std::string out = "[";
  for (size_t i = 0; i < pids.size(); ++i) out += (i ? ", " : "") + std::to_string(pids[i]);
  return out + "]";
}

std::string Quoted(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
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

Supervisor::Supervisor(asio::io_context& io, MasterOptions& options)
    : io_(io), options_(options), signals_(io), health_timer_(io), respawn_timer_(io) {
  target_ = std::max(1, options_.config.workers.value_or(1));
  started_ = Clock::now();
}

Supervisor::~Supervisor() = default;

// ------------------------------------------------------------------------------------------------ start

bool Supervisor::Start() {
  log::Error().info("Started parent process [{}]", getpid());
  // Registered before any spawn so that no SIGCHLD or SIGTERM can slip past.
  for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1}) signals_.add(s);
  WaitForSignal();

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

  if (config.reload) {
    std::vector<std::string> dirs;
    for (const std::string& d : config.reload_dirs) {
      std::string real;
      dirs.push_back(RealPath(d, &real) ? real : d);
    }
    if (dirs.empty()) {
      char cwd[PATH_MAX];
      dirs.push_back(getcwd(cwd, sizeof cwd) != nullptr ? cwd : ".");
    }
    watcher_ = std::make_unique<FileWatcher>(
        io_, WatchFilter::Make(config.reload_includes, config.reload_excludes), config.reload_delay,
        [this](const std::vector<std::string>& changed) { OnFilesChanged(changed); });
    if (!watcher_->Start(dirs, &error)) {
      log::Error().error("{}", error);
      Finish(1);
      return false;
    }
    log::Error().info("Will watch for changes in these directories: {}", Quoted(dirs));
    log::Error().info("Started reloader process [{}] using inotify", getpid());
  }

  CheckHealth();
  Reconcile();
  return !finished_;
}

// ---------------------------------------------------------------------------------------------- signals

void Supervisor::WaitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    OnSignal(signal_number);
    if (!finished_) WaitForSignal();
  });
}

void Supervisor::OnSignal(int signal_number) {
  switch (signal_number) {
    case SIGCHLD:
      ReapChildren();
      return;
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
      Emit("scale", 0, generation_, std::to_string(target_));
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

void Supervisor::ReapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) OnExit(pid, status);
}

// ---------------------------------------------------------------------------------------------- workers

Supervisor::WorkerPtr Supervisor::Spawn(uint64_t generation, const Release& release, Clock::duration ready_timeout) {
  SpawnRequest request;
  request.python = release.python;
  request.package_root = options_.package_root;
  request.config = release.config;
  for (const Listener& l : options_.listeners) request.listeners.push_back(l.spec);
  request.extra_env = release.extra_env;
  request.drop_env = SystemdEnvNames();
  request.capture_output = true;
  SpawnedWorker spawned;
  std::string error;
  if (!SpawnWorker(request, &spawned, &error)) {
    log::Error().error("{}", error);
    return nullptr;
  }
  auto worker = std::make_shared<Worker>();
  worker->pid = spawned.pid;
  worker->generation = generation;
  worker->spawned = worker->last_heartbeat = Clock::now();
  worker->ready_deadline = worker->spawned + ready_timeout;
  workers_[worker->pid] = worker;
  log::Error().debug("Started worker process [{}] (generation {}) with {}", worker->pid, generation,
                     release.python);
  Emit("worker_spawned", worker->pid, generation, release.describe);
  // The handlers find the worker by pid: a channel outlives its worker while the output pipes drain.
  const pid_t pid = worker->pid;
  WorkerChannel::Handlers handlers;
  handlers.on_message = [this, pid](const WorkerMessage& message, std::string_view line) {
    auto it = workers_.find(pid);
    if (it != workers_.end()) OnControlMessage(it->second, message, line);
  };
  handlers.on_overflow = [this, pid] {
    auto it = workers_.find(pid);
    if (it != workers_.end()) OnControlOverflow(it->second);
  };
  worker->channel = WorkerChannel::Open(io_, pid, spawned.control_fd, spawned.stdout_fd, spawned.stderr_fd,
                                        std::move(handlers));
  return worker;
}

void Supervisor::OnControlOverflow(const WorkerPtr& worker) {
  // A broken (or hostile) worker: the channel carries small JSON lines only. The channel stopped reading;
  // kill it, and OnExit starts a replacement as for any worker that died.
  log::Error().error("Worker [{}] sent a control message longer than {} bytes; killing it.", worker->pid,
                     worker->channel->max_line());
  if (worker->kill_reason.empty()) worker->kill_reason = "control message too long";
  kill(worker->pid, SIGKILL);
}

// Newline-delimited JSON events from the worker (see WORKER_PROTOCOL.md): ready,
// heartbeat, max_requests, startup_failed; anything else is ignored (newer workers).
void Supervisor::OnControlMessage(const WorkerPtr& worker, const WorkerMessage& message, std::string_view line) {
  if (message.kind == WorkerMessage::Kind::kMalformed) {
    log::Error().debug("Ignoring a malformed control message from worker [{}]: {}", worker->pid,
                       log::Escape(std::string(line.substr(0, 200))));
    return;
  }
  worker->last_heartbeat = Clock::now();
  switch (message.kind) {
    case WorkerMessage::Kind::kHeartbeat:
      worker->requests = message.requests;
      worker->in_flight = message.in_flight;
      worker->connections = message.connections;
      worker->rss = message.rss;
      break;
    case WorkerMessage::Kind::kReady:
      OnReady(worker);
      break;
    case WorkerMessage::Kind::kStartupFailed:
      worker->failure = message.message;
      break;
    case WorkerMessage::Kind::kMaxRequests:
      worker->requests = message.requests;
      if (!worker->retiring && worker->state == WState::kReady && !stopping_) {
        worker->retiring = true;
        log::Error().info("Worker [{}] served {} requests (--limit-max-requests): starting its replacement.",
                          worker->pid, worker->requests);
        Reconcile();
      }
      break;
    default:
      break;
  }
}

void Supervisor::OnReady(const WorkerPtr& worker) {
  if (worker->state != WState::kStarting) return;
  worker->state = WState::kReady;
  worker->last_heartbeat = Clock::now();
  boot_failures_ = 0;
  Emit("worker_ready", worker->pid, worker->generation, "");
  if (reload_ && worker->generation == reload_->generation) {
    MaybeFinishReload();
    return;
  }
  if (worker->generation != generation_ || drained_) {
    DrainWorker(worker, "it belongs to a replaced generation");
    return;
  }
  // A new worker of the serving generation takes over from one that reached --limit-max-requests.
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

void Supervisor::OnExit(pid_t pid, int status) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  WorkerPtr w = it->second;
  workers_.erase(it);
  if (w->kill_timer) w->kill_timer->cancel();
  w->channel->CloseControl();
  const std::string text = ExitText(w, status);
  Emit("worker_exited", pid, w->generation, text);

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
    output = w->channel->RecentOutput();
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
  if (Clock::now() - w->spawned >= kStableUptime) {
    backoff_seconds_ = 0;
  } else {
    backoff_seconds_ = std::min(kMaxBackoffSeconds, std::max(0.1, backoff_seconds_ * 2));
  }
  if (w->retiring) {
    log::Error().info("Worker [{}] exited after --limit-max-requests ({}).", pid, text);
  } else {
    log::Error().error("Worker [{}] died ({}); starting a replacement.", pid, text);
  }
  ScheduleReconcile(Seconds(backoff_seconds_));
}

void Supervisor::Send(const WorkerPtr& worker, const WorkerCommand& command) { worker->channel->Send(command); }

void Supervisor::DrainWorker(const WorkerPtr& worker, const char* why) {
  if (worker->state == WState::kDraining || worker->state == WState::kStopping) return;
  log::Error().info("Draining worker [{}] (generation {}): {}.", worker->pid, worker->generation, why);
  if (worker->state == WState::kStarting) {
    worker->state = WState::kStopping;
    kill(worker->pid, SIGTERM);
    KillLater(worker, kKillGrace);
    return;
  }
  worker->state = WState::kDraining;
  Send(worker, WorkerCommand::Drain());
  if (options_.config.timeout_graceful_shutdown) {
    KillLater(worker, Seconds(*options_.config.timeout_graceful_shutdown) + kKillGrace);
  }
}

void Supervisor::KillLater(const WorkerPtr& worker, Clock::duration after) {
  if (!worker->kill_timer) worker->kill_timer = std::make_unique<asio::steady_timer>(io_);
  worker->kill_timer->expires_after(after);
  worker->kill_timer->async_wait([this, worker](const boost::system::error_code& ec) {
    if (ec || workers_.count(worker->pid) == 0) return;
    log::Error().warn("Worker [{}] did not stop in time; killing it.", worker->pid);
    worker->kill_reason = "did not stop in time";
    kill(worker->pid, SIGKILL);
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
  if (Clock::now() < respawn_not_before_) {
    ScheduleReconcile(respawn_not_before_ - Clock::now());
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
  respawn_not_before_ = Clock::now() + after;
  if (respawn_scheduled_) return;
  respawn_scheduled_ = true;
  respawn_timer_.expires_after(after);
  respawn_timer_.async_wait([this](const boost::system::error_code& ec) {
    respawn_scheduled_ = false;
    if (ec) return;
    Reconcile();
  });
}

// Once a second: workers silent for --timeout-worker-healthcheck, workers not ready in time.
void Supervisor::CheckHealth() {
  const auto now = Clock::now();
  const auto silent_limit = Seconds(options_.config.timeout_worker_healthcheck);
  for (const auto& [pid, w] : workers_) {
    if (!w->kill_reason.empty()) continue;
    if (w->state == WState::kStarting && now > w->ready_deadline) {
      w->kill_reason = "not ready within " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(w->ready_deadline - w->spawned).count()) + "s";
      log::Error().error("Worker [{}] did not become ready in time; killing it.", pid);
      kill(pid, SIGKILL);
    } else if ((w->state == WState::kReady || w->state == WState::kDraining) && now - w->last_heartbeat > silent_limit) {
      w->kill_reason = "no heartbeat for " + std::to_string(options_.config.timeout_worker_healthcheck) + "s";
      log::Error().error("Worker [{}] sent no heartbeat for {}s; killing it{}.", pid,
                         options_.config.timeout_worker_healthcheck,
                         w->state == WState::kReady ? " and starting a replacement" : "");
      kill(pid, SIGKILL);
    }
  }
  CompleteScaleWaiters(true);
  health_timer_.expires_after(std::chrono::seconds(1));
  health_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !finished_) CheckHealth();
  });
}

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
    Emit("reload_finished", 0, generation_, "rolled back: " + error);
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
  Emit("reload_started", 0, reload_->generation, reason);
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
    }
  }
  const uint64_t previous = generation_;
  generation_ = done.generation;
  current_release_ = done.release;
  if (!done.release_path.empty()) options_.config.app_dir = done.release_path;
  waiting_for_change_ = false;
  boot_failures_ = 0;
  backoff_seconds_ = 0;
  respawn_not_before_ = Clock::now();
  state_ = control::ServerState::kServing;
  log::Error().info("Reload finished: generation {} serves with workers {}; generation {} drains {}.", generation_,
                    PidList(fresh), previous, PidList(old));
  Emit("reload_finished", 0, generation_, "ok");
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
    kill(pid, SIGTERM);
    KillLater(w, kKillGrace);
  }
  state_ = booted_ ? control::ServerState::kServing : control::ServerState::kStarting;
  if (booted_) {
    log::Error().error("Reload failed: {}; generation {} keeps serving.", why, generation_);
    SdNotify("READY=1");
  } else {
    log::Error().error("Reload failed: {}; waiting for a file change.", why);
  }
  Emit("reload_finished", 0, failed.generation, "rolled back: " + why);
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
    respawn_timer_.cancel();
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
      kill(pid, SIGKILL);
      continue;
    }
    if (w->state == WState::kStopping) continue;
    // SIGTERM, not the drain command: a worker still importing the app has no handler yet and just ends.
    w->state = WState::kStopping;
    kill(pid, SIGTERM);
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
    for (Listener& listener : options_.listeners) {
      if (StopListening(&listener)) log::Error().debug("Stopped listening on {}.", listener.spec.Url(false));
    }
  }
  if (workers_.empty()) Finish(exit_code_);
}

void Supervisor::Finish(int code) {
  if (finished_) return;
  exit_code_ = code;
  finished_ = true;
  for (Listener& listener : options_.listeners) CloseListener(&listener);
  log::Error().info("Stopping parent process [{}]", getpid());
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  health_timer_.cancel();
  respawn_timer_.cancel();
  if (watcher_) watcher_->Stop();
  CompleteScaleWaiters(true);
  io_.stop();
}

void Supervisor::Announce() {
  for (const Listener& l : options_.listeners) log::Error().info("{}", RunningMessage(options_.config, l.spec));
  SdNotify("READY=1\nSTATUS=Serving\nMAINPID=" + std::to_string(getpid()));
}

void Supervisor::Emit(const std::string& kind, pid_t pid, uint64_t generation, const std::string& detail) {
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
  for (const Listener& l : options_.listeners) s.listeners.push_back(l.spec.Url(false));
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
    ws.rss_bytes = w->rss;
    ws.seconds_since_heartbeat = SecondsSince(w->last_heartbeat);
    s.workers.push_back(ws);
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
    Emit("scale", 0, generation_, std::to_string(target_));
  }
  const double timeout = std::max(options_.config.timeout_worker_healthcheck, kMinReadySeconds);
  scale_waiters_.push_back({count, Clock::now() + Seconds(timeout), std::move(done)});
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
    } else if (check_deadlines && Clock::now() > waiter.deadline) {
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
  respawn_timer_.cancel();
  for (const auto& [pid, w] : workers_) DrainWorker(w, "drain requested");
  Emit("drain", 0, generation_, "");
  return Result::Ok();
}

Result Supervisor::Resume() {
  if (stopping_) return Result{Code::kFailedPrecondition, "ESG is stopping."};
  if (!drained_) return Result::Ok();
  drained_ = false;
  generation_ = next_generation_++;
  respawn_not_before_ = Clock::now();
  log::Error().info("Resuming: starting generation {} with {} worker(s).", generation_, target_);
  Emit("resume", 0, generation_, "");
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
  for (const auto& [pid, w] : workers_) Send(w, WorkerCommand::SetLogLevel(level));
  return Result::Ok();
}

Result Supervisor::ReopenLogs() {
  log::Error().info("Reopening log files (ESG logs to stdout and stderr: nothing to reopen in the master).");
  for (const auto& [pid, w] : workers_) Send(w, WorkerCommand::ReopenLogs());
  return Result::Ok();
}

bool Supervisor::serving() const { return !drained_ && !stopping_ && booted_; }

}  // namespace esg
