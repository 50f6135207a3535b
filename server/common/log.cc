// Logging implementation: a uvicorn-style formatter ("LEVEL:" padded to ten columns) over spdlog sinks.
#include "server/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace esg::log {
namespace {

std::atomic<bool> g_access_enabled{true};

// Marks a message of AccessLine: the formatter writes it without the level prefix.
const char kBareLine[] = "esg-access-line";

struct LevelStyle {
  const char* prefix;  // "INFO:" etc., padded by the formatter
  const char* color;   // ANSI colour for the prefix
};

LevelStyle StyleOf(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return {"TRACE:", "\x1b[34m"};
    case spdlog::level::debug: return {"DEBUG:", "\x1b[36m"};
    case spdlog::level::info: return {"INFO:", "\x1b[32m"};
    case spdlog::level::warn: return {"WARNING:", "\x1b[33m"};
    case spdlog::level::err: return {"ERROR:", "\x1b[31m"};
    default: return {"CRITICAL:", "\x1b[91m"};
  }
}

// "INFO:     message\n": the prefix left-aligned in nine columns, then one space, like uvicorn.
class UvicornFormatter final : public spdlog::formatter {
 public:
  explicit UvicornFormatter(bool colors) : colors_(colors) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    if (msg.source.filename == kBareLine) {
      dest.append(msg.payload.begin(), msg.payload.end());
      dest.push_back('\n');
      return;
    }
    LevelStyle style = StyleOf(msg.level);
    std::string_view prefix(style.prefix);
    if (colors_) dest.append(std::string_view(style.color));
    dest.append(prefix);
    if (colors_) dest.append(std::string_view("\x1b[0m"));
    for (size_t i = prefix.size(); i < 9; ++i) dest.push_back(' ');
    dest.push_back(' ');
    dest.append(msg.payload.begin(), msg.payload.end());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<UvicornFormatter>(colors_);
  }

 private:
  bool colors_;
};

// --- Forwarding (SetForwarder) ----------------------------------------------------------------------
// The installed forwarder, shared by the sinks made while it is set. Guarded by g_forwarder_mutex only
// for installation; each sink keeps its own copy, so logging never takes this lock.
std::mutex g_forwarder_mutex;
std::shared_ptr<const Forwarder> g_forwarder;
std::atomic<bool> g_access_option{true};

// Hands the bare message to the forwarder. No lock: the forwarder is thread-safe by contract, and a
// lock held here would deadlock a forwarder whose handler logs again through these loggers.
class ForwardingSink final : public spdlog::sinks::sink {
 public:
  ForwardingSink(Which which, std::shared_ptr<const Forwarder> forwarder)
      : which_(which), forwarder_(std::move(forwarder)) {}

  void log(const spdlog::details::log_msg& msg) override {
    (*forwarder_)(which_, msg.level, std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  Which which_;
  std::shared_ptr<const Forwarder> forwarder_;
};

std::shared_ptr<spdlog::logger> Make(const char* name, FILE* stream, bool colors) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  std::shared_ptr<const Forwarder> forwarder;
  {
    std::lock_guard<std::mutex> lock(g_forwarder_mutex);
    forwarder = g_forwarder;
  }
  if (forwarder) {
    sink = std::make_shared<ForwardingSink>(stream == stdout ? Which::kAccess : Which::kError, forwarder);
    return std::make_shared<spdlog::logger>(name, sink);
  }
  if (stream == stdout) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  sink->set_formatter(std::make_unique<UvicornFormatter>(colors));
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  return logger;
}

std::shared_ptr<spdlog::logger>& ErrorPtr() {
  static std::shared_ptr<spdlog::logger> logger = Make("esg.error", stderr, false);
  return logger;
}

std::shared_ptr<spdlog::logger>& AccessPtr() {
  static std::shared_ptr<spdlog::logger> logger = Make("esg.access", stdout, false);
  return logger;
}

}  // namespace

bool ParseLevel(std::string_view name, spdlog::level::level_enum* out) {
  static const std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"critical", spdlog::level::critical}, {"error", spdlog::level::err},
      {"warning", spdlog::level::warn},      {"info", spdlog::level::info},
      {"debug", spdlog::level::debug},       {"trace", spdlog::level::trace},
  };
  for (const auto& [text, level] : kLevels) {
    if (text == name) {
      *out = level;
      return true;
    }
  }
  return false;
}

void Init(const Options& options) {
  spdlog::level::level_enum level = spdlog::level::info;
  ParseLevel(options.level, &level);
  bool err_colors = options.use_colors.value_or(isatty(STDERR_FILENO) == 1);
  bool out_colors = options.use_colors.value_or(isatty(STDOUT_FILENO) == 1);
  ErrorPtr() = Make("esg.error", stderr, err_colors);
  AccessPtr() = Make("esg.access", stdout, out_colors);
  ErrorPtr()->set_level(level);
  AccessPtr()->set_level(level);
  // Lines reach the terminal or the supervisor's pipe at once, not when a buffer fills.
  ErrorPtr()->flush_on(spdlog::level::trace);
  AccessPtr()->flush_on(spdlog::level::trace);
  g_access_option = options.access_log;
  g_access_enabled = options.access_log && level <= spdlog::level::info;
}

void SetForwarder(Forwarder forwarder) {
  {
    std::lock_guard<std::mutex> lock(g_forwarder_mutex);
    g_forwarder = forwarder ? std::make_shared<const Forwarder>(std::move(forwarder)) : nullptr;
  }
  // Re-create both loggers with the new sink, keeping their levels. Colours matter only without a
  // forwarder; a worker that removes its forwarder (at exit) goes back to plain lines.
  spdlog::level::level_enum error_level = ErrorPtr()->level();
  spdlog::level::level_enum access_level = AccessPtr()->level();
  ErrorPtr() = Make("esg.error", stderr, false);
  AccessPtr() = Make("esg.access", stdout, false);
  ErrorPtr()->set_level(error_level);
  AccessPtr()->set_level(access_level);
  ErrorPtr()->flush_on(spdlog::level::trace);
  AccessPtr()->flush_on(spdlog::level::trace);
}

void SetLevel(spdlog::level::level_enum level) {
  ErrorPtr()->set_level(level);
  AccessPtr()->set_level(level);
  g_access_enabled = g_access_option.load() && level <= spdlog::level::info;
}

spdlog::logger& Error() { return *ErrorPtr(); }
spdlog::logger& Access() { return *AccessPtr(); }
bool AccessEnabled() { return g_access_enabled.load(std::memory_order_relaxed); }

void AccessLine(std::string_view line) {
  AccessPtr()->log(spdlog::source_loc{kBareLine, 1, kBareLine}, spdlog::level::info,
                   spdlog::string_view_t(line.data(), line.size()));
}

std::string Escape(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\') {
      if (c == '\\') {
        out += "\\\\";
        continue;
      }
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string EscapeControls(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace esg::log
