// The `esg` command line (see cli.h): tokenising like click's parser, then converting and validating each
// option through its row in the option table (options.h).
#include "server/master/cli.h"

#include "server/http/access_log_format.h"
#include "server/http/forwarded.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "server/common/version.h"
#include "server/master/help_format.h"
#include "server/master/options.h"

namespace esg::cli {
namespace {

// One option as it appeared on the command line, in order.
struct Occurrence {
  const OptionSpec* spec;
  bool off = false;                  // --no-x of a kBoolPair
  std::string value;                 // for value options
  std::string_view source;           // "" for argv, else the environment variable's name
};

struct UsageError {
  std::string message;
};

std::string FormatNumber(double value, bool as_integer) {
  if (as_integer) return std::to_string(static_cast<long long>(value));
  return PyFloatRepr(value);
}

std::string FormatBound(double bound) {
  if (bound == std::floor(bound) && std::fabs(bound) < 1e15) return FormatNumber(bound, true);
  return FormatNumber(bound, false);
}

// click's _NumberRangeBase._describe_range.
std::string DescribeRange(const Range& range) {
  if (!range.has_min) return "x<=" + FormatBound(range.max);
  if (!range.has_max) return std::string("x") + (range.min_open ? ">" : ">=") + FormatBound(range.min);
  return FormatBound(range.min) + (range.min_open ? "<" : "<=") + "x<=" + FormatBound(range.max);
}

bool InRange(const Range& range, double value) {
  if (range.has_min && (range.min_open ? value <= range.min : value < range.min)) return false;
  if (range.has_max && value > range.max) return false;
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string InvalidValue(const OptionSpec& spec, const std::string& detail) {
  return "Invalid value for '" + std::string(spec.name) + "': " + detail;
}

bool ParseInt(std::string_view text, int64_t* out) {
  std::string trimmed(Trim(text));
  if (trimmed.empty()) return false;
  size_t digits = (trimmed[0] == '+' || trimmed[0] == '-') ? 1 : 0;
  if (digits == trimmed.size()) return false;
  for (size_t i = digits; i < trimmed.size(); ++i) {
    if (trimmed[i] < '0' || trimmed[i] > '9') return false;
  }
  errno = 0;
  long long value = std::strtoll(trimmed.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *out = value;
  return true;
}

bool ParseFloat(std::string_view text, double* out) {
  std::string trimmed(Trim(text));
  if (trimmed.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size() || errno == ERANGE || !std::isfinite(value)) return false;
  *out = value;
  return true;
}

bool IsTokenChar(unsigned char c) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return std::isalnum(c) || kExtra.find(static_cast<char>(c)) != std::string_view::npos;
}

// --header Name:Value: a token name, a value without control characters (HTAB allowed), OWS trimmed.
std::pair<std::string, std::string> ParseHeader(const OptionSpec& spec, const std::string& raw) {
  size_t colon = raw.find(':');
  if (colon == std::string::npos) {
    throw UsageError{InvalidValue(spec, PyRepr(raw) + " is not a Name:Value pair.")};
  }
  std::string_view name = std::string_view(raw).substr(0, colon);
  std::string_view value = Trim(std::string_view(raw).substr(colon + 1));
  if (name.empty()) throw UsageError{InvalidValue(spec, PyRepr(raw) + " has an empty header name.")};
  for (unsigned char c : name) {
    if (!IsTokenChar(c)) {
      throw UsageError{InvalidValue(spec, PyRepr(raw) + " has an invalid character in the header name.")};
    }
  }
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      throw UsageError{InvalidValue(
          spec, PyRepr(raw) + " has a control character (CR, LF, NUL, ...) in the header value.")};
    }
  }
  return {std::string(name), std::string(value)};
}

std::string NotYet(const Occurrence& occurrence, const std::string& value_text) {
  std::string message(occurrence.spec->name);
  if (!value_text.empty()) message += " " + value_text;
  if (!occurrence.source.empty()) message += " (from $" + std::string(occurrence.source) + ")";
  return message + " is not supported yet.";
}

bool ValueListed(std::string_view list, std::string_view value) {
  while (!list.empty()) {
    size_t bar = list.find('|');
    if (list.substr(0, bar) == value) return true;
    if (bar == std::string_view::npos) break;
    list.remove_prefix(bar + 1);
  }
  return false;
}

// --metrics-bind's form: "unix:PATH" (a path that fits a socket address) or HOST:PORT with an IP literal
// (IPv6 in brackets) and a port 0..65535. "" when it is well formed, else the reason.
std::string MetricsBindProblem(const std::string& bind) {
  if (bind.rfind("unix:", 0) == 0) {
    const size_t limit = sizeof(sockaddr_un::sun_path);
    if (bind.size() == 5 || bind.size() - 5 >= limit) {
      return "needs a socket path of 1 to " + std::to_string(limit - 1) + " bytes after unix:.";
    }
    return "";
  }
  const std::string usage = "is not HOST:PORT (e.g. 127.0.0.1:9100, [::1]:9100) or unix:PATH.";
  const size_t colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0) return usage;
  std::string host = bind.substr(0, colon);
  const std::string port = bind.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return usage;
  }
  unsigned char address[sizeof(in6_addr)];
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    return inet_pton(AF_INET6, host.c_str(), address) == 1 ? "" : "has no IPv6 address in its brackets.";
  }
  return inet_pton(AF_INET, host.c_str(), address) == 1 ? "" : "does not start with an IP address (IPv6 in brackets).";
}

// Converts one occurrence and stores it into the config. Throws UsageError.
void Apply(const Occurrence& occurrence, Config* config) {
  const OptionSpec& spec = *occurrence.spec;
  std::string source_note =
      occurrence.source.empty() ? "" : " (from $" + std::string(occurrence.source) + ")";
  Value value;
  std::string canonical;  // the value as compared against implemented_values
  switch (spec.type) {
    case OptionType::kFlag:
    case OptionType::kBoolPair:
      value.flag = !occurrence.off;
      break;
    case OptionType::kText:
      value.text = occurrence.value;
      canonical = value.text;
      break;
    case OptionType::kInt: {
      if (!ParseInt(occurrence.value, &value.integer)) {
        throw UsageError{
            InvalidValue(spec, PyRepr(occurrence.value) + " is not a valid integer." + source_note)};
      }
      Range range = spec.range;
      if (!range.wide && !range.has_max) {
        range.has_max = true;
        range.max = INT_MAX;
      }
      if (!range.wide && !range.has_min && value.integer < INT_MIN) {
        range.has_min = true;
        range.min = INT_MIN;
      }
      if (!InRange(range, static_cast<double>(value.integer))) {
        throw UsageError{InvalidValue(spec, std::to_string(value.integer) + " is not in the range " +
                                                DescribeRange(range) + "." + source_note)};
      }
      canonical = std::to_string(value.integer);
      break;
    }
    case OptionType::kFloat:
      if (!ParseFloat(occurrence.value, &value.number)) {
        throw UsageError{
            InvalidValue(spec, PyRepr(occurrence.value) + " is not a valid float." + source_note)};
      }
      if (!InRange(spec.range, value.number)) {
        throw UsageError{InvalidValue(spec, FormatNumber(value.number, false) + " is not in the range " +
                                                DescribeRange(spec.range) + "." + source_note)};
      }
      canonical = occurrence.value;
      break;
    case OptionType::kChoice: {
      std::vector<std::string_view> choices = Choices(spec);
      bool found = false;
      for (std::string_view choice : choices) found = found || choice == occurrence.value;
      found = found || (!spec.unlisted_choices.empty() && ValueListed(spec.unlisted_choices, occurrence.value));
      if (!found) {
        std::string listed;
        for (std::string_view choice : choices) {
          if (!listed.empty()) listed += ", ";
          listed += PyRepr(choice);
        }
        throw UsageError{InvalidValue(spec, PyRepr(occurrence.value) + " is not one of " + listed + "." +
                                                source_note)};
      }
      value.text = occurrence.value;
      canonical = value.text;
      break;
    }
    case OptionType::kAction:
      return;
  }
  if (!spec.implemented) {
    if (spec.implemented_values.empty()) {
      throw UsageError{NotYet(occurrence, "")};
    }
    if (!ValueListed(spec.implemented_values, canonical)) {
      throw UsageError{NotYet(occurrence, canonical)};
    }
  }
  if (spec.name == "--header") {
    config->headers.push_back(ParseHeader(spec, occurrence.value));
    return;
  }
  if (spec.name == "--metrics-bind") {
    // The address's form is a usage error here (exit 2); whether it can be bound is the master's start-up.
    const std::string why = MetricsBindProblem(occurrence.value);
    if (!why.empty()) throw UsageError{InvalidValue(spec, PyRepr(occurrence.value) + " " + why + source_note)};
  }
  if (spec.name == "--uds-mode") {
    // Octal permission bits only (no setuid/setgid/sticky bits, no symbolic modes): "660", "0660", "0o660".
    std::string_view digits = occurrence.value;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O')) digits.remove_prefix(2);
    int mode = 0;
    bool ok = !digits.empty() && digits.size() <= 4;
    for (char c : digits) {
      ok = ok && c >= '0' && c <= '7';
      mode = mode * 8 + (c - '0');
    }
    if (!ok || mode > 0777) {
      throw UsageError{InvalidValue(spec, PyRepr(occurrence.value) +
                                              " is not an octal mode between 000 and 777 (e.g. 660)." + source_note)};
    }
    value.integer = mode;
  }
  Store(spec, value, config);
}

// click's parser: options anywhere, "--opt=value" or "--opt value", "--" ends options. Throws UsageError.
void Tokenize(const std::vector<std::string>& args, std::vector<Occurrence>* occurrences,
              std::vector<std::string>* positionals) {
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positionals->push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    size_t equals = arg.find('=');
    std::string name = arg.substr(0, equals);
    const OptionSpec* spec = arg.compare(0, 2, "--") == 0 ? FindOption(name) : nullptr;
    if (spec == nullptr) {
      throw UsageError{"No such option: " + (arg.compare(0, 2, "--") == 0 ? name : arg.substr(0, 2))};
    }
    Occurrence occurrence{spec};
    bool takes_value = spec->type == OptionType::kText || spec->type == OptionType::kInt ||
                       spec->type == OptionType::kFloat || spec->type == OptionType::kChoice;
    if (!takes_value) {
      if (equals != std::string::npos && !(spec->boolean_value && name == spec->name)) {
        throw UsageError{"Option '" + name + "' does not take a value."};
      }
      occurrence.off = spec->type == OptionType::kBoolPair && name == spec->off_name;
      if (spec->boolean_value && name == spec->name) {
        // uvicorn's "--x BOOLEAN": "--x=false", or "--x false" when the next word is a click BOOLEAN.
        std::optional<bool> given;
        if (equals != std::string::npos) {
          given = ParseClickBoolean(arg.substr(equals + 1));
          if (!given) {
            throw UsageError{"Invalid value for '" + name + "': " + PyRepr(arg.substr(equals + 1)) +
                             " is not a valid boolean."};
          }
        } else if (i + 1 < args.size() && (given = ParseClickBoolean(args[i + 1]))) {
          ++i;
        }
        if (given) occurrence.off = !*given;
      }
    } else if (equals != std::string::npos) {
      occurrence.value = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      occurrence.value = args[++i];
    } else {
      throw UsageError{"Option '" + name + "' requires an argument."};
    }
    occurrences->push_back(occurrence);
  }
}

// uvicorn's import-string rule: "<module>:<attribute>", both parts present.
void ValidateApp(const std::string& app) {
  size_t colon = app.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == app.size()) {
    throw UsageError{"Invalid value for 'APP': Import string \"" + app +
                     "\" must be in format \"<module>:<attribute>\"."};
  }
}

}  // namespace

std::string UsageErrorText(std::string_view message) {
  std::string out(UsageLine());
  out += "\nTry 'esg --help' for help.\n\nError: ";
  out += message;
  out += "\n";
  return out;
}

GetEnv ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

ParseResult Parse(const std::vector<std::string>& args, const GetEnv& env, Config* config) {
  ParseResult result;
  try {
    std::vector<Occurrence> occurrences;
    std::vector<std::string> positionals;
    Tokenize(args, &occurrences, &positionals);
    // --help and --version are eager: the first one given wins over everything else.
    for (const Occurrence& occurrence : occurrences) {
      if (occurrence.spec->name == "--help") {
        result.out = HelpText();
        return result;
      }
      if (occurrence.spec->name == "--version") {
        result.out = std::string("esg ") + kVersion + "\n";
        return result;
      }
    }
    std::vector<const OptionSpec*> given;
    for (const Occurrence& occurrence : occurrences) {
      Apply(occurrence, config);
      given.push_back(occurrence.spec);
    }
    if (positionals.empty()) throw UsageError{"Missing argument 'APP'."};
    if (positionals.size() > 1) {
      std::string extra;
      for (size_t i = 1; i < positionals.size(); ++i) extra += (i > 1 ? " " : "") + positionals[i];
      throw UsageError{std::string("Got unexpected extra argument") + (positionals.size() > 2 ? "s" : "") +
                       " (" + extra + ")"};
    }
    config->app = positionals[0];
    ValidateApp(config->app);
    // Defaults that come from the environment (click's envvar=), then the table's fallbacks.
    for (const OptionSpec& spec : Options()) {
      if (spec.env_default.empty()) continue;
      bool was_given = false;
      for (const OptionSpec* g : given) was_given = was_given || g == &spec;
      if (was_given) continue;
      std::optional<std::string> from_env = env(std::string(spec.env_default));
      if (from_env && !from_env->empty()) {
        Occurrence occurrence{&spec};
        occurrence.value = *from_env;
        occurrence.source = spec.env_default;
        Apply(occurrence, config);
      }
    }
    if (!config->workers) config->workers = kDefaultWorkers;
    if ((config->uds_mode || !config->uds_group.empty()) && config->uds.empty()) {
      throw UsageError{std::string(config->uds_mode ? "--uds-mode" : "--uds-group") +
                       " applies to the socket file of --uds; pass --uds PATH too."};
    }
    if (!config->forwarded_allow_ips) config->forwarded_allow_ips = std::string(kDefaultForwardedAllowIps);
    {
      // The workers apply the same parser; a bad entry is a usage error here, not a worker crash.
      http::ForwardedPolicy policy;
      std::string why;
      if (!policy.Parse(*config->forwarded_allow_ips, &why)) {
        throw UsageError{"Invalid value for '--forwarded-allow-ips': " + why + "."};
      }
    }
    if (!config->access_log_format.empty()) {
      http::AccessLogFormat format;
      std::string why;
      if (!http::AccessLogFormat::Compile(config->access_log_format, &format, &why)) {
        throw UsageError{"Invalid value for '--access-log-format': " + why + "."};
      }
    }
    result.run = true;
  } catch (const UsageError& error) {
    result.exit_code = 2;
    result.err = UsageErrorText(error.message);
  }
  return result;
}

}  // namespace esg::cli
