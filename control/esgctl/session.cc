// What every esgctl command shares (see session.h).
#include "control/esgctl/session.h"

#include "control/esgctl/output.h"

namespace esg::esgctl {

void SetDeadline(grpc::ClientContext* context, std::chrono::seconds timeout) {
  context->set_deadline(std::chrono::system_clock::now() + timeout);
}

int UsageError(Session& session, const std::string& message) {
  WriteUsageError(*session.err, message);
  return kExitUsage;
}

int CallFailed(Session& session, const grpc::Status& status) {
  WriteCallError(*session.err, session.json, status.error_code(), session.client->Explain(status));
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ? kExitNoServer : kExitFailed;
}

int Acknowledge(Session& session, const std::string& what) {
  WriteOk(*session.out, session.json, what);
  return kExitOk;
}

}  // namespace esg::esgctl
