// drain, resume, stop, log-level, reopen-logs (see simple_commands.h).
#include "control/esgctl/simple_commands.h"

#include <cctype>

#include "control/esgctl/output.h"

namespace esg::esgctl {
namespace {

// Makes one mutating call through `call(context, request, response)` and acknowledges it as `what`.
template <typename Response, typename Request, typename Call>
int CallAndAcknowledge(Session& session, const char* what, const Request& request, Call call) {
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::duration_cast<std::chrono::seconds>(kMutateDeadline));
  Response response;
  grpc::Status status = call(&context, request, &response);
  if (!status.ok()) return CallFailed(session, status);
  return Acknowledge(session, what);
}

v1::Control::Stub& Control(Session& session) { return session.client->control(); }

}  // namespace

int RunDrain(Session& session, const Words& words) {
  if (words.size() > 1) return UsageError(session, "drain takes no arguments");
  return CallAndAcknowledge<v1::DrainResponse>(session, "drain", v1::DrainRequest(),
                                               [&](auto* c, const auto& rq, auto* rs) {
                                                 return Control(session).Drain(c, rq, rs);
                                               });
}

int RunResume(Session& session, const Words& words) {
  if (words.size() > 1) return UsageError(session, "resume takes no arguments");
  return CallAndAcknowledge<v1::ResumeResponse>(session, "resume", v1::ResumeRequest(),
                                                [&](auto* c, const auto& rq, auto* rs) {
                                                  return Control(session).Resume(c, rq, rs);
                                                });
}

int RunStop(Session& session, const Words& words) {
  ParsedArgs args;
  std::string error;
  if (!ParseArgs(words, {}, {"--quick"}, &args, &error)) return UsageError(session, error);
  if (!args.positionals.empty()) return UsageError(session, "usage: stop [--quick]");
  v1::ShutdownRequest request;
  request.set_mode(args.values.count("--quick") ? v1::SHUTDOWN_MODE_QUICK : v1::SHUTDOWN_MODE_GRACEFUL);
  return CallAndAcknowledge<v1::ShutdownResponse>(session, "stop", request, [&](auto* c, const auto& rq, auto* rs) {
    return Control(session).Shutdown(c, rq, rs);
  });
}

int RunLogLevel(Session& session, const Words& words) {
  if (words.size() != 2) {
    return UsageError(session, "usage: log-level LEVEL (critical, error, warning, info, debug, trace)");
  }
  std::string name = "LOG_LEVEL_" + words[1];
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  v1::LogLevel level;
  if (!v1::LogLevel_Parse(name, &level) || level == v1::LOG_LEVEL_UNSPECIFIED) {
    return UsageError(session,
                      "unknown log level '" + words[1] + "'; use critical, error, warning, info, debug or trace");
  }
  v1::SetLogLevelRequest request;
  request.set_level(level);
  return CallAndAcknowledge<v1::SetLogLevelResponse>(session, "log-level", request,
                                                     [&](auto* c, const auto& rq, auto* rs) {
                                                       return Control(session).SetLogLevel(c, rq, rs);
                                                     });
}

int RunReopenLogs(Session& session, const Words& words) {
  if (words.size() > 1) return UsageError(session, "reopen-logs takes no arguments");
  return CallAndAcknowledge<v1::ReopenLogsResponse>(session, "reopen-logs", v1::ReopenLogsRequest(),
                                                    [&](auto* c, const auto& rq, auto* rs) {
                                                      return Control(session).ReopenLogs(c, rq, rs);
                                                    });
}

}  // namespace esg::esgctl
