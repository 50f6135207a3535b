// `esgctl status`: the master, its listeners and every worker (GetStatus). `esgctl metrics`: the master's
// Prometheus text (GetMetrics; --json: {"text", "content_type"}). Neither takes arguments.
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Runs `status` (words[0] == "status") on a connected session; returns an ExitCode (session.h).
int RunStatus(Session& session, const Words& words);
// Runs `metrics` (words[0] == "metrics").
int RunMetrics(Session& session, const Words& words);

}  // namespace esg::esgctl
