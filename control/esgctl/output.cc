// How esgctl prints (see output.h).
#include "control/esgctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace esg::esgctl {

std::string FormatDuration(const google::protobuf::Duration& duration) {
  double s = static_cast<double>(duration.seconds()) + duration.nanos() / 1e9;
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

std::string FormatBytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1fG", bytes / double(1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1fM", bytes / double(1ull << 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%.0fK", bytes / 1024.0);
  }
  return buf;
}

std::string EnumWord(std::string name, const std::string& prefix) {
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string ToJson(const google::protobuf::Message& message) {
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

std::string StatusCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

std::string AlignedColumns(const std::vector<std::pair<std::string, std::string>>& rows) {
  // The column follows the longest head, so adding a command with a long usage cannot run into its text
  // (a fixed width did: `reload [--release PATH] [--timeout S]` is 37 characters).
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::ostringstream out;
  for (const auto& [head, text] : rows) {
    out << "  " << std::left << std::setw(static_cast<int>(width + 2)) << head << text << "\n";
  }
  return out.str();
}

void WriteUsageError(std::ostream& err, const std::string& message) { err << "esgctl: " << message << "\n"; }

void WriteCallError(std::ostream& err, bool json, grpc::StatusCode code, const std::string& sentence) {
  if (json) {
    err << "{\"error\":{\"code\":" << JsonString(StatusCodeName(code)) << ",\"message\":" << JsonString(sentence)
        << "}}\n";
  } else {
    err << "esgctl: " << sentence << " (" << StatusCodeName(code) << ")\n";
  }
}

void WriteConnectError(std::ostream& err, bool json, const std::string& sentence) {
  if (json) {
    err << "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":" << JsonString(sentence) << "}}\n";
  } else {
    err << "esgctl: " << sentence << "\n";
  }
}

void WriteOk(std::ostream& out, bool json, const std::string& what) {
  if (json) {
    out << "{\"ok\":true,\"command\":" << JsonString(what) << "}\n";
  } else {
    out << "ok: " << what << "\n";
  }
}

void WriteStatus(std::ostream& out, bool json, const v1::GetStatusResponse& r) {
  if (json) {
    out << ToJson(r) << "\n";
    return;
  }
  out << "esg " << r.version() << "  pid " << r.master_pid() << "  "
      << EnumWord(v1::ServerState_Name(r.state()), "SERVER_STATE_") << "  generation " << r.generation()
      << "  uptime " << FormatDuration(r.uptime()) << "\n";
  for (const std::string& l : r.listeners()) out << "listening on " << l << "\n";
  if (r.config_size() > 0) {
    out << "config:";
    for (const v1::ConfigEntry& e : r.config()) out << " " << e.key() << "=" << e.value();
    out << "\n";
  }
  out << std::left << std::setw(8) << "PID" << std::setw(5) << "GEN" << std::setw(10) << "STATE" << std::setw(9)
      << "UPTIME" << std::setw(10) << "REQUESTS" << std::setw(10) << "IN-FLIGHT" << std::setw(7) << "CONNS"
      << std::setw(8) << "RSS" << "HEARTBEAT\n";
  for (const v1::Worker& w : r.workers()) {
    out << std::left << std::setw(8) << w.pid() << std::setw(5) << w.generation() << std::setw(10)
        << EnumWord(v1::WorkerState_Name(w.state()), "WORKER_STATE_") << std::setw(9) << FormatDuration(w.uptime())
        << std::setw(10) << w.requests() << std::setw(10) << w.in_flight() << std::setw(7) << w.connections()
        << std::setw(8) << FormatBytes(w.rss_bytes()) << FormatDuration(w.since_heartbeat()) << " ago";
    if (!w.recycling().empty()) out << "  (recycling: " << w.recycling() << ")";
    out << "\n";
  }
  out << r.workers_size() << (r.workers_size() == 1 ? " worker\n" : " workers\n");
  if (r.worker_restarts_size() > 0) {
    out << "restarts:";
    for (const v1::RestartCount& c : r.worker_restarts()) out << " " << c.reason() << "=" << c.count();
    out << "\n";
  }
}

void WriteReload(std::ostream& out, std::ostream& err, bool json, const v1::ReloadResponse& r) {
  bool rolled_back = r.outcome() == v1::RELOAD_OUTCOME_ROLLED_BACK;
  if (json) {
    (rolled_back ? err : out) << ToJson(r) << "\n";
  } else if (rolled_back) {
    err << "esgctl: reload rolled back, generation " << r.generation() << " still serves: " << r.reason() << "\n";
    if (!r.worker_output().empty()) err << r.worker_output() << (r.worker_output().back() == '\n' ? "" : "\n");
  } else {
    out << "reloaded: generation " << r.generation() << " serving\n";
  }
}

void WriteScale(std::ostream& out, bool json, const v1::ScaleWorkersResponse& r) {
  if (json) {
    out << ToJson(r) << "\n";
  } else {
    out << r.workers() << (r.workers() == 1 ? " worker serving\n" : " workers serving\n");
  }
}

void WriteHealth(std::ostream& out, bool json, const std::string& status_name) {
  if (json) {
    out << "{\"status\":" << JsonString(status_name) << "}\n";
  } else {
    out << status_name << "\n";
  }
}

void WriteEventsBanner(std::ostream& err, bool json, const std::string& where) {
  if (!json) err << "watching events on " << where << " (Ctrl-C to stop)\n";
}

void WriteEvent(std::ostream& out, bool json, const v1::Event& e) {
  if (json) {
    out << ToJson(e) << "\n";
    return;
  }
  std::time_t t = static_cast<std::time_t>(e.time().seconds());
  std::tm tm{};
  localtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof(when), "%H:%M:%S", &tm);
  out << when << "." << std::setw(3) << std::setfill('0') << e.time().nanos() / 1000000 << std::setfill(' ')
      << "  " << std::left << std::setw(16) << e.kind_name() << " generation " << e.generation();
  if (e.pid() != 0) out << "  pid " << e.pid();
  if (!e.detail().empty()) out << "  " << e.detail();
  out << "\n";
}

}  // namespace esg::esgctl
