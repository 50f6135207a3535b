// `esgctl reload` (see reload_command.h).
#include "control/esgctl/reload_command.h"

#include <algorithm>
#include <cmath>

#include "control/esgctl/output.h"

namespace esg::esgctl {

int RunReload(Session& session, const Words& words) {
  ParsedArgs args;
  std::string error;
  if (!ParseArgs(words, {"--release", "--timeout"}, {}, &args, &error)) return UsageError(session, error);
  if (!args.positionals.empty()) {
    return UsageError(session, "reload takes no positional arguments (use --release PATH)");
  }
  v1::ReloadRequest request;
  request.set_release_path(args.values["--release"]);
  if (args.values.count("--timeout")) {
    double seconds;
    if (!ParseSeconds(args.values["--timeout"], &seconds)) {
      return UsageError(session, "--timeout must be a positive number of seconds");
    }
    // The master decides the maximum (and says so); this only keeps the conversion defined.
    seconds = std::min(seconds, 1e12);
    request.mutable_ready_timeout()->set_seconds(static_cast<int64_t>(seconds));
    request.mutable_ready_timeout()->set_nanos(static_cast<int32_t>((seconds - std::floor(seconds)) * 1e9));
  }
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::duration_cast<std::chrono::seconds>(kMutateDeadline));
  v1::ReloadResponse response;
  grpc::Status status = session.client->control().Reload(&context, request, &response);
  if (!status.ok()) return CallFailed(session, status);
  WriteReload(*session.out, *session.err, session.json, response);
  return response.outcome() == v1::RELOAD_OUTCOME_ROLLED_BACK ? kExitRolledBack : kExitOk;
}

}  // namespace esg::esgctl
