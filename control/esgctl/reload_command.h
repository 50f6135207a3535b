// `esgctl reload [--release PATH] [--timeout S]`: start a new generation, wait until it is ready and
// drain the old one. Exit 4 when the master rolled back (the old generation still serves).
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Runs `reload` on a connected session; returns an ExitCode (session.h). --timeout is a positive number
// of seconds (the master enforces its maximum); positional arguments are a usage error.
int RunReload(Session& session, const Words& words);

}  // namespace esg::esgctl
