// `bnrt fold` as a user runs it: exit codes (0 / 1 usage / 2 invalid model or I/O), one
// clear line on stderr for each failure, never an output file (nor a temporary) after a
// failure, the input never modified, --dry-run, --keep and --report.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "graph_builder.hpp"

#ifndef BNRT_CLI
#error "BNRT_CLI must name the bnrt binary"
#endif
#ifndef BNRT_EXAMPLE_MODEL
#error "BNRT_EXAMPLE_MODEL must name tools/example/small_cnn.onnx"
#endif

namespace bnrt::testing {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code;
  std::string err;
};

class CliFold : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bnrt_cli_fold_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  CliRun fold(const std::string& arguments) const {
    const std::string err = file("stderr.txt");
    const std::string command = std::string(BNRT_CLI) + " fold " + arguments + " 2> " + err;
    const int status = std::system(command.c_str());
    std::ifstream in(err);
    CliRun run{WIFEXITED(status) ? WEXITSTATUS(status) : -1,
               std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())};
    fs::remove(err);
    return run;
  }

  fs::path dir_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(CliFold, FoldsTheExampleWithReportAndVerification) {
  const std::string before = read_file(BNRT_EXAMPLE_MODEL);
  const CliRun run = fold(std::string(BNRT_EXAMPLE_MODEL) + " -o " + file("out.onnx") +
                          " --verify --report " + file("report.json"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("9 BatchNormalization: 8 folded, 1 kept"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("checker: passed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("verify: passed"), std::string::npos) << run.err;
  EXPECT_EQ(files(), (std::vector<std::string>{"out.onnx", "report.json"}));
  const std::string report = read_file(file("report.json"));
  EXPECT_NE(report.find("\"folded\":8"), std::string::npos) << report;
  EXPECT_NE(report.find("\"node\":\"input_bn\",\"outcome\":\"kept\""), std::string::npos);
  EXPECT_EQ(read_file(BNRT_EXAMPLE_MODEL), before);  // the input is never written
}

TEST_F(CliFold, DryRunAndKeepWriteNothingOrLess) {
  CliRun run = fold(std::string(BNRT_EXAMPLE_MODEL) + " --dry-run");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(files().empty());
  run = fold(std::string(BNRT_EXAMPLE_MODEL) + " --keep stem_bn head_bn -o " + file("out.onnx"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("6 folded, 3 kept"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("kept    stem_bn: listed to keep"), std::string::npos) << run.err;
}

TEST_F(CliFold, UsageErrorsExitWithOne) {
  for (const std::string& arguments :
       {std::string(""), std::string(BNRT_EXAMPLE_MODEL), std::string("a.onnx b.onnx -o c.onnx"),
        std::string(BNRT_EXAMPLE_MODEL) + " -o " + BNRT_EXAMPLE_MODEL,
        std::string(BNRT_EXAMPLE_MODEL) + " -o x.onnx --frobnicate", std::string("--keep")}) {
    const CliRun run = fold(arguments);
    EXPECT_EQ(run.exit_code, 1) << arguments << ": " << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
  EXPECT_TRUE(files().empty());
}

TEST_F(CliFold, BadModelsExitWithTwoAndLeaveNoOutput) {
  // A model whose second BN has a negative variance: folding the first must not be written.
  GraphBuilder b;
  b.input("x", {1, 2, 3, 3});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
  auto p = b.bn_params("bad_bn", 3);
  p[3] = b.initializer("var", {3}, {1, -2, 1});
  b.node("BatchNormalization", {"c", p[0], p[1], p[2], p[3]}, {"y"}, "bad_bn");
  b.output("y", 4u);
  std::string bytes;
  b.model().SerializeToString(&bytes);
  std::ofstream(file("negative_var.onnx"), std::ios::binary) << bytes;
  std::ofstream(file("truncated.onnx"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::ofstream(file("empty.onnx"), std::ios::binary);
  const std::vector<std::string> inputs = files();

  struct Case {
    std::string input, message;
  };
  for (const Case& c :
       {Case{file("missing.onnx"), "cannot open"}, Case{file("empty.onnx"), "is empty"},
        Case{file("truncated.onnx"), "is truncated or not an ONNX model"},
        Case{file("negative_var.onnx"),
             "node 'bad_bn' (BatchNormalization): var[1] = -2 is negative"}}) {
    const CliRun run = fold(c.input + " -o " + file("out.onnx"));
    EXPECT_EQ(run.exit_code, 2) << c.input << ": " << run.err;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_EQ(files(), inputs) << "an output or temporary file was left behind";
  }
  // An unwritable output: exit 2, nothing left.
  const CliRun run =
      fold(std::string(BNRT_EXAMPLE_MODEL) + " --quiet -o " + file("no/such/dir/out.onnx"));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(files(), inputs);
}

}  // namespace
}  // namespace bnrt::testing
