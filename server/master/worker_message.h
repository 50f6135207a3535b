// The master's side of the worker -> master channel, as pure functions: splitting the byte stream into
// newline-delimited messages with a size cap (WorkerMessageReader) and reading one message
// (ParseWorkerMessage). No I/O here, so the fuzz target (tests/fuzz/master) and the unit tests drive
// exactly what the supervisor runs.
//
// The channel is a socketpair the worker inherits (esg/worker.py, class Control); each message is one JSON
// object on one line. The legitimate messages are small (the largest is startup_failed, whose text the
// worker trims to 64 KiB), so a line longer than kMaxWorkerMessageBytes means a broken or hostile worker:
// the supervisor logs it, kills the worker and starts a replacement. The reader therefore never holds more
// than kMaxWorkerMessageBytes + one read of buffered bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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

// One message from a worker, as far as the master understands it.
struct WorkerMessage {
  enum class Kind { kMalformed, kUnknown, kReady, kHeartbeat, kStartupFailed, kMaxRequests };
  Kind kind = Kind::kMalformed;
  // heartbeat / max_requests counters (0 when absent or not an unsigned integer).
  uint64_t requests = 0, in_flight = 0, connections = 0, rss = 0;
  std::string message;  // startup_failed text (a non-string "message" reads as empty)
};

// Parses one line: a JSON object with a string "event". kMalformed for anything else (not JSON, not an
// object, no event); kUnknown for an event this master does not know (a newer worker's).
WorkerMessage ParseWorkerMessage(std::string_view line);

}  // namespace esg
