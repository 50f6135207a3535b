// `esgctl scale N`, `incr [N]`, `decr [N]`: set or change the worker count (ScaleWorkers by count or
// by delta); N is between 1 and 10000 here, the master checks the resulting count.
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Each runs its command on a connected session and returns an ExitCode (session.h).
int RunScale(Session& session, const Words& words);
int RunIncr(Session& session, const Words& words);
int RunDecr(Session& session, const Words& words);

}  // namespace esg::esgctl
