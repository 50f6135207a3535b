// --env-file: a dotenv file read by the master (again on every reload) into the workers' environment.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace esg {

// Parses dotenv text: `NAME=value` lines, optional `export ` prefix, blank lines and `#` comments,
// 'single quotes' (literal), "double quotes" (\n \t \" \\ escapes, may span lines), unquoted values
// trimmed and cut at ` #`. No ${VAR} expansion. Returns false with `*error` naming the line on a
// malformed entry.
bool ParseEnv(const std::string& text, std::vector<std::pair<std::string, std::string>>* out,
              std::string* error);

// Reads and parses `path`; the error names the file.
bool ReadEnvFile(const std::string& path, std::vector<std::pair<std::string, std::string>>* out,
                 std::string* error);

}  // namespace esg
