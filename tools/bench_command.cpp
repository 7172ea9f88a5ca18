// `bnrt bench`: measures the batch-norm ladder (the same cases and runners as
// bench/batch_norm_bench) and prints one table row per (shape, layout, threads): bnrt's median
// latency and bandwidth, and its ratio to memcpy of the same bytes, the naive loop and oneDNN.
// Implementations of a row are timed round-robin (interleaved_timer.hpp), so the ratios hold
// even when the machine's speed drifts. With --json, one JSON record per measurement instead.
#include "bench_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string_view>

#include "batch_norm_cases.hpp"
#include "bnrt/isa.hpp"
#include "bnrt/threads.hpp"
#include "cli_args.hpp"
#include "conv_bench_command.hpp"
#include "interleaved_timer.hpp"
#include "machine_description.hpp"

namespace bnrt::cli {
namespace {

constexpr const char* kUsage = R"(usage: bnrt bench [train | conv] [options]

Measures batch norm over the ResNet-50 shape ladder (plus tiny maps and (N, C) rows), all in one
process with peers on the same buffers, so the ratios are comparable:
  bnrt bench        eval mode: bnrt vs memcpy of the same bytes vs the naive loop vs oneDNN
  bnrt bench train  training mode: the statistics pass vs memcpy's read rate, the training
                    forward vs the eval forward, and vs oneDNN's forward_training
  bnrt bench conv   fused Conv + BN + ReLU on ResNet-50 / MobileNetV2 layers (see its --help)

options:
  --batch LIST        batch sizes for the ResNet-50 shapes (default 1; e.g. 1,32)
  --shapes LIST       your shapes instead of the ladder, N x C x spatial in PyTorch's order
                      (2 to 5 dims; e.g. 8x256x14x14,64x1024,4x32x16x56x56), each measured
                      in the channels-first and / or channels-last layout of its rank
  --layouts LIST      nchw,nhwc (default both): channels-first, channels-last
  --threads LIST      thread counts (default 1,2)
  --no-tiny           skip the tiny maps and (N, C) rows
  --rounds N          timed samples per implementation, interleaved; median reported (default 15)
  --sample-ms MS      length of one sample in milliseconds (default 5)
  --json              one JSON record per measurement (JSON Lines) instead of the table
BNRT_ISA=sse2|avx2|avx512|scalar caps the instruction set bnrt uses.)";

struct Options {
  bool training = false;
  bench::LadderOptions ladder;
  bench::TimingOptions timing;
  bool json = false;
};

/// "8x256x14x14": N, C and up to three spatial sizes, each at least 1, at most 2^31 elements in
/// all (the benchmark allocates three such buffers).
std::vector<std::int64_t> parse_shape(const std::string& option, const std::string& text) {
  std::vector<std::int64_t> dims;
  std::size_t begin = 0;
  while (true) {
    const std::size_t x = text.find('x', begin);
    dims.push_back(parse_integer(option, text.substr(begin, x - begin), 1, 1L << 31));
    if (x == std::string::npos) break;
    begin = x + 1;
  }
  std::int64_t elements = 1;
  for (std::int64_t d : dims) elements = elements > (1L << 31) / d ? (1L << 31) + 1 : elements * d;
  if (dims.size() < 2 || dims.size() > 5 || elements > (1L << 31)) {
    throw UsageError(option +
                     " takes N x C x spatial with 2 to 5 dims and at most 2^31 "
                     "elements, got '" +
                     text + "'");
  }
  return dims;
}

Options parse_options(const std::vector<std::string>& args) {
  Options options;
  std::size_t first = 0;
  if (!args.empty() && args[0] == "train") {
    options.training = true;
    options.ladder.ops = {bench::Op::eval, bench::Op::stats, bench::Op::stats_fast,
                          bench::Op::train};
    first = 1;
  }
  bool batch_given = false;
  for (ArgWalker walker(args, first); walker.next();) {
    const std::string& arg = walker.arg();
    if (parse_timing_option(walker, options.timing)) continue;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-tiny") {
      options.ladder.tiny = false;
    } else if (arg == "--batch") {
      batch_given = true;
      options.ladder.batches.clear();
      for (const auto& item : split_list(walker.value())) {
        options.ladder.batches.push_back(parse_integer("--batch", item, 1, 1024));
      }
    } else if (arg == "--shapes") {
      options.ladder.shapes.clear();
      for (const auto& item : split_list(walker.value())) {
        options.ladder.shapes.push_back(parse_shape("--shapes", item));
      }
    } else if (arg == "--threads") {
      options.ladder.threads = parse_int_list("--threads", walker.value(), 1, 1024);
    } else if (arg == "--layouts") {
      options.ladder.layouts = parse_layout_list("--layouts", walker.value());
    } else {
      throw UsageError("unknown option '" + arg + "'");
    }
  }
  if (options.ladder.batches.empty() || options.ladder.threads.empty() ||
      options.ladder.layouts.empty()) {
    throw UsageError("--batch, --threads and --layouts need at least one value");
  }
  if (!options.ladder.shapes.empty() && (batch_given || !options.ladder.tiny)) {
    throw UsageError("--shapes replaces the ladder: it takes no --batch or --no-tiny");
  }
  return options;
}

/// Median microseconds per call and the per-round samples, by benchmark name.
class Results {
 public:
  explicit Results(const std::vector<bench::Measurement>& measurements) {
    for (const auto& m : measurements) by_name_[bench::benchmark_name(m.c)] = &m;
  }
  std::optional<double> median_us(const bench::BatchNormCase& c) const {
    const bench::Measurement* m = find(c);
    return m != nullptr ? std::optional(m->median_us) : std::nullopt;
  }
  const std::vector<double>* samples_us(const bench::BatchNormCase& c) const {
    const bench::Measurement* m = find(c);
    return m != nullptr ? &m->samples_us : nullptr;
  }
  /// scale * time(a) / time(b), the median over rounds of each round's pair of samples (see
  /// paired_ratio): a and b are in one group, timed in the same rounds. The VM's second core
  /// comes and goes within a run; a ratio of medians could pair a fast stretch of one
  /// implementation with a slow stretch of the other (seen as a 2-thread row at 70% of memcpy
  /// in one run and 131% in the next).
  std::optional<double> paired(const bench::BatchNormCase& a, const bench::BatchNormCase& b,
                               double scale = 1.0) const {
    const auto* sa = samples_us(a);
    const auto* sb = samples_us(b);
    if (sa == nullptr || sb == nullptr) return std::nullopt;
    const auto r = bench::paired_ratio(*sa, *sb);
    return r ? std::optional(scale * *r) : std::nullopt;
  }

 private:
  const bench::Measurement* find(const bench::BatchNormCase& c) const {
    const auto it = by_name_.find(bench::benchmark_name(c));
    return it == by_name_.end() ? nullptr : it->second;
  }
  std::map<std::string, const bench::Measurement*> by_name_;  ///< into the caller's vector
};

double gigabytes_per_second(const bench::BatchNormCase& c, double us) {
  return static_cast<double>(c.bytes()) / (us * 1e3);
}

/// The `op` field of a JSON record: one name per measured pass.
const char* json_op_name(bench::Op op) {
  switch (op) {
    case bench::Op::eval:
      return "batch_norm";
    case bench::Op::stats:
      return "batch_stats";
    case bench::Op::stats_fast:
      return "batch_stats_fast";
    case bench::Op::train:
      return "batch_norm_train";
  }
  return "?";
}

void print_json(const std::vector<bench::BatchNormCase>& cases, const Results& results) {
  const std::string isa(isa_name(active_isa()));
  for (const auto& c : cases) {
    const auto us = results.median_us(c);
    if (!us) continue;
    // Every round's sample too, in round order: samples of one group with the same index were
    // taken in the same round, so scripts can pair them as the table does.
    std::string samples;
    for (const double sample : *results.samples_us(c)) {
      char text[32];
      std::snprintf(text, sizeof text, "%s%.4f", samples.empty() ? "" : ",", sample);
      samples += text;
    }
    std::printf(
        "{\"op\":\"%s\",\"shape\":\"%s\",\"layout\":\"%s\",\"threads\":%d,\"isa\":\"%s\","
        "\"impl\":\"%s\",\"median_us\":%.4f,\"gbps\":%.3f,\"samples_us\":[%s]}\n",
        json_op_name(c.op), c.shape_text().c_str(), std::string(layout_name(c.layout)).c_str(),
        c.threads, c.impl == bench::Impl::bnrt ? isa.c_str() : "n/a",
        std::string(bench::impl_name(c.impl)).c_str(), *us, gigabytes_per_second(c, *us),
        samples.c_str());
  }
}

/// A table cell: the value in `format`, or "-" when there is none (a peer not measured).
std::string cell(std::optional<double> value, const char* format) {
  char text[32];
  if (value) {
    std::snprintf(text, sizeof text, format, *value);
  } else {
    std::snprintf(text, sizeof text, "-");
  }
  return text;
}

/// The two header lines every table starts with: what was measured, how, and on what.
void print_header(const char* what, const Options& options) {
  std::printf("# %s, out of place, fp32; medians of %d interleaved samples of %.1f ms\n", what,
              options.timing.rounds, options.timing.sample_seconds * 1e3);
  const char* task_bytes_source = std::getenv("BNRT_TASK_BYTES") != nullptr ? "BNRT_TASK_BYTES"
                                  : min_task_bytes_final()                  ? "measured"
                                                                            : "not measured";
  std::printf("# machine: %s; bnrt ISA: %s; a task per %zu KiB of traffic (%s)\n",
              describe_machine().c_str(), std::string(isa_name(active_isa())).c_str(),
              min_task_bytes() / 1024, task_bytes_source);
  std::printf(
      "# ratios (%%, x_, train/eval) are medians over rounds of the round's two samples, which "
      "are taken milliseconds apart\n");
}

void print_table(const std::vector<bench::BatchNormCase>& cases, const Results& results,
                 const Options& options) {
  print_header("bnrt bench: eval-mode batch norm", options);
  std::printf(
      "# %%memcpy = bnrt bandwidth / memcpy bandwidth of the same bytes (100 = at the roof);\n");
  std::printf("# x naive, x onednn = their time / bnrt time (above 1: bnrt is faster)\n");
  std::printf("%-16s %-6s %3s %11s %8s %11s %8s %8s %11s %8s %11s %8s\n", "shape", "layout", "thr",
              "bnrt_us", "GB/s", "memcpy_us", "GB/s", "%memcpy", "naive_us", "x_naive", "onednn_us",
              "x_onednn");
  for (const auto& c : cases) {
    if (c.impl != bench::Impl::bnrt) continue;
    const auto us = results.median_us(c);
    if (!us) continue;
    auto peer_case = [&](bench::Impl impl) {
      bench::BatchNormCase other = c;
      other.impl = impl;
      return other;
    };
    const auto copy = results.median_us(peer_case(bench::Impl::memcpy));
    const auto naive = results.median_us(peer_case(bench::Impl::naive));
    const auto onednn = results.median_us(peer_case(bench::Impl::onednn));
    // Peer time over bnrt's, paired by round.
    const auto over_bnrt = [&](bench::Impl impl, double scale = 1.0) {
      return results.paired(peer_case(impl), c, scale);
    };
    std::printf(
        "%-16s %-6s %3d %11s %8s %11s %8s %8s %11s %8s %11s %8s\n", c.shape_text().c_str(),
        std::string(layout_name(c.layout)).c_str(), c.threads, cell(us, "%.2f").c_str(),
        cell(gigabytes_per_second(c, *us), "%.1f").c_str(), cell(copy, "%.2f").c_str(),
        cell(copy ? std::optional(gigabytes_per_second(c, *copy)) : std::nullopt, "%.1f").c_str(),
        cell(over_bnrt(bench::Impl::memcpy, 100.0), "%.0f").c_str(), cell(naive, "%.2f").c_str(),
        cell(over_bnrt(bench::Impl::naive), "%.2f").c_str(), cell(onednn, "%.2f").c_str(),
        cell(over_bnrt(bench::Impl::onednn), "%.2f").c_str());
  }
}

/// Training table: one row per bnrt training case, with its group's peers.
void print_training_table(const std::vector<bench::BatchNormCase>& cases, const Results& results,
                          const Options& options) {
  print_header("bnrt bench train: training-mode batch norm", options);
  std::printf(
      "# %%read = memcpy time / statistics-pass time (memcpy reads the same bytes and writes "
      "them too)\n# exact = batch_moments (StatsPrecision::exact, recalibration); fast = the "
      "training forward's pass\n# train/eval = training forward time / eval forward time; "
      "x_onednn = oneDNN forward_training time / bnrt training time\n");
  std::printf("%-16s %-6s %3s %9s %6s %9s %6s %9s %9s %10s %10s %8s\n", "shape", "layout", "thr",
              "exact_us", "%read", "fast_us", "%read", "eval_us", "train_us", "train/eval",
              "onednn_us", "x_onednn");
  for (const auto& c : cases) {
    if (c.impl != bench::Impl::bnrt || c.op != bench::Op::train) continue;
    auto case_of = [&](bench::Impl impl, bench::Op op) {
      bench::BatchNormCase other = c;
      other.impl = impl;
      other.op = op;
      return other;
    };
    const auto train_case = case_of(bench::Impl::bnrt, bench::Op::train);
    const auto stats_case = case_of(bench::Impl::bnrt, bench::Op::stats);
    const auto fast_case = case_of(bench::Impl::bnrt, bench::Op::stats_fast);
    const auto eval_case = case_of(bench::Impl::bnrt, bench::Op::eval);
    const auto copy_case = case_of(bench::Impl::memcpy, bench::Op::eval);
    const auto onednn_case = case_of(bench::Impl::onednn, bench::Op::train);
    const auto train = results.median_us(train_case);
    const auto stats = results.median_us(stats_case);
    const auto fast = results.median_us(fast_case);
    const auto eval = results.median_us(eval_case);
    const auto onednn = results.median_us(onednn_case);
    std::printf("%-16s %-6s %3d %9s %6s %9s %6s %9s %9s %10s %10s %8s\n", c.shape_text().c_str(),
                std::string(layout_name(c.layout)).c_str(), c.threads, cell(stats, "%.2f").c_str(),
                cell(results.paired(copy_case, stats_case, 100.0), "%.0f").c_str(),
                cell(fast, "%.2f").c_str(),
                cell(results.paired(copy_case, fast_case, 100.0), "%.0f").c_str(),
                cell(eval, "%.2f").c_str(), cell(train, "%.2f").c_str(),
                cell(results.paired(train_case, eval_case), "%.2f").c_str(),
                cell(onednn, "%.2f").c_str(),
                cell(results.paired(onednn_case, train_case), "%.2f").c_str());
  }
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "conv") {
    return conv_bench_command({args.begin() + 1, args.end()});
  }
  const auto parsed = parse_or_print_help([&] { return parse_options(args); }, kUsage, "bench");
  if (!parsed) return 0;
  const Options& options = *parsed;
  const auto cases = bench::batch_norm_ladder(options.ladder);
  const bool progress = isatty(STDERR_FILENO) != 0;
  const auto measurements =
      bench::measure_interleaved(cases, options.timing, [&](std::size_t done, std::size_t total) {
        if (progress) std::fprintf(stderr, "\rmeasuring %zu/%zu cases", done, total);
      });
  const Results results(measurements);
  if (progress) std::fprintf(stderr, "\r%40s\r", "");
  if (options.json) {
    print_json(cases, results);
  } else if (options.training) {
    print_training_table(cases, results, options);
  } else {
    print_table(cases, results, options);
  }
  return 0;
}

}  // namespace bnrt::cli
