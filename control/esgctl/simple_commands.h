// The commands whose whole answer is "ok: <command>": drain, resume, stop [--quick], log-level LEVEL,
// reopen-logs. Each is one mutating call and an acknowledgement.
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Each runs its command on a connected session and returns an ExitCode (session.h).
int RunDrain(Session& session, const Words& words);
int RunResume(Session& session, const Words& words);
int RunStop(Session& session, const Words& words);
int RunLogLevel(Session& session, const Words& words);
int RunReopenLogs(Session& session, const Words& words);

}  // namespace esg::esgctl
