// The master <-> worker protocol, typed: the events a worker sends (WorkerMessage, read by
// WorkerMessageReader + ParseWorkerMessage) and the commands the master sends (WorkerCommand, written by
// EncodeWorkerCommand). Pure functions, no I/O: the fuzz target (tests/fuzz/master), the unit tests and the
// supervisor run exactly the same code. The wire format is written down in WORKER_PROTOCOL.md beside this
// file; the Python side is esg/worker_process.py (class Control, Worker.on_command).
//
// The channel is a socketpair the worker inherits; each message is one JSON object on one line. The
// legitimate messages are small (the largest is startup_failed, whose text the worker trims to 64 KiB), so
// a line longer than kMaxWorkerMessageBytes means a broken or hostile worker: the supervisor logs it, kills
// the worker and starts a replacement. The reader therefore never holds more than kMaxWorkerMessageBytes +
// one read of buffered bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "server/common/request_counters.h"

namespace esg {

// Longest accepted message line, newline excluded.
inline constexpr size_t kMaxWorkerMessageBytes = 1 << 20;

class WorkerMessageReader {
 public:
  explicit WorkerMessageReader(size_t max_line = kMaxWorkerMessageBytes) : max_line_(max_line) {}

  // Appends `data` and calls `on_line(std::string_view line)` for every complete line in it, in order
  // (the newline not included). Returns false once a line is longer than the cap, whether its newline
  // arrived or not: nothing after it is delivered, the buffer is released, and every later call returns
  // false too. The result does not depend on how the stream was split into calls.
  template <typename OnLine>
  bool Feed(std::string_view data, OnLine&& on_line) {
    if (overflowed_) return false;
    while (!data.empty()) {
      size_t newline = data.find('\n');
      std::string_view piece = data.substr(0, newline);
      if (partial_.size() + piece.size() > max_line_) return Overflow();
      if (newline == std::string_view::npos) {
        partial_.append(piece);
        return true;
      }
      data.remove_prefix(newline + 1);
      if (partial_.empty()) {
        on_line(piece);
      } else {
        partial_.append(piece);
        std::string line;
        line.swap(partial_);
        on_line(std::string_view(line));
      }
    }
    return true;
  }

  bool overflowed() const { return overflowed_; }
  size_t buffered() const { return partial_.size(); }
  size_t max_line() const { return max_line_; }

 private:
  bool Overflow() {
    overflowed_ = true;
    std::string().swap(partial_);
    return false;
  }

  size_t max_line_;
  std::string partial_;
  bool overflowed_ = false;
};

// ------------------------------------------------------------------------------ worker -> master events

// One message from a worker, as far as the master understands it.
struct WorkerMessage {
  enum class Kind { kMalformed, kUnknown, kReady, kHeartbeat, kStartupFailed, kMaxRequests };
  Kind kind = Kind::kMalformed;
  // heartbeat / max_requests counters (0 when absent or not an unsigned integer).
  uint64_t requests = 0, in_flight = 0, connections = 0, rss = 0, websockets = 0;
  // heartbeat: the per-request counters, when the worker counts them (--metrics-bind). An absent array reads
  // as zeros; its elements past the table's size are ignored, missing ones and non-integers read as 0.
  bool has_counters = false;  // "requests_by_class" was present (an array)
  RequestCounters counters;
  std::string message;  // startup_failed text (a non-string "message" reads as empty)
};

// Parses one line: a JSON object with a string "event". kMalformed for anything else (not JSON, not an
// object, no event); kUnknown for an event this master does not know (a newer worker's).
WorkerMessage ParseWorkerMessage(std::string_view line);

// The event's name on the wire ("ready", "heartbeat", ...); "" for kMalformed and kUnknown.
std::string_view WorkerMessageName(WorkerMessage::Kind kind);

// ---------------------------------------------------------------------------- master -> worker commands

// One command to a worker. A worker ignores a line it cannot parse and a command it does not know.
struct WorkerCommand {
  enum class Kind {
    kDrain,        // stop accepting, finish in-flight requests, lifespan shutdown, exit 0
    kReopenLogs,   // acknowledged in the worker's debug log (ESG logs to stdout/stderr)
    kSetLogLevel,  // `level`: critical, error, warning, info, debug or trace (checked by the master)
  };
  Kind kind = Kind::kDrain;
  std::string level;  // kSetLogLevel only

  static WorkerCommand Drain() { return {Kind::kDrain, {}}; }
  static WorkerCommand ReopenLogs() { return {Kind::kReopenLogs, {}}; }
  static WorkerCommand SetLogLevel(std::string level) { return {Kind::kSetLogLevel, std::move(level)}; }
};

// The command as one line, newline included, e.g. "{\"cmd\": \"drain\"}\n".
std::string EncodeWorkerCommand(const WorkerCommand& command);

}  // namespace esg
