// `esgctl events [--count N] [--timeout S]`: print the master's events as they happen (WatchEvents) until
// Ctrl-C (Session::interrupted), N events, S seconds, or the server ends the stream.
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Runs `events` on a connected session; returns an ExitCode (session.h). Ending by Ctrl-C, --count or
// --timeout is success; the stream failing otherwise is a failed call.
int RunEvents(Session& session, const Words& words);

}  // namespace esg::esgctl
