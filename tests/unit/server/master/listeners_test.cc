// Listening sockets: TCP port 0, "address in use" errors, UNIX socket stale-replace / live-refuse /
// cleanup, and adopting an inherited --fd.
#include "server/master/listeners.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace esg {
namespace {

// A short private directory under /tmp (sun_path is only 108 bytes; $TEST_TMPDIR can be longer).
class UnixDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/esg-listeners-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  std::string Path(const char* name) const { return dir_ + "/" + name; }

  std::string dir_;
};

bool CanConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

// Leaves a socket file behind with nobody listening (what a crashed server leaves).
void MakeStaleSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  close(fd);
}

ino_t Inode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(TcpListenerTest, PortZeroReportsTheRealPort) {
  BoundSocket listener;
  std::string error;
  ASSERT_TRUE(BindTcp("127.0.0.1", 0, 16, &listener, &error)) << error;
  EXPECT_EQ(listener.spec.kind, "tcp");
  EXPECT_EQ(listener.spec.host, "127.0.0.1");
  EXPECT_GT(listener.spec.port, 0);
  EXPECT_GE(listener.spec.fd, 0);
  int accepting = 0;
  socklen_t length = sizeof accepting;
  getsockopt(listener.spec.fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length);
  EXPECT_EQ(accepting, 1);
  CloseListener(&listener);
  EXPECT_EQ(listener.spec.fd, -1);
}

TEST(TcpListenerTest, LocalhostResolvesToIpv4) {
  BoundSocket listener;
  std::string error;
  ASSERT_TRUE(BindTcp("localhost", 0, 16, &listener, &error)) << error;
  EXPECT_EQ(listener.spec.host, "127.0.0.1");
  CloseListener(&listener);
}

TEST(TcpListenerTest, Ipv6Loopback) {
  BoundSocket listener;
  std::string error;
  if (!BindTcp("::1", 0, 16, &listener, &error)) GTEST_SKIP() << "no IPv6 here: " << error;
  EXPECT_EQ(listener.spec.host, "::1");
  EXPECT_EQ(listener.spec.Url(false), "http://[::1]:" + std::to_string(listener.spec.port));
  CloseListener(&listener);
}

TEST(TcpListenerTest, AddressInUseNamesHostAndPort) {
  BoundSocket first;
  std::string error;
  ASSERT_TRUE(BindTcp("127.0.0.1", 0, 16, &first, &error)) << error;
  BoundSocket second;
  EXPECT_FALSE(BindTcp("127.0.0.1", first.spec.port, 16, &second, &error));
  EXPECT_EQ(error, "[Errno 98] Address already in use (cannot bind to 127.0.0.1:" +
                       std::to_string(first.spec.port) + ")");
  CloseListener(&first);
}

TEST(TcpListenerTest, UnknownHost) {
  BoundSocket listener;
  std::string error;
  EXPECT_FALSE(BindTcp("no-such-host.invalid", 0, 16, &listener, &error));
  EXPECT_NE(error.find("no-such-host.invalid"), std::string::npos) << error;
  EXPECT_EQ(error.rfind("[Errno ", 0), 0u) << error;
}

TEST_F(UnixDir, FreshSocketIsWorldConnectableAndRemovedOnClose) {
  std::string path = Path("esg.sock");
  BoundSocket listener;
  std::string error;
  ASSERT_TRUE(BindUnix(path, 16, &listener, &error)) << error;
  EXPECT_EQ(listener.spec.kind, "unix");
  EXPECT_EQ(listener.spec.path, path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  EXPECT_TRUE(CanConnectUnix(path));
  CloseListener(&listener);
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST_F(UnixDir, StaleSocketIsReplaced) {
  std::string path = Path("stale.sock");
  MakeStaleSocket(path);
  ino_t stale = Inode(path);
  ASSERT_NE(stale, 0u);
  EXPECT_FALSE(CanConnectUnix(path));
  BoundSocket listener;
  std::string error;
  ASSERT_TRUE(BindUnix(path, 16, &listener, &error)) << error;
  EXPECT_NE(Inode(path), stale);
  EXPECT_TRUE(CanConnectUnix(path));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  CloseListener(&listener);
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST_F(UnixDir, LiveSocketIsRefusedAndLeftAlone) {
  std::string path = Path("live.sock");
  BoundSocket owner;
  std::string error;
  ASSERT_TRUE(BindUnix(path, 16, &owner, &error)) << error;
  ino_t inode = Inode(path);
  BoundSocket intruder;
  EXPECT_FALSE(BindUnix(path, 16, &intruder, &error));
  EXPECT_NE(error.find("already listening"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_EQ(Inode(path), inode);
  EXPECT_TRUE(CanConnectUnix(path));
  CloseListener(&owner);
}

TEST_F(UnixDir, RegularFileIsNotReplaced) {
  std::string path = Path("file.sock");
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fclose(file);
  BoundSocket listener;
  std::string error;
  EXPECT_FALSE(BindUnix(path, 16, &listener, &error));
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(UnixDir, CloseDoesNotRemoveSomeoneElsesSocket) {
  std::string path = Path("moved.sock");
  BoundSocket listener;
  std::string error;
  ASSERT_TRUE(BindUnix(path, 16, &listener, &error)) << error;
  ASSERT_EQ(unlink(path.c_str()), 0);
  MakeStaleSocket(path);  // another server's file now
  CloseListener(&listener);
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
}

TEST(UnixListenerTest, PathTooLong) {
  BoundSocket listener;
  std::string error;
  EXPECT_FALSE(BindUnix("/tmp/" + std::string(200, 'x'), 16, &listener, &error));
  EXPECT_NE(error.find("bytes long"), std::string::npos) << error;
}

TEST(AdoptFdTest, ListeningTcpSocket) {
  BoundSocket bound;
  std::string error;
  ASSERT_TRUE(BindTcp("127.0.0.1", 0, 16, &bound, &error)) << error;
  BoundSocket adopted;
  ASSERT_TRUE(AdoptFd(bound.spec.fd, &adopted, &error)) << error;
  EXPECT_EQ(adopted.spec.fd, bound.spec.fd);
  EXPECT_EQ(adopted.spec.kind, "tcp");
  EXPECT_EQ(adopted.spec.port, bound.spec.port);
  EXPECT_FALSE(adopted.owns_path);
  CloseListener(&bound);
}

TEST_F(UnixDir, AdoptListeningUnixSocket) {
  std::string path = Path("fd.sock");
  BoundSocket bound;
  std::string error;
  ASSERT_TRUE(BindUnix(path, 16, &bound, &error)) << error;
  BoundSocket adopted;
  ASSERT_TRUE(AdoptFd(bound.spec.fd, &adopted, &error)) << error;
  EXPECT_EQ(adopted.spec.kind, "unix");
  EXPECT_EQ(adopted.spec.path, path);
  EXPECT_FALSE(adopted.owns_path);
  CloseListener(&bound);
}

TEST(AdoptFdTest, RejectsWhatIsNotAListeningStreamSocket) {
  std::string error;
  BoundSocket listener;
  int not_listening = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_FALSE(AdoptFd(not_listening, &listener, &error));
  EXPECT_NE(error.find("not a listening socket"), std::string::npos) << error;
  close(not_listening);

  int datagram = socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_FALSE(AdoptFd(datagram, &listener, &error));
  EXPECT_NE(error.find("not a stream"), std::string::npos) << error;
  close(datagram);

  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  EXPECT_FALSE(AdoptFd(pipe_fds[0], &listener, &error));
  EXPECT_EQ(error, "[Errno 88] Socket operation on non-socket (--fd " + std::to_string(pipe_fds[0]) + ")");
  close(pipe_fds[0]);
  close(pipe_fds[1]);

  EXPECT_FALSE(AdoptFd(1000, &listener, &error));
  EXPECT_EQ(error, "[Errno 9] Bad file descriptor (--fd 1000)");
}

TEST(OpenListenerTest, FdWinsOverUdsWhichWinsOverTcp) {
  BoundSocket bound;
  std::string error;
  ASSERT_TRUE(BindTcp("127.0.0.1", 0, 16, &bound, &error)) << error;
  Config config;
  config.fd = bound.spec.fd;
  config.uds = "/nonexistent-dir/x.sock";
  BoundSocket opened;
  ASSERT_TRUE(OpenListener(config, &opened, &error)) << error;
  EXPECT_EQ(opened.spec.port, bound.spec.port);
  config.fd = -1;
  EXPECT_FALSE(OpenListener(config, &opened, &error));  // the UNIX socket directory does not exist
  EXPECT_NE(error.find("/nonexistent-dir/x.sock"), std::string::npos) << error;
  CloseListener(&bound);
}

}  // namespace
}  // namespace esg

namespace esg {
namespace {

TEST_F(UnixDir, AccessSetsModeAndGroupBeforeListening) {
  std::string path = Path("restricted.sock");
  BoundSocket listener;
  std::string error;
  UnixSocketAccess access;
  access.mode = 0640;
  access.gid = static_cast<int>(getegid());
  ASSERT_TRUE(BindUnix(path, 16, &listener, &error, access)) << error;
  EXPECT_TRUE(listener.bound_here);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_gid, getegid());
  CloseListener(&listener);
}

TEST(UnixAccessTest, FromConfig) {
  Config config;
  UnixSocketAccess access;
  std::string error;
  ASSERT_TRUE(UnixAccessFromConfig(config, &access, &error));
  EXPECT_EQ(access.mode, 0666);
  EXPECT_EQ(access.gid, -1);
  config.uds_group = "4242";
  ASSERT_TRUE(UnixAccessFromConfig(config, &access, &error));
  EXPECT_EQ(access.mode, 0660);  // a group alone means owner and group only
  EXPECT_EQ(access.gid, 4242);
  config.uds_mode = 0600;
  ASSERT_TRUE(UnixAccessFromConfig(config, &access, &error));
  EXPECT_EQ(access.mode, 0600);
  config.uds_group = "no-such-group-for-esg";
  EXPECT_FALSE(UnixAccessFromConfig(config, &access, &error));
  EXPECT_EQ(error, "Invalid value for '--uds-group': no such group 'no-such-group-for-esg'.");
}

TEST_F(UnixDir, StopListeningRefusesNewConnectionsOnlyOnOwnSockets) {
  std::string path = Path("stop.sock");
  BoundSocket listener;
  std::string error;
  ASSERT_TRUE(BindUnix(path, 16, &listener, &error)) << error;
  EXPECT_TRUE(CanConnectUnix(path));
  EXPECT_TRUE(StopListening(&listener));
  EXPECT_FALSE(CanConnectUnix(path));
  CloseListener(&listener);

  BoundSocket inherited;
  ASSERT_TRUE(BindTcp("127.0.0.1", 0, 16, &inherited, &error)) << error;
  inherited.bound_here = false;  // as AdoptFd leaves it
  EXPECT_FALSE(StopListening(&inherited));
  int accepting = 0;
  socklen_t length = sizeof accepting;
  ASSERT_EQ(getsockopt(inherited.spec.fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length), 0);
  EXPECT_EQ(accepting, 1);
  CloseListener(&inherited);
}

}  // namespace
}  // namespace esg
