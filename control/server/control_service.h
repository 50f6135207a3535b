// The gRPC services of the control plane, over AdminApi: esg.control.v1.Control and grpc.health.v1.Health.
// Transport and peer checks live in control_server.cc; these classes only translate calls.
//
// Error policy: every AdminApi Result becomes a canonical status (ToGrpcStatus) carrying its sentence.
// Mutating calls take one mutex; a call arriving while another runs waits for it until the caller's
// deadline or cancellation (then DEADLINE_EXCEEDED / CANCELLED naming the running call), so calls are
// serialised, never interleaved. Shutdown QUICK does not wait: stopping must not queue behind a reload.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "control/admin_api.h"
#include "esg/control/v1/control.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace esg::control {

// The canonical status for an AdminApi outcome: kInvalidArgument → INVALID_ARGUMENT,
// kFailedPrecondition → FAILED_PRECONDITION, kBusy → ABORTED, kDeadlineExceeded → DEADLINE_EXCEEDED,
// kInternal → INTERNAL. The message is the Result's sentence (a generic one when it is empty).
grpc::Status ToGrpcStatus(const Result& result);

// Set once the control plane stops; streams end with UNAVAILABLE and health reads NOT_SERVING.
struct ServiceLifetime {
  std::atomic<bool> stopping{false};
};

class ControlService final : public v1::Control::Service {
 public:
  ControlService(AdminApi* admin, const ServiceLifetime* lifetime) : admin_(admin), lifetime_(lifetime) {}

  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::GetStatusResponse* response) override;
  grpc::Status GetMetrics(grpc::ServerContext* context, const v1::GetMetricsRequest* request,
                          v1::GetMetricsResponse* response) override;
  grpc::Status ScaleWorkers(grpc::ServerContext* context, const v1::ScaleWorkersRequest* request,
                            v1::ScaleWorkersResponse* response) override;
  grpc::Status Reload(grpc::ServerContext* context, const v1::ReloadRequest* request,
                      v1::ReloadResponse* response) override;
  grpc::Status Drain(grpc::ServerContext* context, const v1::DrainRequest* request,
                     v1::DrainResponse* response) override;
  grpc::Status Resume(grpc::ServerContext* context, const v1::ResumeRequest* request,
                      v1::ResumeResponse* response) override;
  grpc::Status Shutdown(grpc::ServerContext* context, const v1::ShutdownRequest* request,
                        v1::ShutdownResponse* response) override;
  grpc::Status SetLogLevel(grpc::ServerContext* context, const v1::SetLogLevelRequest* request,
                           v1::SetLogLevelResponse* response) override;
  grpc::Status ReopenLogs(grpc::ServerContext* context, const v1::ReopenLogsRequest* request,
                          v1::ReopenLogsResponse* response) override;
  grpc::Status WatchEvents(grpc::ServerContext* context, const v1::WatchEventsRequest* request,
                           grpc::ServerWriter<v1::Event>* writer) override;

 private:
  // Takes the mutation lock for `operation`, waiting as described above. OK when held.
  grpc::Status Acquire(grpc::ServerContext* context, const char* operation,
                       std::unique_lock<std::timed_mutex>* lock);

  AdminApi* admin_;
  const ServiceLifetime* lifetime_;
  std::timed_mutex mutating_;
  std::mutex running_mu_;  // guards the two fields below (for the "waiting for X" sentence)
  std::string running_;
  std::chrono::steady_clock::time_point running_since_;
};

// grpc.health.v1.Health, read from AdminApi::serving() on every call (pull, not a cached status), so a
// drain done by a signal or by the master itself shows at once. Service "" is the whole server; any
// other name is NOT_FOUND.
class HealthService final : public ::grpc::health::v1::Health::Service {
 public:
  HealthService(AdminApi* admin, const ServiceLifetime* lifetime) : admin_(admin), lifetime_(lifetime) {}

  grpc::Status Check(grpc::ServerContext* context, const ::grpc::health::v1::HealthCheckRequest* request,
                     ::grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const ::grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<::grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  ::grpc::health::v1::HealthCheckResponse::ServingStatus Current();
  AdminApi* admin_;
  const ServiceLifetime* lifetime_;
};

}  // namespace esg::control
