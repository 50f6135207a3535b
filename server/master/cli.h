// The `esg` command line: argv + environment -> esg::Config, with click-compatible behaviour.
//
// Same option names, metavars and defaults as the seed's `esg --help`; errors read like click's
// ("Error: Invalid value for '--port': 'abc' is not a valid integer.") and mean exit status 2. The parser is
// pure (no printing, no exiting, no global state) so tests call it directly; main() prints the result.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/common/config.h"
#include "server/master/options.h"  // PyRepr

namespace esg::cli {

// What to do after parsing.
struct ParseResult {
  bool run = false;   // true: serve with the filled Config; false: print and exit with exit_code
  int exit_code = 0;  // 0 after --help / --version, 2 after a usage error
  std::string out;    // for stdout (help, version)
  std::string err;    // for stderr (usage errors, already formatted with the "Usage:" header)
};

// Reads an environment variable; nullopt when it is not set.
using GetEnv = std::function<std::optional<std::string>(const std::string& name)>;

// The real process environment.
GetEnv ProcessEnv();

// Parses `args` (argv without argv[0]) into `*config`. `env` supplies $WEB_CONCURRENCY and
// $FORWARDED_ALLOW_IPS; the result always has `workers` and `forwarded_allow_ips` resolved.
ParseResult Parse(const std::vector<std::string>& args, const GetEnv& env, Config* config);

// A complete usage-error text: "Usage: ...\nTry 'esg --help' for help.\n\nError: <message>\n".
std::string UsageErrorText(std::string_view message);

}  // namespace esg::cli
