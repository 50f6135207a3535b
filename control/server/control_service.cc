// Control and Health services over AdminApi (see control_service.h).
#include "control/server/control_service.h"

#include "control/prometheus.h"

#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <set>
#include <thread>

namespace esg::control {
namespace {

using grpc::Status;
using grpc::StatusCode;
using HealthStatus = ::grpc::health::v1::HealthCheckResponse;

constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr size_t kMaxQueuedEvents = 10000;

void SetDuration(double seconds, google::protobuf::Duration* out) {
  if (!(seconds > 0)) seconds = 0;
  double whole = std::floor(seconds);
  out->set_seconds(static_cast<int64_t>(whole));
  out->set_nanos(static_cast<int32_t>((seconds - whole) * 1e9));
}

v1::ServerState ToProto(ServerState state) {
  switch (state) {
    case ServerState::kStarting: return v1::SERVER_STATE_STARTING;
    case ServerState::kServing: return v1::SERVER_STATE_SERVING;
    case ServerState::kReloading: return v1::SERVER_STATE_RELOADING;
    case ServerState::kDraining: return v1::SERVER_STATE_DRAINING;
    case ServerState::kStopping: return v1::SERVER_STATE_STOPPING;
  }
  return v1::SERVER_STATE_UNSPECIFIED;
}

v1::WorkerState ToProto(WorkerState state) {
  switch (state) {
    case WorkerState::kStarting: return v1::WORKER_STATE_STARTING;
    case WorkerState::kReady: return v1::WORKER_STATE_READY;
    case WorkerState::kDraining: return v1::WORKER_STATE_DRAINING;
    case WorkerState::kStopping: return v1::WORKER_STATE_STOPPING;
  }
  return v1::WORKER_STATE_UNSPECIFIED;
}

v1::EventKind ToProto(EventKind kind) {
  switch (kind) {
    case EventKind::kWorkerSpawned: return v1::EVENT_KIND_WORKER_SPAWNED;
    case EventKind::kWorkerReady: return v1::EVENT_KIND_WORKER_READY;
    case EventKind::kWorkerExited: return v1::EVENT_KIND_WORKER_EXITED;
    case EventKind::kReloadStarted: return v1::EVENT_KIND_RELOAD_STARTED;
    case EventKind::kReloadFinished: return v1::EVENT_KIND_RELOAD_FINISHED;
    case EventKind::kDrain: return v1::EVENT_KIND_DRAIN;
    case EventKind::kResume: return v1::EVENT_KIND_RESUME;
    case EventKind::kScale: return v1::EVENT_KIND_SCALE;
    case EventKind::kWorkerRecycling: return v1::EVENT_KIND_WORKER_RECYCLING;
  }
  return v1::EVENT_KIND_UNSPECIFIED;
}

bool PastDeadline(const grpc::ServerContext* context) {
  return std::chrono::system_clock::now() >= context->deadline();
}

Status Stopping() { return Status(StatusCode::UNAVAILABLE, "the esg master is stopping; retry once it is back"); }

}  // namespace

Status ToGrpcStatus(const Result& result) {
  auto with = [&](StatusCode code, const char* fallback) {
    return Status(code, result.message.empty() ? fallback : result.message);
  };
  switch (result.code) {
    case Result::Code::kOk: return Status::OK;
    case Result::Code::kInvalidArgument: return with(StatusCode::INVALID_ARGUMENT, "the request is invalid");
    case Result::Code::kFailedPrecondition:
      return with(StatusCode::FAILED_PRECONDITION, "the server's state does not allow this call now");
    case Result::Code::kBusy:
      return with(StatusCode::ABORTED, "another operation is in progress; retry when it has finished");
    case Result::Code::kDeadlineExceeded:
      return with(StatusCode::DEADLINE_EXCEEDED, "the operation did not complete in time");
    case Result::Code::kInternal: return with(StatusCode::INTERNAL, "internal error in the esg master");
  }
  return Status(StatusCode::UNKNOWN, "unknown result code from the esg master: " + result.message);
}

Status ControlService::Acquire(grpc::ServerContext* context, const char* operation,
                               std::unique_lock<std::timed_mutex>* lock) {
  *lock = std::unique_lock<std::timed_mutex>(mutating_, std::defer_lock);
  while (!lock->try_lock_for(kPollInterval)) {
    if (lifetime_->stopping) return Stopping();
    if (context->IsCancelled() || PastDeadline(context)) {
      std::lock_guard<std::mutex> guard(running_mu_);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - running_since_).count();
      std::string sentence = std::string(operation) + " gave up waiting: " + running_ + " has been running for " +
                             std::to_string(static_cast<int>(seconds)) + " s; retry when it has finished";
      return Status(context->IsCancelled() ? StatusCode::CANCELLED : StatusCode::DEADLINE_EXCEEDED, sentence);
    }
  }
  if (lifetime_->stopping) return Stopping();
  std::lock_guard<std::mutex> guard(running_mu_);
  running_ = operation;
  running_since_ = std::chrono::steady_clock::now();
  return Status::OK;
}

Status ControlService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*, v1::GetStatusResponse* out) {
  ServerStatus status = admin_->GetStatus();
  out->set_version(status.version);
  out->set_master_pid(status.master_pid);
  SetDuration(status.uptime_seconds, out->mutable_uptime());
  out->set_state(ToProto(status.state));
  out->set_generation(status.generation);
  for (const std::string& listener : status.listeners) out->add_listeners(listener);
  for (const auto& [key, value] : status.config_summary) {
    v1::ConfigEntry* entry = out->add_config();
    entry->set_key(key);
    entry->set_value(value);
  }
  for (const WorkerStatus& w : status.workers) {
    v1::Worker* worker = out->add_workers();
    worker->set_pid(w.pid);
    worker->set_generation(w.generation);
    worker->set_state(ToProto(w.state));
    SetDuration(w.uptime_seconds, worker->mutable_uptime());
    worker->set_requests(w.requests);
    worker->set_in_flight(w.in_flight);
    worker->set_connections(w.connections);
    worker->set_websockets(w.websockets);
    worker->set_rss_bytes(w.rss_bytes);
    SetDuration(w.seconds_since_heartbeat, worker->mutable_since_heartbeat());
    worker->set_recycling(w.recycling);
  }
  for (const auto& [reason, count] : status.worker_restarts) {
    v1::RestartCount* restart = out->add_worker_restarts();
    restart->set_reason(reason);
    restart->set_count(count);
  }
  return Status::OK;
}

Status ControlService::GetMetrics(grpc::ServerContext*, const v1::GetMetricsRequest*, v1::GetMetricsResponse* out) {
  out->set_text(PrometheusText(admin_->GetStatus()));
  out->set_content_type(std::string(kPrometheusContentType));
  return Status::OK;
}

Status ControlService::ScaleWorkers(grpc::ServerContext* context, const v1::ScaleWorkersRequest* request,
                                    v1::ScaleWorkersResponse* response) {
  std::optional<int> count, delta;
  switch (request->target_case()) {
    case v1::ScaleWorkersRequest::kCount:
      if (request->count() < 1 || request->count() > static_cast<uint32_t>(kMaxWorkers)) {
        return Status(StatusCode::INVALID_ARGUMENT, "count must be between 1 and " + std::to_string(kMaxWorkers) +
                                                        ", got " + std::to_string(request->count()));
      }
      count = static_cast<int>(request->count());
      break;
    case v1::ScaleWorkersRequest::kDelta:
      if (request->delta() < -kMaxWorkers || request->delta() > kMaxWorkers) {
        return Status(StatusCode::INVALID_ARGUMENT, "delta must be between -" + std::to_string(kMaxWorkers) +
                                                        " and " + std::to_string(kMaxWorkers) + ", got " +
                                                        std::to_string(request->delta()));
      }
      delta = request->delta();
      break;
    default:
      return Status(StatusCode::INVALID_ARGUMENT, "set either count (the number of workers) or delta");
  }
  std::unique_lock<std::timed_mutex> lock;
  if (Status held = Acquire(context, "ScaleWorkers", &lock); !held.ok()) return held;
  Result result = admin_->ScaleWorkers(count, delta);
  if (result.code != Result::Code::kOk) return ToGrpcStatus(result);
  uint32_t ready = 0;
  for (const WorkerStatus& w : admin_->GetStatus().workers) ready += w.state == WorkerState::kReady ? 1 : 0;
  response->set_workers(ready);
  return Status::OK;
}

Status ControlService::Reload(grpc::ServerContext* context, const v1::ReloadRequest* request,
                              v1::ReloadResponse* response) {
  if (request->strategy() != v1::RELOAD_STRATEGY_UNSPECIFIED &&
      request->strategy() != v1::RELOAD_STRATEGY_START_THEN_DRAIN) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "unknown reload strategy " + std::to_string(request->strategy()) + "; use START_THEN_DRAIN");
  }
  std::optional<double> timeout;
  if (request->has_ready_timeout()) {
    // A google.protobuf.Duration: nanos in [0, 1e9) for a positive one. Checked on the integers, before
    // any conversion, so no value can overflow the master's clock arithmetic (1e10 s used to).
    const auto& d = request->ready_timeout();
    if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() >= 1000000000 || (d.seconds() == 0 && d.nanos() == 0)) {
      return Status(StatusCode::INVALID_ARGUMENT,
                    "ready_timeout must be a positive duration (or unset for the default), got " +
                        std::to_string(d.seconds()) + " s " + std::to_string(d.nanos()) + " ns");
    }
    if (d.seconds() > static_cast<int64_t>(kMaxReadyTimeoutSeconds) ||
        (d.seconds() == static_cast<int64_t>(kMaxReadyTimeoutSeconds) && d.nanos() > 0)) {
      return Status(StatusCode::INVALID_ARGUMENT,
                    "ready_timeout must be at most " + std::to_string(static_cast<int>(kMaxReadyTimeoutSeconds)) +
                        " s (one hour), got " + std::to_string(d.seconds()) + " s");
    }
    timeout = static_cast<double>(d.seconds()) + d.nanos() / 1e9;
  }
  const std::string& path = request->release_path();
  if (path.find('\0') != std::string::npos) {
    return Status(StatusCode::INVALID_ARGUMENT, "release_path must not contain a NUL byte");
  }
  if (path.size() > kMaxPathBytes) {
    return Status(StatusCode::INVALID_ARGUMENT, "release_path is longer than " + std::to_string(kMaxPathBytes) +
                                                    " bytes (" + std::to_string(path.size()) + ")");
  }
  std::unique_lock<std::timed_mutex> lock;
  if (Status held = Acquire(context, "Reload", &lock); !held.ok()) return held;
  ReloadResult result = admin_->Reload(request->release_path(), timeout);
  response->set_generation(result.generation);
  if (result.rolled_back) {
    response->set_outcome(v1::RELOAD_OUTCOME_ROLLED_BACK);
    response->set_reason(result.result.message.empty() ? "a new worker failed to start" : result.result.message);
    response->set_worker_output(result.worker_output);
    return Status::OK;
  }
  if (result.result.code != Result::Code::kOk) {
    Status status = ToGrpcStatus(result.result);
    if (result.worker_output.empty()) return status;
    return Status(status.error_code(), status.error_message() + "\n" + result.worker_output);
  }
  response->set_outcome(v1::RELOAD_OUTCOME_SUCCEEDED);
  return Status::OK;
}

Status ControlService::Drain(grpc::ServerContext* context, const v1::DrainRequest*, v1::DrainResponse*) {
  std::unique_lock<std::timed_mutex> lock;
  if (Status held = Acquire(context, "Drain", &lock); !held.ok()) return held;
  return ToGrpcStatus(admin_->Drain());
}

Status ControlService::Resume(grpc::ServerContext* context, const v1::ResumeRequest*, v1::ResumeResponse*) {
  std::unique_lock<std::timed_mutex> lock;
  if (Status held = Acquire(context, "Resume", &lock); !held.ok()) return held;
  return ToGrpcStatus(admin_->Resume());
}

Status ControlService::Shutdown(grpc::ServerContext* context, const v1::ShutdownRequest* request,
                                v1::ShutdownResponse*) {
  bool graceful = request->mode() != v1::SHUTDOWN_MODE_QUICK;
  if (request->mode() < v1::SHUTDOWN_MODE_UNSPECIFIED || request->mode() > v1::SHUTDOWN_MODE_QUICK) {
    return Status(StatusCode::INVALID_ARGUMENT, "unknown shutdown mode; use GRACEFUL or QUICK");
  }
  std::unique_lock<std::timed_mutex> lock;
  if (graceful) {
    if (Status held = Acquire(context, "Shutdown", &lock); !held.ok()) return held;
  }
  return ToGrpcStatus(admin_->Shutdown(graceful));
}

Status ControlService::SetLogLevel(grpc::ServerContext* context, const v1::SetLogLevelRequest* request,
                                   v1::SetLogLevelResponse*) {
  static const char* const kNames[] = {"", "critical", "error", "warning", "info", "debug", "trace"};
  int level = request->level();
  if (level <= v1::LOG_LEVEL_UNSPECIFIED || level > v1::LOG_LEVEL_TRACE) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "set level to one of critical, error, warning, info, debug, trace");
  }
  std::unique_lock<std::timed_mutex> lock;
  if (Status held = Acquire(context, "SetLogLevel", &lock); !held.ok()) return held;
  return ToGrpcStatus(admin_->SetLogLevel(kNames[level]));
}

Status ControlService::ReopenLogs(grpc::ServerContext* context, const v1::ReopenLogsRequest*,
                                  v1::ReopenLogsResponse*) {
  std::unique_lock<std::timed_mutex> lock;
  if (Status held = Acquire(context, "ReopenLogs", &lock); !held.ok()) return held;
  return ToGrpcStatus(admin_->ReopenLogs());
}

namespace {

// Events handed over from AdminApi's thread to the stream's handler thread.
struct EventQueue {
  std::mutex mu;
  std::condition_variable ready;
  std::deque<Event> events;
  bool closed = false;    // the stream ended: the sink returns false from now on
  bool overflow = false;  // the client fell behind by kMaxQueuedEvents
};

}  // namespace

Status ControlService::WatchEvents(grpc::ServerContext* context, const v1::WatchEventsRequest* request,
                                   grpc::ServerWriter<v1::Event>* writer) {
  std::set<int> wanted(request->kinds().begin(), request->kinds().end());
  auto queue = std::make_shared<EventQueue>();
  uint64_t token = admin_->Subscribe([queue](const Event& event) {
    std::lock_guard<std::mutex> guard(queue->mu);
    if (queue->closed) return false;
    if (queue->events.size() >= kMaxQueuedEvents) {
      queue->overflow = true;
      return false;
    }
    queue->events.push_back(event);
    queue->ready.notify_one();
    return true;
  });
  // Initial metadata tells the client the subscription is active: events from now on are delivered.
  writer->SendInitialMetadata();
  Status status = Status::OK;
  while (true) {
    std::deque<Event> batch;
    {
      std::unique_lock<std::mutex> guard(queue->mu);
      queue->ready.wait_for(guard, kPollInterval, [&] { return !queue->events.empty() || queue->overflow; });
      batch.swap(queue->events);
      if (queue->overflow && batch.empty()) {
        status = Status(StatusCode::RESOURCE_EXHAUSTED,
                        "the event stream fell more than 10000 events behind; watch again");
        break;
      }
    }
    bool write_failed = false;
    for (const Event& e : batch) {
      v1::Event out;
      out.set_kind(ToProto(e.kind));
      if (!wanted.empty() && wanted.count(out.kind()) == 0) continue;
      out.set_kind_name(std::string(EventKindName(e.kind)));
      out.set_pid(e.pid);
      out.set_generation(e.generation);
      out.set_detail(e.detail);
      double whole = std::floor(e.timestamp);
      out.mutable_time()->set_seconds(static_cast<int64_t>(whole));
      out.mutable_time()->set_nanos(static_cast<int32_t>((e.timestamp - whole) * 1e9));
      if (!writer->Write(out)) {
        write_failed = true;
        break;
      }
    }
    if (write_failed || context->IsCancelled()) {
      status = Status(StatusCode::CANCELLED, "the client went away");
      break;
    }
    if (lifetime_->stopping) {
      status = Stopping();
      break;
    }
  }
  {
    std::lock_guard<std::mutex> guard(queue->mu);
    queue->closed = true;
  }
  admin_->Unsubscribe(token);
  return status;
}

HealthStatus::ServingStatus HealthService::Current() {
  if (lifetime_->stopping) return HealthStatus::NOT_SERVING;
  return admin_->serving() ? HealthStatus::SERVING : HealthStatus::NOT_SERVING;
}

Status HealthService::Check(grpc::ServerContext*, const ::grpc::health::v1::HealthCheckRequest* request,
                            HealthStatus* response) {
  if (!request->service().empty()) {
    // Echo a bounded, printable part of the name only (it is the client's arbitrary bytes).
    std::string name;
    for (char c : request->service().substr(0, 100)) name += c >= 0x20 && c < 0x7f ? c : '?';
    if (request->service().size() > 100) name += "...";
    return Status(StatusCode::NOT_FOUND, "unknown service '" + name + "'; ask about \"\" (the whole server)");
  }
  response->set_status(Current());
  return Status::OK;
}

Status HealthService::Watch(grpc::ServerContext* context, const ::grpc::health::v1::HealthCheckRequest* request,
                            grpc::ServerWriter<HealthStatus>* writer) {
  HealthStatus message;
  if (!request->service().empty()) {
    message.set_status(HealthStatus::SERVICE_UNKNOWN);
    writer->Write(message);
  }
  int last = -1;
  while (!context->IsCancelled()) {
    if (request->service().empty()) {
      HealthStatus::ServingStatus now = Current();
      if (now != last) {
        message.set_status(now);
        if (!writer->Write(message)) break;
        last = now;
      }
    }
    if (lifetime_->stopping) return Stopping();
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status(StatusCode::CANCELLED, "the client went away");
}

}  // namespace esg::control
