// BuildRelease and ConfigSummary (server/master/release.h) on temporary directories.
#include "server/master/release.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace esg {
namespace {

class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/esg-release-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    setenv("PATH", "/usr/bin:/bin", 1);
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void MakeVenv(const std::string& venv) {
    ASSERT_EQ(mkdir(venv.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((venv + "/bin").c_str(), 0755), 0);
    std::ofstream(venv + "/bin/python") << "#!/bin/sh\n";
    chmod((venv + "/bin/python").c_str(), 0755);
  }

  std::string dir_;
};

TEST_F(ReleaseTest, FollowsSymlinksAndUsesTheDefaultPythonWithoutAVenv) {
  ASSERT_EQ(mkdir((dir_ + "/r1").c_str(), 0755), 0);
  ASSERT_EQ(symlink((dir_ + "/r1").c_str(), (dir_ + "/current").c_str()), 0);
  Config base;
  base.app_dir = dir_ + "/current";
  Release release;
  std::string error;
  ASSERT_TRUE(BuildRelease(base, "/usr/bin/python3", &release, &error)) << error;
  EXPECT_EQ(release.config.app_dir, dir_ + "/r1");
  EXPECT_EQ(release.python, "/usr/bin/python3");
  EXPECT_TRUE(release.extra_env.empty());
  EXPECT_EQ(release.describe, "app_dir " + dir_ + "/r1, python /usr/bin/python3");
}

TEST_F(ReleaseTest, TheAppDirsVenvIsPickedUp) {
  MakeVenv(dir_ + "/.venv");
  Config base;
  base.app_dir = dir_;
  Release release;
  std::string error;
  ASSERT_TRUE(BuildRelease(base, "/usr/bin/python3", &release, &error)) << error;
  EXPECT_EQ(release.python, dir_ + "/.venv/bin/python");
  EXPECT_EQ(release.extra_env,
            (std::vector<std::string>{"VIRTUAL_ENV=" + dir_ + "/.venv", "PATH=" + dir_ + "/.venv/bin:/usr/bin:/bin"}));
}

TEST_F(ReleaseTest, EnvFileEntriesComeFirstThenTheVenv) {
  MakeVenv(dir_ + "/env");
  std::ofstream(dir_ + "/.env") << "A=1\nexport B='two'\n";
  Config base;
  base.app_dir = dir_;
  base.venv = dir_ + "/env";
  base.env_file = dir_ + "/.env";
  Release release;
  std::string error;
  ASSERT_TRUE(BuildRelease(base, "python3", &release, &error)) << error;
  EXPECT_EQ(release.python, dir_ + "/env/bin/python");
  ASSERT_EQ(release.extra_env.size(), 4u);
  EXPECT_EQ(release.extra_env[0], "A=1");
  EXPECT_EQ(release.extra_env[1], "B=two");
  EXPECT_EQ(release.extra_env[2], "VIRTUAL_ENV=" + dir_ + "/env");
}

TEST_F(ReleaseTest, ErrorsNameTheOption) {
  Config base;
  Release release;
  std::string error;
  base.app_dir = dir_ + "/missing";
  EXPECT_FALSE(BuildRelease(base, "python3", &release, &error));
  EXPECT_EQ(error, "--app-dir " + dir_ + "/missing: No such file or directory");
  std::ofstream(dir_ + "/file") << "x";
  base.app_dir = dir_ + "/file";
  EXPECT_FALSE(BuildRelease(base, "python3", &release, &error));
  EXPECT_EQ(error, "--app-dir " + dir_ + "/file is not a directory.");
  base.app_dir = dir_;
  base.venv = dir_;
  EXPECT_FALSE(BuildRelease(base, "python3", &release, &error));
  EXPECT_EQ(error, "--venv " + dir_ + " is not a virtualenv (no executable bin/python in it).");
  base.venv.clear();
  base.env_file = dir_ + "/no.env";
  EXPECT_FALSE(BuildRelease(base, "python3", &release, &error));
  EXPECT_NE(error.find(dir_ + "/no.env"), std::string::npos) << error;
}

TEST(ConfigSummaryTest, FixedOrderAndUnsetValues) {
  Release release;
  release.config.app = "main:app";
  release.config.app_dir = "/srv/app";
  release.config.timeout_worker_healthcheck = 30;
  release.config.limit_max_requests = 1000;
  release.config.user = "www";
  release.python = "/usr/bin/python3";
  auto summary = ConfigSummary(release, 4, "debug");
  std::vector<std::pair<std::string, std::string>> expected = {
      {"app", "main:app"},
      {"app_dir", "/srv/app"},
      {"python", "/usr/bin/python3"},
      {"workers", "4"},
      {"reload", "off"},
      {"timeout_worker_healthcheck", "30"},
      {"timeout_graceful_shutdown", "unset"},
      {"limit_max_requests", "1000"},
      {"user", "www"},
      {"log_level", "debug"},
  };
  EXPECT_EQ(summary, expected);
  release.config.user.clear();
  release.config.timeout_graceful_shutdown = 7.9;
  summary = ConfigSummary(release, 1, "info");
  EXPECT_EQ(summary[6].second, "7");
  EXPECT_EQ(summary[8].second, std::to_string(geteuid()));
}

}  // namespace
}  // namespace esg
