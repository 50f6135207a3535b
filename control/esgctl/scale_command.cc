// `esgctl scale`, `incr`, `decr` (see scale_command.h).
#include "control/esgctl/scale_command.h"

#include "control/esgctl/output.h"

namespace esg::esgctl {
namespace {

constexpr long kMaxN = 10000;

int Call(Session& session, const v1::ScaleWorkersRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::duration_cast<std::chrono::seconds>(kMutateDeadline));
  v1::ScaleWorkersResponse response;
  grpc::Status status = session.client->control().ScaleWorkers(&context, request, &response);
  if (!status.ok()) return CallFailed(session, status);
  WriteScale(*session.out, session.json, response);
  return kExitOk;
}

// incr/decr: an optional N (default 1) becomes a delta of sign * N.
int RunByDelta(Session& session, const Words& words, int sign) {
  ParsedArgs args;
  std::string error;
  if (!ParseArgs(words, {}, {}, &args, &error)) return UsageError(session, error);
  long n = 1;
  if (args.positionals.size() > 1 ||
      (args.positionals.size() == 1 && !ParseInt(args.positionals[0], 1, kMaxN, &n))) {
    return UsageError(session, "usage: " + words[0] + " [N] (N between 1 and 10000)");
  }
  v1::ScaleWorkersRequest request;
  request.set_delta(static_cast<int32_t>(sign * n));
  return Call(session, request);
}

}  // namespace

int RunScale(Session& session, const Words& words) {
  ParsedArgs args;
  std::string error;
  if (!ParseArgs(words, {}, {}, &args, &error)) return UsageError(session, error);
  long n = 1;
  if (args.positionals.size() != 1 || !ParseInt(args.positionals[0], 1, kMaxN, &n)) {
    return UsageError(session, "usage: scale N (N between 1 and 10000)");
  }
  v1::ScaleWorkersRequest request;
  request.set_count(static_cast<uint32_t>(n));
  return Call(session, request);
}

int RunIncr(Session& session, const Words& words) { return RunByDelta(session, words, +1); }

int RunDecr(Session& session, const Words& words) { return RunByDelta(session, words, -1); }

}  // namespace esg::esgctl
