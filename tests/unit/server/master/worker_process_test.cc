// Worker spawning: the interpreter choice, the package root, and what a spawned worker inherits (fds 3..,
// the control socket, $ESG_WORKER_CONFIG, PYTHONPATH), using a shell script in place of Python.
#include "server/master/worker_process.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "server/master/master.h"

namespace esg {
namespace {

class WorkerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/esg-worker-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    unsetenv("ESG_PYTHON");
    unsetenv("ESG_PYTHONPATH");
    unsetenv("VIRTUAL_ENV");
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void Write(const std::string& path, const std::string& text, mode_t mode = 0644) {
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
  }

  std::string dir_;
};

TEST_F(WorkerProcessTest, InterpreterChoice) {
  EXPECT_EQ(ChooseInterpreter(), ESG_DEFAULT_PYTHON_FOR_TEST);
  mkdir((dir_ + "/bin").c_str(), 0755);
  Write(dir_ + "/bin/python", "#!/bin/sh\n", 0755);
  setenv("VIRTUAL_ENV", dir_.c_str(), 1);
  EXPECT_EQ(ChooseInterpreter(), dir_ + "/bin/python");
  setenv("ESG_PYTHON", "/opt/py/bin/python3", 1);
  EXPECT_EQ(ChooseInterpreter(), "/opt/py/bin/python3");
  unsetenv("ESG_PYTHON");
  unsetenv("VIRTUAL_ENV");
}

TEST_F(WorkerProcessTest, InstalledWheelUsesItsOwnInstallationsInterpreter) {
  // <venv>/lib/python3.12/site-packages/esg/bin/esg run directly: <venv>/bin/python3.12, even with another
  // virtualenv active; $ESG_PYTHON still wins.
  std::string venv = dir_ + "/venv";
  std::string exe = venv + "/lib/python3.12/site-packages/esg/bin/esg";
  ASSERT_EQ(std::system(("mkdir -p " + venv + "/bin " + venv + "/lib/python3.12/site-packages/esg/bin").c_str()), 0);
  Write(exe, "", 0755);
  EXPECT_EQ(InstallationInterpreter(exe), "");  // no interpreter in <venv>/bin yet
  std::string version_name;
  EXPECT_EQ(InstallationInterpreter(exe, &version_name), "");
  EXPECT_EQ(version_name, "python3.12");
  EXPECT_EQ(ChooseInterpreterFor(exe), "python3.12");  // the same CPython from $PATH, not the build's
  Write(venv + "/bin/python", "#!/bin/sh\n", 0755);
  EXPECT_EQ(ChooseInterpreterFor(exe), venv + "/bin/python");
  Write(venv + "/bin/python3.12", "#!/bin/sh\n", 0755);
  EXPECT_EQ(InstallationInterpreter(exe), venv + "/bin/python3.12");
  mkdir((dir_ + "/other").c_str(), 0755);
  mkdir((dir_ + "/other/bin").c_str(), 0755);
  Write(dir_ + "/other/bin/python", "#!/bin/sh\n", 0755);
  setenv("VIRTUAL_ENV", (dir_ + "/other").c_str(), 1);
  EXPECT_EQ(ChooseInterpreterFor(exe), venv + "/bin/python3.12");
  EXPECT_EQ(ChooseInterpreterFor(dir_ + "/bazel-bin/server/master/esg"), dir_ + "/other/bin/python");
  setenv("ESG_PYTHON", "/opt/py/bin/python3", 1);
  EXPECT_EQ(ChooseInterpreterFor(exe), "/opt/py/bin/python3");
  unsetenv("ESG_PYTHON");
  unsetenv("VIRTUAL_ENV");
  // Only that layout counts: a different shape, or a directory that is not python3*, is not an installation.
  EXPECT_EQ(InstallationInterpreter(venv + "/lib/python3.12/site-packages/esg/esg"), "");
  EXPECT_EQ(InstallationInterpreter(venv + "/lib/ruby/site-packages/esg/bin/esg"), "");
  EXPECT_EQ(InstallationInterpreter("/esg/bin/esg"), "");
  EXPECT_EQ(InstallationInterpreter(""), "");
  EXPECT_EQ(ChooseInterpreterFor(""), ESG_DEFAULT_PYTHON_FOR_TEST);
}

TEST_F(WorkerProcessTest, PackageRoot) {
  std::string root = dir_ + "/runfiles/esg/server/python";
  ASSERT_EQ(std::system(("mkdir -p " + root + "/esg").c_str()), 0);
  Write(root + "/esg/__init__.py", "");
  EXPECT_EQ(FindPackageRoot({dir_ + "/missing", root}), root);
  EXPECT_EQ(FindPackageRoot({dir_ + "/missing"}), "");
  setenv("ESG_PYTHONPATH", "/forced", 1);
  EXPECT_EQ(FindPackageRoot({root}), "/forced");
  unsetenv("ESG_PYTHONPATH");
  // Candidates always point at <runfiles>/esg/server/python and are absolute.
  for (const std::string& candidate : PackageRootCandidates("bazel-bin/esg")) {
    EXPECT_EQ(candidate[0], '/') << candidate;
    EXPECT_NE(candidate.find(".runfiles/esg/server/python"), std::string::npos) << candidate;
  }
}

TEST_F(WorkerProcessTest, SpawnPassesFdsConfigAndPythonPath) {
  // Stands in for `python -m esg.worker_process`: reports what it inherited, then says ready on fd 4.
  std::string out = dir_ + "/out";
  Write(dir_ + "/fake-python",
        "#!/bin/sh\n"
        "{ echo \"args=$*\"; echo \"pythonpath=$PYTHONPATH\"; echo \"config=$ESG_WORKER_CONFIG\";\n"
        "  readlink /proc/self/fd/3; readlink /proc/self/fd/4; } > " +
            out + "\n"
            "echo '{\"event\":\"ready\"}' >&4\n",
        0755);
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);  // stands in for a listener
  SpawnRequest request;
  request.python = dir_ + "/fake-python";
  request.package_root = "/pkg";
  request.config.app = "m:app";
  request.listeners = {ListenerSpec{pair[0], "unix", "", 0, "/tmp/x.sock"}};
  SpawnedWorker worker;
  std::string error;
  ASSERT_TRUE(SpawnWorker(request, &worker, &error)) << error;
  char buffer[64] = {0};
  ssize_t n = read(worker.control_fd, buffer, sizeof buffer - 1);
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "{\"event\":\"ready\"}\n");
  int status = 0;
  ASSERT_EQ(waitpid(worker.pid, &status, 0), worker.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("args=-m esg.worker_process"), std::string::npos) << text;
  EXPECT_NE(text.find("pythonpath=/pkg"), std::string::npos) << text;
  EXPECT_NE(text.find("\"control_fd\":4"), std::string::npos) << text;
  EXPECT_NE(text.find("\"fd\":3"), std::string::npos) << text;
  EXPECT_NE(text.find("\"python\":\"" + request.python + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("socket:["), std::string::npos) << text;
  close(worker.control_fd);
  close(pair[0]);
  close(pair[1]);
}

TEST_F(WorkerProcessTest, MissingInterpreterIsOneSentence) {
  SpawnRequest request;
  request.python = dir_ + "/no-such-python";
  SpawnedWorker worker;
  std::string error;
  EXPECT_FALSE(SpawnWorker(request, &worker, &error));
  EXPECT_EQ(error,
            "[Errno 2] No such file or directory (cannot start the worker with " + request.python + ")");
}

TEST(RunningMessageTest, Shapes) {
  Config config;
  EXPECT_EQ(RunningMessage(config, ListenerSpec{3, "tcp", "127.0.0.1", 8000, ""}),
            "ESG running on http://127.0.0.1:8000 (Press CTRL+C to quit)");
  EXPECT_EQ(RunningMessage(config, ListenerSpec{3, "tcp", "::", 8000, ""}),
            "ESG running on http://[::]:8000 (Press CTRL+C to quit)");
  config.uds = "/tmp/x.sock";
  EXPECT_EQ(RunningMessage(config, ListenerSpec{3, "unix", "", 0, "/tmp/x.sock"}),
            "ESG running on unix socket /tmp/x.sock (Press CTRL+C to quit)");
  config.fd = 0;
  EXPECT_EQ(RunningMessage(config, ListenerSpec{3, "tcp", "127.0.0.1", 8000, ""}),
            "ESG running on socket ('127.0.0.1', 8000) (Press CTRL+C to quit)");
}

}  // namespace
}  // namespace esg
