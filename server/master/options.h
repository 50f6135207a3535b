// The option table of `esg`: one row per command-line option, in `esg --help` order.
//
// Everything the CLI knows about an option lives in its row: names, value type, metavar, choices, range,
// help text (as click prints it, before wrapping), whether it is implemented yet, and the esg::Config
// member a parsed value lands in. The default is not written here: it is the member's initialiser
// (config.h), shown by --help and exported to Python (esg/_schema.py) from there. The parser (cli.cc), the
// help printer (help_format.cc) and the schema generator (python_schema.cc) only read this table.
#pragma once

#include <cstdint>
#include <optional>
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
  std::string_view help;      // the sentence(s) click shows; "{default}" stands for DefaultText(*this)
  bool show_default = false;  // append "  [default: X]" (X: DefaultText) to the help
  Range range;
  bool multiple = false;      // repeatable, values accumulate (--header, --reload-dir)
  // False: using the option fails with "Error: --x is not supported yet." (exit 2). When
  // `implemented_values` is not empty, only those values ('|'-separated) are accepted meanwhile.
  bool implemented = true;
  std::string_view implemented_values;
  // The member a value is stored into (see Store); nullopt for kAction.
  std::optional<FieldMember> field;
  std::string_view env_default;  // environment variable giving the default (click's envvar=)
  bool negated = false;          // kFlag that stores false (--no-control)
  // kChoice: further values accepted but not listed in --help (uvicorn's newer names, e.g. --ws
  // websockets-sansio, while the listed metavar stays the seed's), '|'-separated.
  std::string_view unlisted_choices = {};
  // kBoolPair written as uvicorn writes it: "--x BOOLEAN" (true/false, 1/0, yes/no, on/off, y/n, t/f, as
  // click's BOOLEAN), with "--x" alone and "--no-x" still accepted; --help shows "--x BOOLEAN" and the
  // default as True/False.
  bool boolean_value = false;
};

// click's BOOLEAN words: true for 1/true/t/yes/y/on, false for 0/false/f/no/n/off (any case); nullopt else.
std::optional<bool> ParseClickBoolean(std::string_view text);

// All options, seed options first in the seed's order, then ESG's own, then --help.
const std::vector<OptionSpec>& Options();

// The row whose name or off_name is `name`, or nullptr.
const OptionSpec* FindOption(std::string_view name);

// Splits a kChoice metavar ("a|b|c") into its values.
std::vector<std::string_view> Choices(const OptionSpec& spec);

// Stores a converted value into spec.field of *config: a flag's `flag`, a number's `integer` or `number`
// (by the member's type), a text's `text` (appended for lists). --header is parsed by the CLI itself.
void Store(const OptionSpec& spec, const Value& value, Config* config);

// The option's default as --help shows it: the member's initial value in Config{}, a float as Python's
// repr() ("0.25", "20.0"), a kFlag's bool as "True"/"False", a kBoolPair's as "enabled"/"disabled".
std::string DefaultText(const OptionSpec& spec);

// The option's default as a Python literal: None (unset), True/False, 8190, 0.25, 'auto', [] (lists).
std::string DefaultPyLiteral(const OptionSpec& spec);

// Python's float repr: the shortest text that reads back as `value`, with ".0" when it is integral.
std::string PyFloatRepr(double value);

// Python's repr() of a str, as click quotes values in its messages ('abc', "it's").
std::string PyRepr(std::string_view text);

}  // namespace esg::cli
