// esgctl's command table and dispatcher (see commands.h).
#include "control/esgctl/commands.h"

#include <ostream>
#include <utility>

#include "control/esgctl/events_command.h"
#include "control/esgctl/health_command.h"
#include "control/esgctl/output.h"
#include "control/esgctl/reload_command.h"
#include "control/esgctl/scale_command.h"
#include "control/esgctl/simple_commands.h"
#include "control/esgctl/status_command.h"

namespace esg::esgctl {
namespace {

constexpr int kConnectTimeoutMs = 3000;

const std::vector<CommandInfo> kCommands = {
    {"status", "", "show the master, its listeners and every worker", {}, RunStatus},
    {"metrics", "", "print the master's metrics in the Prometheus text format (as GET /metrics)", {}, RunMetrics},
    {"reload", "[--release PATH] [--timeout S]",
     "start a new generation (optionally from another release), wait until ready, drain the old one",
     {"--release", "--timeout"}, RunReload},
    {"scale", "N", "run N workers", {}, RunScale},
    {"incr", "[N]", "add N workers (default 1)", {}, RunIncr},
    {"decr", "[N]", "remove N workers (default 1)", {}, RunDecr},
    {"drain", "", "stop accepting connections and report NOT_SERVING; in-flight work finishes", {}, RunDrain},
    {"resume", "", "accept connections again after drain", {}, RunResume},
    {"stop", "[--quick]", "stop the master (graceful unless --quick)", {"--quick"}, RunStop},
    {"events", "[--count N] [--timeout S]", "print worker/reload/drain/scale events as they happen (Ctrl-C ends)",
     {"--count", "--timeout"}, RunEvents},
    {"health", "", "grpc.health.v1 status of the server (exit 1 when NOT_SERVING)", {}, RunHealth},
    {"log-level", "LEVEL", "set the log level: critical, error, warning, info, debug, trace", {}, RunLogLevel},
    {"reopen-logs", "", "re-open log files (after rotation)", {}, RunReopenLogs},
    {"help", "", "show this list", {}, nullptr},
};

}  // namespace

const std::vector<CommandInfo>& Commands() { return kCommands; }

std::string CommandHelp(bool in_shell) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const CommandInfo& c : kCommands) {
    rows.emplace_back(std::string(c.name) + (c.usage[0] ? " " : "") + c.usage, c.help);
  }
  if (in_shell) rows.emplace_back("quit", "leave the shell");
  return "Commands:\n" + AlignedColumns(rows);
}

int RunCommand(Session& session, const Words& words) {
  if (words.empty()) return kExitOk;
  const std::string& name = words[0];
  if (name == "help" || name == "--help" || name == "-h") {
    *session.out << CommandHelp();
    return kExitOk;
  }
  const CommandInfo* command = nullptr;
  for (const CommandInfo& c : kCommands) {
    if (name == c.name) command = &c;
  }
  if (command == nullptr || command->run == nullptr) {
    return UsageError(session, "unknown command '" + name + "'; type 'help' for the list");
  }
  std::string error;
  if (!session.client->Connect(kConnectTimeoutMs, &error)) {
    WriteConnectError(*session.err, session.json, error);
    return kExitNoServer;
  }
  return command->run(session, words);
}

}  // namespace esg::esgctl
