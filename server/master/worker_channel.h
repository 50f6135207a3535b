// The master's end of one worker's pipes, on the master's io_context: the control socket (events in,
// commands out; WORKER_PROTOCOL.md), the relay of the worker's stdout/stderr to the master's own streams
// ("[<pid>] <line>"), and the ring of its recent stderr lines kept for failure reports.
//
// Plumbing only: what an event means is the supervisor's business (supervisor.h). Use one WorkerChannel per
// spawned worker (ProcessLauncher does); everything runs on the io thread.
//
// Lifetime: a WorkerChannel is held by a shared_ptr and keeps itself alive while its pipes are being read,
// so the output a worker wrote just before it died is still relayed after the owner let go of it. Its
// handlers are never called after CloseControl().
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/master/worker_protocol.h"

namespace esg {

// The last lines of a stream, within bounds, so a worker printing huge lines cannot grow the master: at
// most kLines lines and kBytes bytes; a line over kLineBytes keeps its first kLineBytes bytes and "...".
class RecentLines {
 public:
  static constexpr size_t kLines = 60;
  static constexpr size_t kBytes = 64 * 1024;
  static constexpr size_t kLineBytes = 8 * 1024;

  void Add(const std::string& line);
  // The kept lines, each followed by "\n" ("" when none).
  std::string Joined() const;
  size_t bytes() const { return bytes_; }
  size_t lines() const { return lines_.size(); }

 private:
  std::deque<std::string> lines_;
  size_t bytes_ = 0;
};

class WorkerChannel : public std::enable_shared_from_this<WorkerChannel> {
 public:
  struct Handlers {
    // One well-formed or malformed control line, parsed (`line` is the raw text, for logging).
    std::function<void(const WorkerMessage& message, std::string_view line)> on_message;
    // A control line longer than kMaxWorkerMessageBytes: the socket is already closed, nothing more comes.
    std::function<void()> on_overflow;
  };

  // Takes ownership of the fds (-1: absent) and starts reading them. `pid` prefixes the relayed lines.
  static std::shared_ptr<WorkerChannel> Open(boost::asio::io_context& io, pid_t pid, int control_fd, int stdout_fd,
                                             int stderr_fd, Handlers handlers);

  // Writes the command without blocking: a worker too busy to read its socket misses it (the heartbeat
  // check catches such a worker). Dropped once the control socket is closed.
  void Send(const WorkerCommand& command);
  // Stops reading and writing the control socket; no handler runs after this. The output relay goes on
  // until the worker's end of the pipes closes.
  void CloseControl();
  // The recent stderr lines, each followed by "\n".
  std::string RecentOutput() const { return recent_err_.Joined(); }
  size_t max_line() const { return reader_.max_line(); }

 private:
  struct Output {
    std::unique_ptr<boost::asio::posix::stream_descriptor> stream;
    std::string partial;
    bool is_err = false;
  };

  WorkerChannel(boost::asio::io_context& io, pid_t pid, Handlers handlers);
  void ReadControl();
  void ReadOutput(Output* output);
  void Relay(const Output& output, const std::string& line);

  pid_t pid_;
  Handlers handlers_;
  std::unique_ptr<boost::asio::local::stream_protocol::socket> control_;
  WorkerMessageReader reader_;  // bounded: a longer line gets the worker killed
  std::array<char, 16384> control_buffer_;
  Output out_, err_;
  RecentLines recent_err_;
};

}  // namespace esg
