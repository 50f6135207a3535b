// esgctl's word-level parsing (see args.h).
#include "control/esgctl/args.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace esg::esgctl {

bool ParseArgs(const Words& words, const std::vector<std::string>& with_value,
               const std::vector<std::string>& switches, ParsedArgs* out, std::string* error) {
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.rfind("--", 0) != 0 || w == "--") {
      out->positionals.push_back(w);
      continue;
    }
    std::string name = w, value;
    size_t eq = w.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = w.substr(0, eq);
      value = w.substr(eq + 1);
    }
    bool takes_value = std::find(with_value.begin(), with_value.end(), name) != with_value.end();
    bool is_switch = std::find(switches.begin(), switches.end(), name) != switches.end();
    if (!takes_value && !is_switch) {
      *error = "no such option for '" + words[0] + "': " + name;
      return false;
    }
    if (takes_value && !inline_value) {
      if (i + 1 >= words.size()) {
        *error = "option " + name + " needs a value";
        return false;
      }
      value = words[++i];
    }
    out->values[name] = is_switch ? "1" : value;
  }
  return true;
}

bool ParseInt(const std::string& text, long min, long max, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max) return false;
  *out = v;
  return true;
}

bool ParseSeconds(const std::string& text, double* out) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v > 0) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool SplitWords(const std::string& line, Words* words) {
  words->clear();
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words->push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return false;
  if (in_word) words->push_back(word);
  return true;
}

}  // namespace esg::esgctl
