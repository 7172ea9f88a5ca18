// `bnrt bench`: measures the batch-norm ladder with Google Benchmark (the same registrations as
// bench/batch_norm_bench) and prints one table row per (shape, layout, threads): bnrt's median
// latency and bandwidth, and its ratio to memcpy of the same bytes, the naive loop and oneDNN,
// all measured in this run. With --json, one JSON record per measurement instead.
#include "bench_command.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string_view>

#include "batch_norm_cases.hpp"
#include "bnrt/isa.hpp"
#include "cli_args.hpp"

namespace bnrt::cli {
namespace {

constexpr const char* kUsage = R"(usage: bnrt bench [options]

Measures eval-mode batch norm over the ResNet-50 shape ladder (plus tiny maps and (N, C) rows):
bnrt vs memcpy of the same bytes vs the naive loop vs oneDNN (when built), medians of repeated
runs, all in one process so the ratios are comparable.

options:
  --batch LIST        batch sizes for the ResNet-50 shapes (default 1; e.g. 1,32)
  --layouts LIST      nchw,nhwc (default both)
  --threads LIST      thread counts (default 1,2)
  --no-tiny           skip the tiny maps and (N, C) rows
  --min-time S        minimum seconds per measurement (default 0.1)
  --repetitions N     repetitions; the median is reported (default 5)
  --json              one JSON record per measurement (JSON Lines) instead of the table
BNRT_ISA=sse2|avx2|avx512|scalar caps the instruction set bnrt uses.)";

struct Options {
  bench::LadderOptions ladder;
  double min_time = 0.1;
  int repetitions = 5;
  bool json = false;
};

Options parse_options(const std::vector<std::string>& args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value");
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      throw UsageError("");
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-tiny") {
      options.ladder.tiny = false;
    } else if (arg == "--batch") {
      options.ladder.batches.clear();
      for (const auto& item : split_list(value())) {
        options.ladder.batches.push_back(parse_integer("--batch", item, 1, 1024));
      }
    } else if (arg == "--threads") {
      options.ladder.threads.clear();
      for (const auto& item : split_list(value())) {
        options.ladder.threads.push_back(
            static_cast<int>(parse_integer("--threads", item, 1, 1024)));
      }
    } else if (arg == "--layouts") {
      options.ladder.layouts.clear();
      for (const auto& item : split_list(value())) {
        if (item == "nchw")
          options.ladder.layouts.push_back(Layout::nchw);
        else if (item == "nhwc")
          options.ladder.layouts.push_back(Layout::nhwc);
        else
          throw UsageError("--layouts takes nchw and/or nhwc, got '" + item + "'");
      }
    } else if (arg == "--min-time") {
      options.min_time = parse_number("--min-time", value(), 0.001);
    } else if (arg == "--repetitions") {
      options.repetitions = static_cast<int>(parse_integer("--repetitions", value(), 1, 100));
    } else {
      throw UsageError("unknown option '" + arg + "'");
    }
  }
  if (options.ladder.batches.empty() || options.ladder.threads.empty() ||
      options.ladder.layouts.empty()) {
    throw UsageError("--batch, --threads and --layouts need at least one value");
  }
  return options;
}

/// Collects the median real time of each benchmark, by name.
class MedianCollector : public benchmark::BenchmarkReporter {
 public:
  MedianCollector(std::size_t total, bool progress) : total_(total), progress_(progress) {}

  bool ReportContext(const Context& context) override {
    cpus_ = context.cpu_info.num_cpus;
    mhz_ = context.cpu_info.cycles_per_second / 1e6;
    for (const auto& cache : context.cpu_info.caches) {
      if (cache.type == "Data" || cache.type == "Unified") {
        caches_ +=
            " L" + std::to_string(cache.level) + " " + std::to_string(cache.size / 1024) + " KiB";
      }
    }
    return true;
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.error_occurred || !(single || median)) continue;
      // Units were set to microseconds at registration.
      medians_[run.run_name.function_name] = run.GetAdjustedRealTime();
      if (progress_) {
        std::fprintf(stderr, "\r[%zu/%zu] %-60s", medians_.size(), total_,
                     run.run_name.function_name.c_str());
        std::fflush(stderr);
      }
    }
  }

  void Finalize() override {
    if (progress_) std::fprintf(stderr, "\r%90s\r", "");
  }

  std::optional<double> median_us(const std::string& name) const {
    const auto it = medians_.find(name);
    if (it == medians_.end()) return std::nullopt;
    return it->second;
  }
  std::string machine() const {
    char text[160];
    std::snprintf(text, sizeof text, "%d CPUs @ %.0f MHz,%s", cpus_, mhz_, caches_.c_str());
    return text;
  }

 private:
  std::size_t total_;
  bool progress_;
  std::map<std::string, double> medians_;
  int cpus_ = 0;
  double mhz_ = 0;
  std::string caches_;
};

double gigabytes_per_second(const bench::BatchNormCase& c, double us) {
  return static_cast<double>(c.bytes()) / (us * 1e3);
}

void print_json(const std::vector<bench::BatchNormCase>& cases, const MedianCollector& results) {
  const std::string isa(isa_name(active_isa()));
  for (const auto& c : cases) {
    const auto us = results.median_us(bench::benchmark_name(c));
    if (!us) continue;
    std::printf(
        "{\"op\":\"batch_norm\",\"shape\":\"%s\",\"layout\":\"%s\",\"threads\":%d,\"isa\":\"%s\","
        "\"impl\":\"%s\",\"median_us\":%.4f,\"gbps\":%.3f}\n",
        c.shape_text().c_str(), std::string(layout_name(c.layout)).c_str(), c.threads,
        c.impl == bench::Impl::bnrt ? isa.c_str() : "n/a",
        std::string(bench::impl_name(c.impl)).c_str(), *us, gigabytes_per_second(c, *us));
  }
}

void print_table(const std::vector<bench::BatchNormCase>& cases, const MedianCollector& results) {
  std::printf("# bnrt bench: eval-mode batch norm, out of place, fp32; median of repeated runs\n");
  std::printf("# machine: %s; bnrt ISA: %s\n", results.machine().c_str(),
              std::string(isa_name(active_isa())).c_str());
  std::printf(
      "# %%memcpy = bnrt bandwidth / memcpy bandwidth of the same bytes (100 = at the roof);\n");
  std::printf("# x naive, x onednn = their time / bnrt time (above 1: bnrt is faster)\n");
  std::printf("%-16s %-6s %3s %11s %8s %11s %8s %8s %11s %8s %11s %8s\n", "shape", "layout", "thr",
              "bnrt_us", "GB/s", "memcpy_us", "GB/s", "%memcpy", "naive_us", "x_naive", "onednn_us",
              "x_onednn");
  for (const auto& c : cases) {
    if (c.impl != bench::Impl::bnrt) continue;
    const auto us = results.median_us(bench::benchmark_name(c));
    if (!us) continue;
    auto peer = [&](bench::Impl impl) {
      bench::BatchNormCase other = c;
      other.impl = impl;
      return results.median_us(bench::benchmark_name(other));
    };
    const auto copy = peer(bench::Impl::memcpy);
    const auto naive = peer(bench::Impl::naive);
    const auto onednn = peer(bench::Impl::onednn);
    auto cell = [](std::optional<double> v, const char* format) {
      char text[32];
      if (v)
        std::snprintf(text, sizeof text, format, *v);
      else
        std::snprintf(text, sizeof text, "-");
      return std::string(text);
    };
    std::printf(
        "%-16s %-6s %3d %11s %8s %11s %8s %8s %11s %8s %11s %8s\n", c.shape_text().c_str(),
        std::string(layout_name(c.layout)).c_str(), c.threads, cell(us, "%.2f").c_str(),
        cell(gigabytes_per_second(c, *us), "%.1f").c_str(), cell(copy, "%.2f").c_str(),
        cell(copy ? std::optional(gigabytes_per_second(c, *copy)) : std::nullopt, "%.1f").c_str(),
        cell(copy ? std::optional(100.0 * *copy / *us) : std::nullopt, "%.0f").c_str(),
        cell(naive, "%.2f").c_str(),
        cell(naive ? std::optional(*naive / *us) : std::nullopt, "%.2f").c_str(),
        cell(onednn, "%.2f").c_str(),
        cell(onednn ? std::optional(*onednn / *us) : std::nullopt, "%.2f").c_str());
  }
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  Options options;
  try {
    options = parse_options(args);
  } catch (const UsageError& e) {
    if (std::string_view(e.what()).empty()) {
      std::puts(kUsage);
      return 0;
    }
    throw UsageError(std::string(e.what()) + "\n" + kUsage);
  }
  const auto cases = bench::batch_norm_ladder(options.ladder);
  bench::register_batch_norm_benchmarks(cases, options.min_time, options.repetitions);
  // Google Benchmark wants argv; ours are parsed already, so give it only a program name.
  char program[] = "bnrt-bench";
  char* argv[] = {program, nullptr};
  int argc = 1;
  benchmark::Initialize(&argc, argv);
  MedianCollector results(cases.size(), isatty(STDERR_FILENO) != 0);
  benchmark::RunSpecifiedBenchmarks(&results);
  benchmark::Shutdown();
  if (options.json) {
    print_json(cases, results);
  } else {
    print_table(cases, results);
  }
  return 0;
}

}  // namespace bnrt::cli
