// The master <-> worker protocol: parsing events, encoding commands (see worker_protocol.h and
// WORKER_PROTOCOL.md).
#include "server/master/worker_protocol.h"

#include <nlohmann/json.hpp>

namespace esg {

WorkerMessage ParseWorkerMessage(std::string_view line) {
  WorkerMessage out;
  nlohmann::json message = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) return out;
  auto event = message.find("event");
  if (event == message.end() || !event->is_string()) return out;
  auto number = [&message](const char* key) -> uint64_t {
    auto it = message.find(key);
    return it != message.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  const std::string& name = event->get_ref<const std::string&>();
  if (name == "heartbeat") {
    out.kind = WorkerMessage::Kind::kHeartbeat;
    out.requests = number("requests");
    out.in_flight = number("in_flight");
    out.connections = number("connections");
    out.rss = number("rss");
    out.websockets = number("websockets");
    auto array = [&message](const char* key, uint64_t* into, size_t size) {
      auto it = message.find(key);
      if (it == message.end() || !it->is_array()) return false;
      for (size_t i = 0; i < size && i < it->size(); ++i) {
        const nlohmann::json& v = (*it)[i];
        into[i] = v.is_number_unsigned() ? v.get<uint64_t>() : 0;
      }
      return true;
    };
    RequestCounters& c = out.counters;
    out.has_counters = array("requests_by_class", &c.requests[0][0], kMethodClasses * kStatusClasses);
    array("duration_buckets", c.duration_buckets, kDurationBuckets);
    c.duration_sum_us = number("duration_sum_us");
    c.received_bytes = number("received_bytes");
    c.sent_bytes = number("sent_bytes");
    c.request_timeouts = number("request_timeouts");
  } else if (name == "ready") {
    out.kind = WorkerMessage::Kind::kReady;
  } else if (name == "startup_failed") {
    out.kind = WorkerMessage::Kind::kStartupFailed;
    auto text = message.find("message");
    if (text != message.end() && text->is_string()) out.message = text->get<std::string>();
  } else if (name == "max_requests") {
    out.kind = WorkerMessage::Kind::kMaxRequests;
    out.requests = number("requests");
  } else {
    out.kind = WorkerMessage::Kind::kUnknown;
  }
  return out;
}

std::string_view WorkerMessageName(WorkerMessage::Kind kind) {
  switch (kind) {
    case WorkerMessage::Kind::kReady: return "ready";
    case WorkerMessage::Kind::kHeartbeat: return "heartbeat";
    case WorkerMessage::Kind::kStartupFailed: return "startup_failed";
    case WorkerMessage::Kind::kMaxRequests: return "max_requests";
    case WorkerMessage::Kind::kMalformed:
    case WorkerMessage::Kind::kUnknown: break;
  }
  return "";
}

std::string EncodeWorkerCommand(const WorkerCommand& command) {
  switch (command.kind) {
    case WorkerCommand::Kind::kDrain:
      return "{\"cmd\": \"drain\"}\n";
    case WorkerCommand::Kind::kReopenLogs:
      return "{\"cmd\": \"reopen_logs\"}\n";
    case WorkerCommand::Kind::kSetLogLevel:
      // JSON-escaped: the level is checked by the master, but the encoder must not depend on that.
      return nlohmann::json({{"cmd", "set_log_level"}, {"level", command.level}}).dump() + "\n";
  }
  return "";
}

}  // namespace esg
