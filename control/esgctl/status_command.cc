// `esgctl status` and `esgctl metrics` (see status_command.h).
#include "control/esgctl/status_command.h"

#include "control/esgctl/output.h"

namespace esg::esgctl {

int RunStatus(Session& session, const Words& words) {
  if (words.size() > 1) return UsageError(session, "status takes no arguments");
  grpc::ClientContext context;
  SetDeadline(&context, kReadDeadline);
  v1::GetStatusResponse response;
  grpc::Status status = session.client->control().GetStatus(&context, v1::GetStatusRequest(), &response);
  if (!status.ok()) return CallFailed(session, status);
  WriteStatus(*session.out, session.json, response);
  return kExitOk;
}

}  // namespace esg::esgctl

namespace esg::esgctl {

int RunMetrics(Session& session, const Words& words) {
  if (words.size() > 1) return UsageError(session, "metrics takes no arguments");
  grpc::ClientContext context;
  SetDeadline(&context, kReadDeadline);
  v1::GetMetricsResponse response;
  grpc::Status status = session.client->control().GetMetrics(&context, v1::GetMetricsRequest(), &response);
  if (!status.ok()) return CallFailed(session, status);
  if (session.json) {
    *session.out << ToJson(response) << "\n";
  } else {
    *session.out << response.text();
  }
  return kExitOk;
}

}  // namespace esg::esgctl
