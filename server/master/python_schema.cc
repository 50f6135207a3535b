// python_schema: prints esg/_schema.py, the Python view of ESG's settings, at build time
// (//server/python:config_schema). For every option whose Config field goes to workers: its name, default
// (Config{}), flag, kind and choices, all read from config.h's field table and options.cc's option table,
// so esg.run(...) and the gunicorn worker (esg/config.py) accept exactly what the worker config holds,
// with the defaults `esg --help` shows.
#include <cstdio>
#include <string>

#include "server/common/config.h"
#include "server/master/options.h"

namespace esg::cli {
namespace {

std::string Kind(const OptionSpec& spec) {
  switch (spec.type) {
    case OptionType::kFlag: return "flag";
    case OptionType::kBoolPair: return "pair";
    case OptionType::kChoice: return "choice";
    case OptionType::kInt: return "int";
    case OptionType::kFloat: return "float";
    default: break;
  }
  if (spec.name == "--header") return "headers";
  return spec.multiple ? "list" : "str";
}

}  // namespace
}  // namespace esg::cli

int main() {
  using namespace esg::cli;
  std::string out =
      "\"\"\"ESG's settings as esg.run(...) and the gunicorn worker take them. Generated at build time by\n"
      "//server/master:python_schema from server/common/config.h (names, types, defaults) and\n"
      "server/master/options.cc (flags, choices); do not edit. esg.config reads it.\"\"\"\n\n"
      "# name: (default, flag, kind, choices)\n"
      "# kind: str, int, float, choice, flag (--x), pair (--x/--no-x), list (repeatable --x), headers (--header)\n"
      "SETTINGS = {\n";
  for (const OptionSpec& spec : Options()) {
    if (!spec.field) continue;
    const esg::ConfigField* field = esg::FieldOf(*spec.field);
    if (field == nullptr || !field->worker) continue;
    std::string choices = "(";
    for (std::string_view choice : Choices(spec)) {
      if (spec.type == OptionType::kChoice) choices += PyRepr(choice) + ", ";
    }
    for (std::string_view rest = spec.unlisted_choices; !rest.empty();) {
      size_t bar = rest.find('|');
      choices += PyRepr(rest.substr(0, bar)) + ", ";
      rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
    }
    choices += ")";
    out += "    " + PyRepr(field->name) + ": (" + DefaultPyLiteral(spec) + ", " + PyRepr(spec.name) + ", " +
           PyRepr(Kind(spec)) + ", " + choices + "),\n";
  }
  out += "}\n\n# When neither the option nor its environment variable is given.\n";
  out += "DEFAULT_WORKERS = " + std::to_string(esg::kDefaultWorkers) + "\n";
  out += "DEFAULT_FORWARDED_ALLOW_IPS = " + PyRepr(esg::kDefaultForwardedAllowIps) + "\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}
