// esgctl's interactive mode: `esgctl` with no command. On a terminal: an `(esgctl) ` prompt with line
// editing, history (~/.esgctl_history) and tab completion (editline). From a pipe or a file: no prompt,
// no echo, one command per line (blank lines and `#` comments skipped), so scripts and tests can drive it.
#pragma once

#include "control/esgctl/commands.h"

namespace esg::esgctl {

// Runs until `quit`, `exit` or end of input. Returns 0 when every command succeeded, otherwise the exit
// code of the last command that failed.
int RunShell(Session& session);

}  // namespace esg::esgctl
