// The supervisor's recycling (see supervisor.h): a worker that reached --limit-max-requests (it says so),
// --limit-worker-memory (its heartbeat RSS) or --limit-worker-lifetime (the master's clock, + jitter) is
// replaced the same way — the new worker first, then the old one drains — so a leaking or ageing app is
// renewed without a request in flight being cut, and never meets the OOM killer mid-request.
#include <algorithm>

#include "server/common/log.h"
#include "server/master/master.h"
#include "server/master/supervisor.h"

namespace esg {

const char* Supervisor::RestartReasonName(RestartReason reason) {
  switch (reason) {
    case RestartReason::kCrash: return "crash";
    case RestartReason::kHeartbeat: return "heartbeat";
    case RestartReason::kMaxRequests: return "max-requests";
    case RestartReason::kMemory: return "memory";
    case RestartReason::kAge: return "age";
    case RestartReason::kReload: return "reload";
  }
  return "";
}

Supervisor::Clock::time_point Supervisor::RetireAt(Clock::time_point spawned) {
  const std::optional<double>& lifetime = options_.config.limit_worker_lifetime;
  if (!lifetime || *lifetime <= 0) return Clock::time_point::max();
  // The CLI bounds nothing above; a lifetime past ~100 years is as good as none (and cannot overflow).
  const double seconds = std::min(*lifetime, 3.0e9);
  const double jitter = std::uniform_real_distribution<double>(0, kLifetimeJitter)(random_);
  return spawned + Seconds(seconds * (1 + jitter));
}

void Supervisor::CheckMemory(const WorkerPtr& worker) {
  const std::optional<int>& limit = options_.config.limit_worker_memory;
  if (!limit || worker->rss <= static_cast<uint64_t>(*limit) * 1024 * 1024) return;
  Recycle(worker, RestartReason::kMemory,
          "uses " + std::to_string(worker->rss / (1024 * 1024)) + " MiB (--limit-worker-memory " +
              std::to_string(*limit) + ")");
}

void Supervisor::CheckAge() {
  if (!options_.config.limit_worker_lifetime) return;
  const auto now = Now();
  std::vector<WorkerPtr> due;
  for (const auto& [pid, w] : workers_) {
    if (now >= w->retire_at) due.push_back(w);
  }
  for (const WorkerPtr& w : due) {
    Recycle(w, RestartReason::kAge,
            "ran " + std::to_string(static_cast<int64_t>(SecondsSince(w->spawned))) + "s (--limit-worker-lifetime)");
  }
}

void Supervisor::Recycle(const WorkerPtr& worker, RestartReason reason, const std::string& why) {
  // Only a serving worker is recycled: one still starting has no replacement to wait for, one of an old
  // generation or draining is on its way out anyway, and nothing is started while stopping or drained.
  if (worker->retiring || worker->state != WState::kReady || worker->generation != generation_ || stopping_ ||
      drained_) {
    return;
  }
  worker->retiring = true;
  worker->retire_reason = reason;
  CountRestart(reason);
  log::Error().info("Worker [{}] {}: starting its replacement.", worker->pid, why);
  Emit(control::EventKind::kWorkerRecycling, worker->pid, worker->generation,
       std::string(RestartReasonName(reason)) + ": " + why);
  Reconcile();
}

}  // namespace esg
