// Logging for the master and the engine: spdlog loggers that print the way uvicorn users expect.
//
//   INFO:     Started server process [4242]
//   INFO:     127.0.0.1:51234 - "GET /path HTTP/1.1" 200
//
// Two loggers: "esg.error" (server messages, stderr) and "esg.access" (one line per response, stdout).
// Colours only when asked for, or by default when the stream is a TTY. Everything that comes from a
// request (paths, header values) must go through Escape() before it reaches a log line.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace esg::log {

struct Options {
  std::string level = "info";      // critical|error|warning|info|debug|trace
  std::optional<bool> use_colors;  // unset: colour when the stream is a TTY
  bool access_log = true;
};

// Returns false (and leaves the loggers alone) when `level` is not a known level name.
bool ParseLevel(std::string_view name, spdlog::level::level_enum* out);

// Creates (or re-configures) both loggers. Safe to call more than once.
void Init(const Options& options);

spdlog::logger& Error();
spdlog::logger& Access();
bool AccessEnabled();
// One access line written as it is, without the "INFO:     " prefix (--access-log-format lines, which
// are gunicorn's or JSON); with a forwarder installed it reaches esg.access like any other message.
void AccessLine(std::string_view line);

// --- Forwarding (optional; used by a worker started with --log-config) -------------------------------
//
// With a forwarder installed, both loggers hand each formatted-free message (the payload, no prefix) to
// it instead of writing to stderr/stdout; the level filter of each logger still applies first. The
// master never installs one. The forwarder may be called from any thread that logs, concurrently;
// it must be thread-safe itself (the Python one takes the GIL). Install or remove it (nullptr) while
// no other thread logs, e.g. during start-up: it re-creates the loggers like Init does.
enum class Which { kError, kAccess };
using Forwarder = std::function<void(Which which, spdlog::level::level_enum level, std::string_view message)>;
void SetForwarder(Forwarder forwarder);

// Sets the level of both loggers (e.g. to what the forwarded-to configuration lets through).
void SetLevel(spdlog::level::level_enum level);

// Replaces control characters and non-ASCII-printable bytes by \xNN so a request cannot forge log lines
// or send escape sequences to a terminal.
std::string Escape(std::string_view text);

// For multi-line text such as a Python traceback: replaces control characters other than newline and
// tab (ESC, NUL, CR...) by \xNN; keeps UTF-8 and backslashes as they are.
std::string EscapeControls(std::string_view text);

}  // namespace esg::log
