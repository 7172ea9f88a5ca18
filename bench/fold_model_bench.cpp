// `bnrt fold` end to end on a ResNet-50-sized ONNX model (53 BatchNormalization, 102 MB of
// fp32 weights): the whole command (load, fold, check, atomic save) as a user runs it, timed
// over several runs (median) with the child's peak memory, plus where the time goes in-process.
//   build/bench/fold_model_bench [runs]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bnrt/onnx.hpp"
#include "resnet50_onnx.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

/// Runs argv, returns (wall seconds, peak resident KiB of the child); exits on failure.
std::pair<double, long> run_child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  const double wall = seconds_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s failed\n", args[0].c_str());
    std::exit(1);
  }
  return {wall, usage.ru_maxrss};
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const fs::path dir =
      fs::temp_directory_path() / ("bnrt_fold_model_bench_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string in = (dir / "resnet50.onnx").string(), out = (dir / "folded.onnx").string();
  {
    const ::onnx::ModelProto model = bnrt::bench::ResNet50Builder(1).build();
    std::ofstream file(in, std::ios::binary);
    model.SerializeToOstream(&file);
  }
  const double model_mb = static_cast<double>(fs::file_size(in)) / 1e6;
  std::printf("model: ResNet-50, %.1f MB, opset 13, 53 Conv + BatchNormalization\n", model_mb);

  // The command as a user runs it.
  std::vector<double> walls;
  long peak_kib = 0;
  for (int r = 0; r < runs; ++r) {
    const auto [wall, rss] = run_child({BNRT_CLI, "fold", in, "-o", out, "--quiet"});
    walls.push_back(wall);
    peak_kib = std::max(peak_kib, rss);
  }
  std::printf(
      "bnrt fold (whole command, %d runs): median %.3f s, min %.3f s; peak RSS %.1f MB = "
      "%.2fx the model\n",
      runs, median(walls), *std::min_element(walls.begin(), walls.end()),
      static_cast<double>(peak_kib) * 1024 / 1e6,
      static_cast<double>(peak_kib) * 1024 / 1e6 / model_mb);

  // Where the time goes, in-process.
  std::vector<double> load, fold, check, save;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    bnrt::onnx::Model model = bnrt::onnx::Model::load(in);
    load.push_back(seconds_since(start));
    start = Clock::now();
    const bnrt::onnx::PassReport report = model.fold_batch_norms();
    fold.push_back(seconds_since(start));
    if (report.folded() != 53) {
      std::fprintf(stderr, "expected 53 folds:\n%s", report.summary().c_str());
      return 1;
    }
    start = Clock::now();
    const bnrt::onnx::CheckResult result = model.check();
    check.push_back(seconds_since(start));
    start = Clock::now();
    model.save(out);
    save.push_back(seconds_since(start));
    if (!result.passed) return 1;
  }
  std::printf("phases (median): load %.3f s, fold %.3f s, check %.3f s, save %.3f s\n",
              median(load), median(fold), median(check), median(save));
  fs::remove_all(dir);
  return 0;
}
