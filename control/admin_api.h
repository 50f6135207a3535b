// AdminApi: the plain C++ interface the master exposes to its control plane. The gRPC service
// (control/) translates RPCs into these calls; the master (server/master/) implements them. Nothing
// here includes gRPC, so the master and its tests do not depend on it.
//
// Threading: the gRPC service calls these from its own threads. Implementations must hand the work to
// the master's event loop and wait for the result (or return one they can compute thread-safely).
// Mutating calls are serialised by the implementation: a second Reload while one runs waits or fails
// with kBusy, never interleaves.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/common/request_counters.h"

namespace esg::control {

// Bounds every implementation and the gRPC service enforce (INVALID_ARGUMENT beyond them), whatever the
// request's path: ScaleWorkers by count or by delta, SIGTTIN, Reload's ready timeout.
inline constexpr int kMaxWorkers = 10000;
inline constexpr double kMaxReadyTimeoutSeconds = 3600;  // one hour; unset means the master's default
inline constexpr size_t kMaxPathBytes = 4095;            // PATH_MAX - 1: a longer release_path is refused

enum class ServerState { kStarting, kServing, kReloading, kDraining, kStopping };
enum class WorkerState { kStarting, kReady, kDraining, kStopping };

struct WorkerStatus {
  int pid = 0;
  uint64_t generation = 0;
  WorkerState state = WorkerState::kStarting;
  double uptime_seconds = 0;
  uint64_t requests = 0;
  uint64_t in_flight = 0;
  uint64_t connections = 0;
  uint64_t websockets = 0;  // open WebSocket sessions
  uint64_t rss_bytes = 0;
  double seconds_since_heartbeat = 0;
  std::string recycling;  // "" or why it is being replaced: "max-requests", "memory", "age"
};

struct ServerStatus {
  std::string version;
  int master_pid = 0;
  double uptime_seconds = 0;
  ServerState state = ServerState::kStarting;
  uint64_t generation = 0;
  std::vector<std::string> listeners;                               // "http://127.0.0.1:8000", "unix:/tmp/esg.sock"
  std::vector<std::pair<std::string, std::string>> config_summary;  // effective settings, for display
  std::vector<WorkerStatus> workers;
  // Workers replaced since the master started, by reason, always all of them in this order: "crash",
  // "heartbeat", "max-requests", "memory", "age", "reload". Never decreases.
  std::vector<std::pair<std::string, uint64_t>> worker_restarts;
  // Requests served by every worker since the master started: the live workers' counters plus the last
  // counters of the workers that exited. Never decreases.
  uint64_t requests_total = 0;
  // The per-request figures (RequestCounters), counted by the workers only when the master serves
  // --metrics-bind (request_counters_counted): the live workers' counters plus the last counters of the
  // workers that exited, like requests_total. Never decreases.
  bool request_counters_counted = false;
  RequestCounters request_counters;
  // Reloads since the master started by result, always both in this order: "ok", "rolled_back".
  std::vector<std::pair<std::string, uint64_t>> reloads;
};

// The outcome of a call. `code` maps onto a canonical gRPC status in the service.
struct Result {
  enum class Code { kOk, kInvalidArgument, kFailedPrecondition, kBusy, kDeadlineExceeded, kInternal };
  Code code = Code::kOk;
  std::string message;  // a sentence a person can act on (empty when ok)
  static Result Ok() { return {}; }
};

struct ReloadResult {
  Result result;
  bool rolled_back = false;
  uint64_t generation = 0;
  std::string worker_output;  // the failing worker's error output, when rolled back
};

// What a supervisor event is about. The gRPC service maps each onto its proto EventKind (one table in
// control_service.cc) and sends EventKindName as the event's kind_name.
enum class EventKind {
  kWorkerSpawned,   // detail: the release ("app_dir ..., python ...")
  kWorkerReady,
  kWorkerExited,    // detail: "exit code N" / "killed by SIGX", and why the master killed it
  kReloadStarted,   // detail: why ("SIGHUP", "esgctl", "file change")
  kReloadFinished,  // detail: "ok" or "rolled back: <why>"
  kDrain,
  kResume,
  kScale,           // detail: the new worker count
  kWorkerRecycling, // a limit was reached; detail: "<reason>: <what>" (max-requests, memory, age)
};

// "worker_spawned", "worker_ready", "worker_exited", "reload_started", "reload_finished", "drain", "resume",
// "scale", "worker_recycling"; "" for a value outside the enum.
inline std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kWorkerSpawned: return "worker_spawned";
    case EventKind::kWorkerReady: return "worker_ready";
    case EventKind::kWorkerExited: return "worker_exited";
    case EventKind::kReloadStarted: return "reload_started";
    case EventKind::kReloadFinished: return "reload_finished";
    case EventKind::kDrain: return "drain";
    case EventKind::kResume: return "resume";
    case EventKind::kScale: return "scale";
    case EventKind::kWorkerRecycling: return "worker_recycling";
  }
  return "";
}

struct Event {
  EventKind kind = EventKind::kWorkerSpawned;
  int pid = 0;
  uint64_t generation = 0;
  std::string detail;
  double timestamp = 0;  // seconds since the epoch
};

class AdminApi {
 public:
  virtual ~AdminApi() = default;
  virtual ServerStatus GetStatus() = 0;
  // Exactly one of count/delta; the resulting count must be within [1, kMaxWorkers]. Returns once the new
  // count serves (or with the reason it does not).
  virtual Result ScaleWorkers(std::optional<int> count, std::optional<int> delta) = 0;
  // release_path: empty (keep the current --app-dir) or a directory; ready_timeout_seconds in
  // (0, kMaxReadyTimeoutSeconds]. Anything else is kInvalidArgument with a sentence.
  virtual ReloadResult Reload(const std::string& release_path, std::optional<double> ready_timeout_seconds) = 0;
  virtual Result Drain() = 0;
  virtual Result Resume() = 0;
  virtual Result Shutdown(bool graceful) = 0;
  virtual Result SetLogLevel(const std::string& level) = 0;
  virtual Result ReopenLogs() = 0;
  // Calls `sink` for each event until it returns false; returns a token for Unsubscribe.
  virtual uint64_t Subscribe(std::function<bool(const Event&)> sink) = 0;
  virtual void Unsubscribe(uint64_t token) = 0;
  virtual bool serving() = 0;  // for grpc.health.v1: true unless drained/stopping
};

}  // namespace esg::control
