// WorkerChannel (server/master/worker_channel.h) over a real socketpair and pipes on an io_context, and the
// bounds of RecentLines.
#include "server/master/worker_channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace esg {
namespace {

TEST(RecentLinesTest, KeepsTheLastLinesWithinTheBounds) {
  RecentLines recent;
  for (int i = 0; i < 100; ++i) recent.Add("line " + std::to_string(i));
  EXPECT_EQ(recent.lines(), RecentLines::kLines);
  std::string joined = recent.Joined();
  EXPECT_EQ(joined.find("line 39\n"), std::string::npos);
  EXPECT_EQ(joined.substr(0, 8), "line 40\n");
  EXPECT_EQ(joined.substr(joined.size() - 8), "line 99\n");
}

TEST(RecentLinesTest, LongLinesAreCutAndTheBytesBounded) {
  RecentLines recent;
  for (int i = 0; i < 20; ++i) recent.Add(std::string(100000, 'x'));
  EXPECT_LE(recent.bytes(), RecentLines::kBytes);
  EXPECT_EQ(recent.Joined().substr(RecentLines::kLineBytes, 4), "...\n");
  EXPECT_EQ(recent.lines(), RecentLines::kBytes / (RecentLines::kLineBytes + 3));
}

struct Fds {
  int control[2] = {-1, -1};
  int err[2] = {-1, -1};
  Fds() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
    EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
  }
};

TEST(WorkerChannelTest, DeliversParsedMessagesAndKeepsStderr) {
  boost::asio::io_context io;
  Fds fds;
  std::vector<WorkerMessage::Kind> kinds;
  WorkerChannel::Handlers handlers;
  handlers.on_message = [&kinds](const WorkerMessage& m, std::string_view) { kinds.push_back(m.kind); };
  handlers.on_overflow = [] { ADD_FAILURE(); };
  auto channel = WorkerChannel::Open(io, 4242, fds.control[0], -1, fds.err[0], std::move(handlers));
  std::string events = "{\"event\": \"ready\"}\nnot json\n{\"event\": \"heartbeat\", \"requests\": 1}\n";
  ASSERT_EQ(write(fds.control[1], events.data(), events.size()), static_cast<ssize_t>(events.size()));
  std::string err = "Traceback\nboom";
  ASSERT_EQ(write(fds.err[1], err.data(), err.size()), static_cast<ssize_t>(err.size()));
  close(fds.err[1]);
  for (int i = 0; i < 100 && (kinds.size() < 3 || channel->RecentOutput().empty()); ++i) io.run_one();
  EXPECT_EQ(kinds, (std::vector<WorkerMessage::Kind>{WorkerMessage::Kind::kReady, WorkerMessage::Kind::kMalformed,
                                                      WorkerMessage::Kind::kHeartbeat}));
  for (int i = 0; i < 100 && channel->RecentOutput() != "Traceback\nboom\n"; ++i) io.run_one();
  EXPECT_EQ(channel->RecentOutput(), "Traceback\nboom\n");

  channel->Send(WorkerCommand::Drain());
  char buffer[64];
  ssize_t n = read(fds.control[1], buffer, sizeof buffer);
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "{\"cmd\": \"drain\"}\n");
  channel->CloseControl();
  channel->Send(WorkerCommand::Drain());  // dropped, no crash
  close(fds.control[1]);
}

TEST(WorkerChannelTest, AnOverlongLineClosesTheControlSocket) {
  boost::asio::io_context io;
  Fds fds;
  bool overflowed = false;
  WorkerChannel::Handlers handlers;
  handlers.on_message = [](const WorkerMessage&, std::string_view) {};
  handlers.on_overflow = [&overflowed] { overflowed = true; };
  auto channel = WorkerChannel::Open(io, 4242, fds.control[0], -1, -1, std::move(handlers));
  close(fds.err[0]);
  close(fds.err[1]);
  std::string chunk(65536, 'x');
  for (int i = 0; i < 40 && !overflowed; ++i) {
    if (write(fds.control[1], chunk.data(), chunk.size()) < 0) break;
    while (io.poll_one() > 0 && !overflowed) {
    }
  }
  EXPECT_TRUE(overflowed);
  // The master's end is closed: the worker's writes fail.
  EXPECT_EQ(send(fds.control[1], "x", 1, MSG_NOSIGNAL), -1);
  close(fds.control[1]);
}

}  // namespace
}  // namespace esg
