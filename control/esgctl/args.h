// esgctl's word-level parsing, shared by every command and the shell: splitting a shell line into words,
// a command's "--flag VALUE" / "--flag=VALUE" / "--switch" options, and the number formats commands accept.
// No I/O and no gRPC, so tests cover it directly (tests/unit/control/esgctl/args_test.cc).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace esg::esgctl {

// One command's words; words[0] is the command name.
using Words = std::vector<std::string>;

struct ParsedArgs {
  std::map<std::string, std::string> values;  // "--flag" -> its value; a switch maps to "1"
  std::vector<std::string> positionals;       // words not starting with "--" (and a bare "--"), in order
};

// Parses words[1..] against the options a command accepts: `with_value` take a value (next word or after
// '='), `switches` take none. False with a sentence in `error` for an unknown option ("no such option for
// '<command>': --x") or a value-taking option at the end ("option --x needs a value").
bool ParseArgs(const Words& words, const std::vector<std::string>& with_value,
               const std::vector<std::string>& switches, ParsedArgs* out, std::string* error);

// A base-10 integer in [min, max] (strtol's syntax: leading blanks and a sign allowed), nothing after it.
// False (and `out` untouched) otherwise.
bool ParseInt(const std::string& text, long min, long max, long* out);

// A finite number of seconds > 0 ("1.5", "30"). False (and `out` untouched) otherwise.
bool ParseSeconds(const std::string& text, double* out);

// Splits a shell line into words at whitespace; '...' and "..." quote (the quotes are dropped, nothing is
// escaped inside). False on an unclosed quote.
bool SplitWords(const std::string& line, Words* words);

}  // namespace esg::esgctl
