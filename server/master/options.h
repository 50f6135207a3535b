// The option table of `esg`: one row per command-line option, in `esg --help` order.
//
// Everything the CLI knows about an option lives in its row: names, value type, metavar, choices, range,
// help text (as click prints it, before wrapping), whether it is implemented yet, and how a parsed value
// lands in esg::Config. The parser (cli.cc) and the help printer (help_format.cc) only read this table.
// When a later issue implements an option, flip its `implemented` to true.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/common/config.h"

namespace esg::cli {

enum class OptionType {
  kFlag,      // --reload: no value, sets true
  kBoolPair,  // --access-log / --no-access-log
  kText,      // any string (TEXT or PATH metavar)
  kInt,       // int64, optionally range-checked
  kFloat,     // double, optionally range-checked
  kChoice,    // one of `choices`
  kAction,    // --help, --version: handled by the parser itself
};

// A converted value handed to OptionSpec::apply.
struct Value {
  bool flag = false;
  int64_t integer = 0;
  double number = 0;
  std::string text;
};

// Closed or open numeric bounds, formatted like click's IntRange/FloatRange ("0<=x<=65535", "x>0").
struct Range {
  bool has_min = false;
  double min = 0;
  bool min_open = false;
  bool has_max = false;
  double max = 0;
  bool wide = false;  // kInt: the value may exceed 32 bits (stored in an int64_t field)
};

struct OptionSpec {
  std::string_view name;      // "--port"
  std::string_view off_name;  // kBoolPair only: "--no-access-log"
  OptionType type;
  std::string_view metavar;   // "INTEGER", "TEXT", "PATH"; kChoice: "auto|asyncio|uvloop"
  std::string_view help;      // the sentence(s) click shows
  std::string_view show_default;  // appended as "  [default: X]" when not empty
  Range range;
  bool multiple = false;      // repeatable, values accumulate (--header, --reload-dir)
  // False: using the option fails with "Error: --x is not supported yet." (exit 2). When
  // `implemented_values` is not empty, only those values ('|'-separated) are accepted meanwhile.
  bool implemented = true;
  std::string_view implemented_values;
  // Stores a converted value into the config (nullptr for kAction).
  void (*apply)(Config* config, const Value& value) = nullptr;
  std::string_view env_default;  // environment variable giving the default (click's envvar=)
};

// All options, seed options first in the seed's order, then ESG's own, then --help.
const std::vector<OptionSpec>& Options();

// The row whose name or off_name is `name`, or nullptr.
const OptionSpec* FindOption(std::string_view name);

// Splits a kChoice metavar ("a|b|c") into its values.
std::vector<std::string_view> Choices(const OptionSpec& spec);

}  // namespace esg::cli
