// Golden files for esgctl's output: a command's transcript (its words, stdout, stderr and exit code) is
// compared byte for byte with a file under tests/unit/control/esgctl/golden/, so any change to what a user
// sees fails a test and shows up as a diff of that file in review.
//
// To accept an intended change, regenerate the files and review the diff:
//   ESG_UPDATE_GOLDEN=1 bazel run //tests/unit/control/esgctl:<test>
// (`bazel run` sets BUILD_WORKSPACE_DIRECTORY, where the files are written; under `bazel test` the
// variable is ignored and the files are only read.)
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace esg::esgctl::testing {

// One run of esgctl as text:
//   $ esgctl --json status
//   [stdout]
//   ...
//   [stderr]
//   ...
//   [exit 0]
// followed by an empty line. `temp_dir`, when not empty, is replaced by "$DIR" everywhere so paths of
// temporary sockets do not make the text differ between runs.
inline std::string Transcript(const std::vector<std::string>& args, const std::string& out, const std::string& err,
                              int exit_code, const std::string& temp_dir = "") {
  std::string text = "$ esgctl";
  for (const std::string& a : args) text += " " + a;
  text += "\n[stdout]\n" + out + "[stderr]\n" + err + "[exit " + std::to_string(exit_code) + "]\n\n";
  if (!temp_dir.empty()) {
    for (size_t at = text.find(temp_dir); at != std::string::npos; at = text.find(temp_dir, at)) {
      text.replace(at, temp_dir.size(), "$DIR");
    }
  }
  return text;
}

// Expects `actual` to equal golden/<name> (see the banner for updating).
inline void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string relative = "tests/unit/control/esgctl/golden/" + name;
  const char* update = std::getenv("ESG_UPDATE_GOLDEN");
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (update != nullptr && *update != '\0' && workspace != nullptr) {
    std::ofstream(std::string(workspace) + "/" + relative, std::ios::binary) << actual;
    return;
  }
  std::ifstream in(relative, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file " << relative << "; create it with ESG_UPDATE_GOLDEN=1 bazel run";
  std::ostringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual) << "esgctl's output differs from " << relative
                                    << "; if the change is intended, regenerate it (see golden.h) and review "
                                       "the diff";
}

}  // namespace esg::esgctl::testing
