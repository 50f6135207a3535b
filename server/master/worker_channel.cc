// One worker's pipes on the master's io_context (see worker_channel.h).
#include "server/master/worker_channel.h"

#include <sys/socket.h>

#include <cstdio>

namespace esg {

namespace asio = boost::asio;

namespace {

// A line without a newline is relayed in pieces of this size (a runaway line must not grow the master).
constexpr size_t kMaxRelayedLineBytes = 65536;

}  // namespace

void RecentLines::Add(const std::string& line) {
  std::string kept = line.size() > kLineBytes ? line.substr(0, kLineBytes) + "..." : line;
  bytes_ += kept.size();
  lines_.push_back(std::move(kept));
  while (lines_.size() > kLines || bytes_ > kBytes) {
    bytes_ -= lines_.front().size();
    lines_.pop_front();
  }
}

std::string RecentLines::Joined() const {
  std::string out;
  for (const std::string& line : lines_) out += line + "\n";
  return out;
}

WorkerChannel::WorkerChannel(asio::io_context& io, pid_t pid, Handlers handlers)
    : pid_(pid), handlers_(std::move(handlers)), control_(std::make_unique<asio::local::stream_protocol::socket>(io)) {
  err_.is_err = true;
}

std::shared_ptr<WorkerChannel> WorkerChannel::Open(asio::io_context& io, pid_t pid, int control_fd, int stdout_fd,
                                                   int stderr_fd, Handlers handlers) {
  std::shared_ptr<WorkerChannel> channel(new WorkerChannel(io, pid, std::move(handlers)));
  boost::system::error_code ec;
  channel->control_->assign(asio::local::stream_protocol(), control_fd, ec);
  if (stdout_fd >= 0) channel->out_.stream = std::make_unique<asio::posix::stream_descriptor>(io, stdout_fd);
  if (stderr_fd >= 0) channel->err_.stream = std::make_unique<asio::posix::stream_descriptor>(io, stderr_fd);
  if (!ec) channel->ReadControl();
  if (channel->out_.stream) channel->ReadOutput(&channel->out_);
  if (channel->err_.stream) channel->ReadOutput(&channel->err_);
  return channel;
}

void WorkerChannel::Send(const WorkerCommand& command) {
  if (!control_->is_open()) return;
  const std::string line = EncodeWorkerCommand(command);
  ::send(control_->native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void WorkerChannel::CloseControl() {
  boost::system::error_code ignored;
  control_->close(ignored);
}

void WorkerChannel::ReadControl() {
  auto self = shared_from_this();
  control_->async_read_some(asio::buffer(control_buffer_), [this, self](const boost::system::error_code& ec, size_t n) {
    if (ec || !control_->is_open()) return;  // EOF: the worker is gone or going; SIGCHLD follows
    bool ok = reader_.Feed(std::string_view(control_buffer_.data(), n), [this](std::string_view line) {
      // A handler may close the channel (the worker exits on its message): deliver nothing after that.
      if (control_->is_open()) handlers_.on_message(ParseWorkerMessage(line), line);
    });
    if (!ok) {
      // A broken (or hostile) worker: the channel carries small JSON lines only.
      CloseControl();
      handlers_.on_overflow();
      return;
    }
    if (control_->is_open()) ReadControl();
  });
}

void WorkerChannel::ReadOutput(Output* output) {
  auto self = shared_from_this();
  auto buffer = std::make_shared<std::array<char, 8192>>();
  output->stream->async_read_some(
      asio::buffer(*buffer), [this, self, output, buffer](const boost::system::error_code& ec, size_t n) {
        if (ec) {
          if (!output->partial.empty()) Relay(*output, output->partial);
          output->partial.clear();
          boost::system::error_code ignored;
          output->stream->close(ignored);
          return;
        }
        output->partial.append(buffer->data(), n);
        size_t start = 0;
        for (size_t nl; (nl = output->partial.find('\n', start)) != std::string::npos; start = nl + 1) {
          Relay(*output, output->partial.substr(start, nl - start));
        }
        output->partial.erase(0, start);
        if (output->partial.size() > kMaxRelayedLineBytes) {
          Relay(*output, output->partial);
          output->partial.clear();
        }
        ReadOutput(output);
      });
}

void WorkerChannel::Relay(const Output& output, const std::string& line) {
  FILE* stream = output.is_err ? stderr : stdout;
  std::fprintf(stream, "[%d] %s\n", static_cast<int>(pid_), line.c_str());
  std::fflush(stream);
  if (output.is_err) recent_err_.Add(line);
}

}  // namespace esg
