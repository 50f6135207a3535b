// dotenv parsing (see env_file.h).
#include "server/master/env_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace esg {
namespace {

bool IsNameChar(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9') ||
         (!first && c == '.');
}

void SkipBlanks(const std::string& text, size_t* at) {
  while (*at < text.size() && (text[*at] == ' ' || text[*at] == '\t')) ++*at;
}

}  // namespace

bool ParseEnv(const std::string& text, std::vector<std::pair<std::string, std::string>>* out,
              std::string* error) {
  size_t at = 0;
  int line = 1;
  auto fail = [&](const std::string& what) {
    *error = "line " + std::to_string(line) + ": " + what;
    return false;
  };
  while (at < text.size()) {
    SkipBlanks(text, &at);
    if (at >= text.size()) break;
    if (text[at] == '\n' || text[at] == '\r') {
      if (text[at] == '\n') ++line;
      ++at;
      continue;
    }
    if (text[at] == '#') {
      while (at < text.size() && text[at] != '\n') ++at;
      continue;
    }
    if (text.compare(at, 7, "export ") == 0) {
      at += 7;
      SkipBlanks(text, &at);
    }
    size_t name_start = at;
    while (at < text.size() && IsNameChar(text[at], at == name_start)) ++at;
    std::string name = text.substr(name_start, at - name_start);
    if (name.empty()) return fail("expected NAME=value");
    SkipBlanks(text, &at);
    if (at >= text.size() || text[at] != '=') return fail("expected '=' after " + name);
    ++at;
    SkipBlanks(text, &at);
    std::string value;
    if (at < text.size() && (text[at] == '\'' || text[at] == '"')) {
      char quote = text[at++];
      bool closed = false;
      while (at < text.size()) {
        char c = text[at++];
        if (c == quote) {
          closed = true;
          break;
        }
        if (c == '\n') ++line;
        if (quote == '"' && c == '\\' && at < text.size()) {
          char e = text[at++];
          switch (e) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            default: value += e; break;
          }
          continue;
        }
        value += c;
      }
      if (!closed) return fail("unterminated quoted value of " + name);
      SkipBlanks(text, &at);
      if (at < text.size() && text[at] == '#') {
        while (at < text.size() && text[at] != '\n') ++at;
      }
      if (at < text.size() && text[at] != '\n' && text[at] != '\r') {
        return fail("unexpected text after the quoted value of " + name);
      }
    } else {
      size_t start = at;
      while (at < text.size() && text[at] != '\n') {
        if (text[at] == '#' && at > start && (text[at - 1] == ' ' || text[at - 1] == '\t')) break;
        ++at;
      }
      value = text.substr(start, at - start);
      while (at < text.size() && text[at] != '\n') ++at;
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) {
        value.pop_back();
      }
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

bool ReadEnvFile(const std::string& path, std::vector<std::pair<std::string, std::string>>* out,
                 std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read --env-file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string why;
  if (!ParseEnv(buffer.str(), out, &why)) {
    *error = "invalid --env-file " + path + ", " + why;
    return false;
  }
  return true;
}

}  // namespace esg
