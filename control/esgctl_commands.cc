// esgctl commands (see esgctl_commands.h).
#include "control/esgctl_commands.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

namespace esg::esgctl {
namespace {

using Words = std::vector<std::string>;

constexpr int kConnectTimeoutMs = 3000;
constexpr auto kReadDeadline = std::chrono::seconds(10);
// Mutating calls return when the work is done (a reload waits for the new generation); give them time.
constexpr auto kMutateDeadline = std::chrono::minutes(10);

const std::vector<CommandInfo> kCommands = {
    {"status", "", "show the master, its listeners and every worker", {}},
    {"reload", "[--release PATH] [--timeout S]",
     "start a new generation (optionally from another release), wait until ready, drain the old one",
     {"--release", "--timeout"}},
    {"scale", "N", "run N workers", {}},
    {"incr", "[N]", "add N workers (default 1)", {}},
    {"decr", "[N]", "remove N workers (default 1)", {}},
    {"drain", "", "stop accepting connections and report NOT_SERVING; in-flight work finishes", {}},
    {"resume", "", "accept connections again after drain", {}},
    {"stop", "[--quick]", "stop the master (graceful unless --quick)", {"--quick"}},
    {"events", "[--count N] [--timeout S]", "print worker/reload/drain/scale events as they happen (Ctrl-C ends)",
     {"--count", "--timeout"}},
    {"health", "", "grpc.health.v1 status of the server (exit 1 when NOT_SERVING)", {}},
    {"log-level", "LEVEL", "set the log level: critical, error, warning, info, debug, trace", {}},
    {"reopen-logs", "", "re-open log files (after rotation)", {}},
    {"help", "", "show this list", {}},
};

std::string Trim(std::string name, const std::string& prefix) {
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string Seconds(const google::protobuf::Duration& d) {
  double s = static_cast<double>(d.seconds()) + d.nanos() / 1e9;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
  }
  return buf;
}

std::string Bytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1fG", n / double(1ull << 30));
  } else if (n >= (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1fM", n / double(1ull << 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%.0fK", n / 1024.0);
  }
  return buf;
}

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Parses "--flag VALUE" / "--flag=VALUE" / "--switch" options and positionals of one command.
struct Parsed {
  std::map<std::string, std::string> values;
  std::vector<std::string> positionals;
};

bool ParseArgs(const Words& words, const std::vector<std::string>& with_value,
               const std::vector<std::string>& switches, Parsed* out, std::string* error) {
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

class Runner {
 public:
  explicit Runner(Session& s) : s_(s), out_(*s.out), err_(*s.err) {}

  int Usage(const std::string& message) {
    err_ << "esgctl: " << message << "\n";
    return kExitUsage;
  }

  // Prints a failed RPC (human: "esgctl: <sentence> (CODE)", JSON: {"error": ...}) and returns 1 or 3.
  int Failed(const grpc::Status& status) {
    std::string sentence = s_.client->Explain(status);
    bool gone = status.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (s_.json) {
      err_ << "{\"error\":{\"code\":" << JsonString(CodeName(status.error_code()))
           << ",\"message\":" << JsonString(sentence) << "}}\n";
    } else {
      err_ << "esgctl: " << sentence << " (" << CodeName(status.error_code()) << ")\n";
    }
    return gone ? kExitNoServer : kExitFailed;
  }

  int Ok(const char* what) {
    if (s_.json) {
      out_ << "{\"ok\":true,\"command\":" << JsonString(what) << "}\n";
    } else {
      out_ << "ok: " << what << "\n";
    }
    return kExitOk;
  }

  static std::string CodeName(grpc::StatusCode code) {
    static const char* const kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                          "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                          "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                          "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    int i = static_cast<int>(code);
    return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
  }

  static void Deadline(grpc::ClientContext* context, std::chrono::seconds d) {
    context->set_deadline(std::chrono::system_clock::now() + d);
  }

  int Status() {
    grpc::ClientContext context;
    Deadline(&context, kReadDeadline);
    v1::GetStatusResponse r;
    grpc::Status st = s_.client->control().GetStatus(&context, v1::GetStatusRequest(), &r);
    if (!st.ok()) return Failed(st);
    if (s_.json) {
      out_ << Json(r) << "\n";
      return kExitOk;
    }
    out_ << "esg " << r.version() << "  pid " << r.master_pid() << "  "
         << Trim(v1::ServerState_Name(r.state()), "SERVER_STATE_") << "  generation " << r.generation()
         << "  uptime " << Seconds(r.uptime()) << "\n";
    for (const std::string& l : r.listeners()) out_ << "listening on " << l << "\n";
    if (r.config_size() > 0) {
      out_ << "config:";
      for (const v1::ConfigEntry& e : r.config()) out_ << " " << e.key() << "=" << e.value();
      out_ << "\n";
    }
    out_ << std::left << std::setw(8) << "PID" << std::setw(5) << "GEN" << std::setw(10) << "STATE"
         << std::setw(9) << "UPTIME" << std::setw(10) << "REQUESTS" << std::setw(10) << "IN-FLIGHT"
         << std::setw(7) << "CONNS" << std::setw(8) << "RSS" << "HEARTBEAT\n";
    for (const v1::Worker& w : r.workers()) {
      out_ << std::left << std::setw(8) << w.pid() << std::setw(5) << w.generation() << std::setw(10)
           << Trim(v1::WorkerState_Name(w.state()), "WORKER_STATE_") << std::setw(9) << Seconds(w.uptime())
           << std::setw(10) << w.requests() << std::setw(10) << w.in_flight() << std::setw(7) << w.connections()
           << std::setw(8) << Bytes(w.rss_bytes()) << Seconds(w.since_heartbeat()) << " ago\n";
    }
    out_ << r.workers_size() << (r.workers_size() == 1 ? " worker\n" : " workers\n");
    return kExitOk;
  }

  int Reload(const Words& words) {
    Parsed p;
    std::string error;
    if (!ParseArgs(words, {"--release", "--timeout"}, {}, &p, &error)) return Usage(error);
    if (!p.positionals.empty()) return Usage("reload takes no positional arguments (use --release PATH)");
    v1::ReloadRequest request;
    request.set_release_path(p.values["--release"]);
    if (p.values.count("--timeout")) {
      double seconds;
      if (!ParseSeconds(p.values["--timeout"], &seconds)) return Usage("--timeout must be a positive number of seconds");
      // The master decides the maximum (and says so); this only keeps the conversion defined.
      seconds = std::min(seconds, 1e12);
      request.mutable_ready_timeout()->set_seconds(static_cast<int64_t>(seconds));
      request.mutable_ready_timeout()->set_nanos(static_cast<int32_t>((seconds - std::floor(seconds)) * 1e9));
    }
    grpc::ClientContext context;
    Deadline(&context, std::chrono::duration_cast<std::chrono::seconds>(kMutateDeadline));
    v1::ReloadResponse r;
    grpc::Status st = s_.client->control().Reload(&context, request, &r);
    if (!st.ok()) return Failed(st);
    bool rolled_back = r.outcome() == v1::RELOAD_OUTCOME_ROLLED_BACK;
    if (s_.json) {
      (rolled_back ? err_ : out_) << Json(r) << "\n";
    } else if (rolled_back) {
      err_ << "esgctl: reload rolled back, generation " << r.generation() << " still serves: " << r.reason() << "\n";
      if (!r.worker_output().empty()) err_ << r.worker_output() << (r.worker_output().back() == '\n' ? "" : "\n");
    } else {
      out_ << "reloaded: generation " << r.generation() << " serving\n";
    }
    return rolled_back ? kExitRolledBack : kExitOk;
  }

  int Scale(const Words& words, int sign) {
    Parsed p;
    std::string error;
    if (!ParseArgs(words, {}, {}, &p, &error)) return Usage(error);
    v1::ScaleWorkersRequest request;
    long n = 1;
    if (sign == 0) {
      if (p.positionals.size() != 1 || !ParseInt(p.positionals[0], 1, 10000, &n)) {
        return Usage("usage: scale N (N between 1 and 10000)");
      }
      request.set_count(static_cast<uint32_t>(n));
    } else {
      if (p.positionals.size() > 1 || (p.positionals.size() == 1 && !ParseInt(p.positionals[0], 1, 10000, &n))) {
        return Usage(std::string("usage: ") + words[0] + " [N] (N between 1 and 10000)");
      }
      request.set_delta(static_cast<int32_t>(sign * n));
    }
    grpc::ClientContext context;
    Deadline(&context, std::chrono::duration_cast<std::chrono::seconds>(kMutateDeadline));
    v1::ScaleWorkersResponse r;
    grpc::Status st = s_.client->control().ScaleWorkers(&context, request, &r);
    if (!st.ok()) return Failed(st);
    if (s_.json) {
      out_ << Json(r) << "\n";
    } else {
      out_ << r.workers() << (r.workers() == 1 ? " worker serving\n" : " workers serving\n");
    }
    return kExitOk;
  }

  template <typename Request, typename Response, typename Call>
  int Simple(const Words& words, const char* what, Call call, const Request& request = Request()) {
    if (words.size() > 1 && words[0] != "stop" && words[0] != "log-level") {
      return Usage(std::string(what) + " takes no arguments");
    }
    grpc::ClientContext context;
    Deadline(&context, std::chrono::duration_cast<std::chrono::seconds>(kMutateDeadline));
    Response response;
    grpc::Status st = call(&context, request, &response);
    if (!st.ok()) return Failed(st);
    return Ok(what);
  }

  int Stop(const Words& words) {
    Parsed p;
    std::string error;
    if (!ParseArgs(words, {}, {"--quick"}, &p, &error)) return Usage(error);
    if (!p.positionals.empty()) return Usage("usage: stop [--quick]");
    v1::ShutdownRequest request;
    request.set_mode(p.values.count("--quick") ? v1::SHUTDOWN_MODE_QUICK : v1::SHUTDOWN_MODE_GRACEFUL);
    return Simple<v1::ShutdownRequest, v1::ShutdownResponse>(
        words, "stop",
        [this](auto* c, const auto& rq, auto* rs) { return s_.client->control().Shutdown(c, rq, rs); }, request);
  }

  int LogLevel(const Words& words) {
    if (words.size() != 2) return Usage("usage: log-level LEVEL (critical, error, warning, info, debug, trace)");
    v1::LogLevel level;
    std::string name = "LOG_LEVEL_" + words[1];
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!v1::LogLevel_Parse(name, &level) || level == v1::LOG_LEVEL_UNSPECIFIED) {
      return Usage("unknown log level '" + words[1] + "'; use critical, error, warning, info, debug or trace");
    }
    v1::SetLogLevelRequest request;
    request.set_level(level);
    return Simple<v1::SetLogLevelRequest, v1::SetLogLevelResponse>(
        words, "log-level",
        [this](auto* c, const auto& rq, auto* rs) { return s_.client->control().SetLogLevel(c, rq, rs); }, request);
  }

  int Health(const Words& words) {
    if (words.size() > 1) return Usage("health takes no arguments");
    grpc::ClientContext context;
    Deadline(&context, kReadDeadline);
    ::grpc::health::v1::HealthCheckResponse r;
    grpc::Status st = s_.client->health().Check(&context, ::grpc::health::v1::HealthCheckRequest(), &r);
    if (!st.ok()) return Failed(st);
    std::string name = ::grpc::health::v1::HealthCheckResponse::ServingStatus_Name(r.status());
    if (s_.json) {
      out_ << "{\"status\":" << JsonString(name) << "}\n";
    } else {
      out_ << name << "\n";
    }
    return r.status() == ::grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
  }

  int Events(const Words& words) {
    Parsed p;
    std::string error;
    if (!ParseArgs(words, {"--count", "--timeout"}, {}, &p, &error)) return Usage(error);
    long count = 0;
    double timeout = 0;
    if (p.values.count("--count") && !ParseInt(p.values["--count"], 1, 1L << 30, &count)) {
      return Usage("--count must be a positive integer");
    }
    if (p.values.count("--timeout") && !ParseSeconds(p.values["--timeout"], &timeout)) {
      return Usage("--timeout must be a positive number of seconds");
    }
    grpc::ClientContext context;
    if (timeout > 0) {
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
    }
    auto reader = s_.client->control().WatchEvents(&context, v1::WatchEventsRequest());
    // Ctrl-C (or the end of --count) cancels the stream from this watcher thread.
    std::atomic<bool> finished{false};
    std::thread watcher([&] {
      while (!finished) {
        if (s_.interrupted != nullptr && s_.interrupted->exchange(false)) {
          context.TryCancel();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    reader->WaitForInitialMetadata();
    if (!s_.json) err_ << "watching events on " << s_.client->Where() << " (Ctrl-C to stop)\n";
    out_.flush();
    err_.flush();
    v1::Event e;
    long seen = 0;
    while ((count == 0 || seen < count) && reader->Read(&e)) {
      ++seen;
      if (s_.json) {
        out_ << Json(e) << "\n";
      } else {
        std::time_t t = static_cast<std::time_t>(e.time().seconds());
        std::tm tm{};
        localtime_r(&t, &tm);
        char when[32];
        std::strftime(when, sizeof(when), "%H:%M:%S", &tm);
        out_ << when << "." << std::setw(3) << std::setfill('0') << e.time().nanos() / 1000000 << std::setfill(' ')
             << "  " << std::left << std::setw(16) << e.kind_name() << " generation " << e.generation();
        if (e.pid() != 0) out_ << "  pid " << e.pid();
        if (!e.detail().empty()) out_ << "  " << e.detail();
        out_ << "\n";
      }
      out_.flush();
    }
    if (count != 0 && seen >= count) context.TryCancel();
    grpc::Status st = reader->Finish();
    finished = true;
    watcher.join();
    if (st.ok() || st.error_code() == grpc::StatusCode::CANCELLED ||
        (timeout > 0 && st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
      return kExitOk;
    }
    return Failed(st);
  }

 private:
  Session& s_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

const std::vector<CommandInfo>& Commands() { return kCommands; }

std::string CommandHelp() {
  std::ostringstream out;
  out << "Commands:\n";
  for (const CommandInfo& c : kCommands) {
    std::string head = std::string(c.name) + (c.usage[0] ? " " : "") + c.usage;
    out << "  " << std::left << std::setw(36) << head << c.help << "\n";
  }
  return out.str();
}

bool SplitWords(const std::string& line, std::vector<std::string>* words) {
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

int RunCommand(Session& session, const std::vector<std::string>& words) {
  if (words.empty()) return kExitOk;
  const std::string& name = words[0];
  Runner run(session);
  if (name == "help" || name == "--help" || name == "-h") {
    *session.out << CommandHelp();
    return kExitOk;
  }
  bool known = false;
  for (const CommandInfo& c : kCommands) known = known || name == c.name;
  if (!known) return run.Usage("unknown command '" + name + "'; type 'help' for the list");

  std::string error;
  if (!session.client->Connect(kConnectTimeoutMs, &error)) {
    if (session.json) {
      *session.err << "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":" << JsonString(error) << "}}\n";
    } else {
      *session.err << "esgctl: " << error << "\n";
    }
    return kExitNoServer;
  }
  auto& control = session.client->control();
  if (name == "status") return words.size() > 1 ? run.Usage("status takes no arguments") : run.Status();
  if (name == "reload") return run.Reload(words);
  if (name == "scale") return run.Scale(words, 0);
  if (name == "incr") return run.Scale(words, +1);
  if (name == "decr") return run.Scale(words, -1);
  if (name == "drain") {
    return run.Simple<v1::DrainRequest, v1::DrainResponse>(
        words, "drain", [&](auto* c, const auto& rq, auto* rs) { return control.Drain(c, rq, rs); });
  }
  if (name == "resume") {
    return run.Simple<v1::ResumeRequest, v1::ResumeResponse>(
        words, "resume", [&](auto* c, const auto& rq, auto* rs) { return control.Resume(c, rq, rs); });
  }
  if (name == "stop") return run.Stop(words);
  if (name == "events") return run.Events(words);
  if (name == "health") return run.Health(words);
  if (name == "log-level") return run.LogLevel(words);
  if (name == "reopen-logs") {
    return run.Simple<v1::ReopenLogsRequest, v1::ReopenLogsResponse>(
        words, "reopen-logs", [&](auto* c, const auto& rq, auto* rs) { return control.ReopenLogs(c, rq, rs); });
  }
  return run.Usage("unknown command '" + name + "'");
}

}  // namespace esg::esgctl
