// `esgctl health`: the grpc.health.v1 status of the whole server. Exit 1 when NOT_SERVING, so load
// balancer scripts and orchestration can test it directly. Takes no arguments.
#pragma once

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

// Runs `health` on a connected session; returns an ExitCode (session.h).
int RunHealth(Session& session, const Words& words);

}  // namespace esg::esgctl
