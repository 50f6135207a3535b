// `esgctl health` (see health_command.h).
#include "control/esgctl/health_command.h"

#include "control/esgctl/output.h"

namespace esg::esgctl {

int RunHealth(Session& session, const Words& words) {
  using ::grpc::health::v1::HealthCheckResponse;
  if (words.size() > 1) return UsageError(session, "health takes no arguments");
  grpc::ClientContext context;
  SetDeadline(&context, kReadDeadline);
  HealthCheckResponse response;
  grpc::Status status =
      session.client->health().Check(&context, ::grpc::health::v1::HealthCheckRequest(), &response);
  if (!status.ok()) return CallFailed(session, status);
  WriteHealth(*session.out, session.json, HealthCheckResponse::ServingStatus_Name(response.status()));
  return response.status() == HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
}

}  // namespace esg::esgctl
