// `esgctl status`: the master, its listeners and every worker (GetStatus). Takes no arguments.
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Runs `status` (words[0] == "status") on a connected session; returns an ExitCode (session.h).
int RunStatus(Session& session, const Words& words);

}  // namespace esg::esgctl
