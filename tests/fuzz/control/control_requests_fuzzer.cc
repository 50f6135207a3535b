// Fuzzes the control plane's request handlers (control/server/control_service.h) with arbitrary requests.
//
// Input: byte 0 picks the RPC (low bits) and what the fake AdminApi answers (high bits); the rest is
// parsed as that RPC's serialized request message (protobuf, what a gRPC client can put on the wire); an
// input that does not parse is skipped. The handler runs against CheckingAdmin, a fake AdminApi (like
// tests/unit/control/fake_admin_api.h) that aborts when it receives a value the service promises never to
// pass on. Checked:
//  - no crash, no exception;
//  - every non-OK status carries a sentence (a non-empty message), and an INVALID_ARGUMENT the fake did
//    not produce was decided before the AdminApi was called;
//  - what reaches AdminApi is in range: one of count/delta, count in [1, kMaxWorkers], |delta| <=
//    kMaxWorkers; ready_timeout finite and in (0, kMaxReadyTimeoutSeconds]; release_path without NUL and at
//    most kMaxPathBytes; a known log level;
//  - an echoed client string stays short (Health.Check's unknown service name).
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "control/admin_api.h"
#include "control/server/control_service.h"

namespace {

using esg::control::AdminApi;
using esg::control::Event;
using esg::control::ReloadResult;
using esg::control::Result;
using esg::control::ServerStatus;

void Check(bool condition) {
  if (!condition) std::abort();
}

class CheckingAdmin final : public AdminApi {
 public:
  ServerStatus GetStatus() override {
    ServerStatus s;
    s.state = esg::control::ServerState::kServing;
    s.workers.resize(2);
    s.workers[0].state = esg::control::WorkerState::kReady;
    return s;
  }
  Result ScaleWorkers(std::optional<int> count, std::optional<int> delta) override {
    ++calls;
    Check(count.has_value() != delta.has_value());
    if (count) Check(*count >= 1 && *count <= esg::control::kMaxWorkers);
    if (delta) Check(*delta >= -esg::control::kMaxWorkers && *delta <= esg::control::kMaxWorkers);
    return next;
  }
  ReloadResult Reload(const std::string& release_path, std::optional<double> ready_timeout) override {
    ++calls;
    Check(release_path.find('\0') == std::string::npos);
    Check(release_path.size() <= esg::control::kMaxPathBytes);
    if (ready_timeout) {
      Check(std::isfinite(*ready_timeout));
      Check(*ready_timeout > 0 && *ready_timeout <= esg::control::kMaxReadyTimeoutSeconds);
    }
    ReloadResult r;
    r.result = next;
    r.rolled_back = rolled_back;
    return r;
  }
  Result Drain() override { return ++calls, next; }
  Result Resume() override { return ++calls, next; }
  Result Shutdown(bool) override { return ++calls, next; }
  Result SetLogLevel(const std::string& level) override {
    ++calls;
    static const std::set<std::string> kLevels = {"critical", "error", "warning", "info", "debug", "trace"};
    Check(kLevels.count(level) == 1);
    return next;
  }
  Result ReopenLogs() override { return ++calls, next; }
  uint64_t Subscribe(std::function<bool(const Event&)>) override { return 1; }
  void Unsubscribe(uint64_t) override {}
  bool serving() override { return true; }

  int calls = 0;
  Result next;
  bool rolled_back = false;
};

template <typename Request>
bool Parse(const uint8_t* data, size_t size, Request* request) {
  return request->ParseFromArray(data, static_cast<int>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1 << 16)) return 0;
  const uint8_t selector = data[0];
  ++data;
  --size;
  CheckingAdmin admin;
  static const Result::Code kCodes[] = {Result::Code::kOk, Result::Code::kInvalidArgument,
                                        Result::Code::kFailedPrecondition, Result::Code::kBusy,
                                        Result::Code::kDeadlineExceeded, Result::Code::kInternal};
  admin.next.code = kCodes[(selector >> 4) % 6];
  admin.rolled_back = (selector & 0x80) != 0;
  esg::control::ServiceLifetime lifetime;
  esg::control::ControlService control(&admin, &lifetime);
  esg::control::HealthService health(&admin, &lifetime);
  grpc::ServerContext context;
  grpc::Status status;
  namespace v1 = esg::control::v1;
  switch (selector % 10) {
    case 0: {
      v1::GetStatusRequest request;
      v1::GetStatusResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.GetStatus(&context, &request, &response);
      Check(status.ok());
      break;
    }
    case 1: {
      v1::ScaleWorkersRequest request;
      v1::ScaleWorkersResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.ScaleWorkers(&context, &request, &response);
      break;
    }
    case 2: {
      v1::ReloadRequest request;
      v1::ReloadResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.Reload(&context, &request, &response);
      if (status.ok() && admin.calls > 0 && admin.rolled_back) Check(!response.reason().empty());
      break;
    }
    case 3: {
      v1::DrainRequest request;
      v1::DrainResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.Drain(&context, &request, &response);
      break;
    }
    case 4: {
      v1::ResumeRequest request;
      v1::ResumeResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.Resume(&context, &request, &response);
      break;
    }
    case 5: {
      v1::ShutdownRequest request;
      v1::ShutdownResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.Shutdown(&context, &request, &response);
      break;
    }
    case 6: {
      v1::SetLogLevelRequest request;
      v1::SetLogLevelResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.SetLogLevel(&context, &request, &response);
      break;
    }
    case 7: {
      v1::ReopenLogsRequest request;
      v1::ReopenLogsResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = control.ReopenLogs(&context, &request, &response);
      break;
    }
    default: {
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      if (!Parse(data, size, &request)) return 0;
      status = health.Check(&context, &request, &response);
      Check(status.error_message().size() < 300);
      break;
    }
  }
  if (!status.ok()) Check(!status.error_message().empty());
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT && admin.next.code != Result::Code::kInvalidArgument) {
    Check(admin.calls == 0);  // refused by the service itself, before the master saw it
  }
  return 0;
}
