// `bnrt bench conv`: the layers of bench/conv_cases (ResNet-50 and MobileNetV2, batch 1), each
// measured as bnrt's fused ConvBnAct, as the unfused chain (conv, then a batch-norm pass, then a
// ReLU pass) and as oneDNN's convolution with a ReLU post-op, round-robin in one process so the
// ratios hold while the machine's speed drifts. The FMA peak is measured by the same binary, for
// "% of peak". PyTorch cannot run in this process; its script (tools/torch_conv_bench.py) prints
// records in the same JSON format, and `--with FILE` adds them to the table as a column.
#include "conv_bench_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <tuple>

#include "bnrt/isa.hpp"
#include "cli_args.hpp"
#include "conv_cases.hpp"
#include "fma_peak.hpp"
#include "interleaved_timer.hpp"
#include "machine_description.hpp"

namespace bnrt::cli {
namespace {

constexpr const char* kUsage = R"(usage: bnrt bench conv [options]

Measures Conv + BatchNorm + ReLU on ResNet-50 and MobileNetV2 layers at batch 1: bnrt's fused
ConvBnAct, the unfused chain (the same conv, a batch-norm pass, a ReLU pass) and oneDNN's
convolution with the folded weights and a ReLU post-op, timed round-robin in one process.

options:
  --layers LIST       layer names to keep (conv3x3, conv1x1, conv3x3s2, conv7x7s2, dw3x3,
                      dw3x3s2; default all)
  --layouts LIST      nhwc,nchw (default both)
  --threads LIST      thread counts (default 1,2)
  --rounds N          timed samples per implementation, interleaved; median reported (default 15)
  --sample-ms MS      length of one sample in milliseconds (default 20)
  --with FILE         add records from FILE (JSON Lines in this command's --json format, e.g.
                      written by tools/torch_conv_bench.py) as a peer column, matched on
                      model, op, layout and threads
  --json              one JSON record per measurement (JSON Lines) instead of the table
BNRT_ISA=sse2|avx2|avx512|scalar caps the instruction set bnrt uses.)";

struct Options {
  std::vector<std::string> layers;
  std::vector<Layout> layouts = {Layout::nhwc, Layout::nchw};
  std::vector<int> threads = {1, 2};
  bench::TimingOptions timing{0.02, 15};
  std::string with_file;
  bool json = false;
};

Options parse_options(const std::vector<std::string>& args) {
  Options options;
  for (ArgWalker walker(args); walker.next();) {
    const std::string& arg = walker.arg();
    if (parse_timing_option(walker, options.timing)) continue;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--layers") {
      options.layers = split_list(walker.value());
    } else if (arg == "--threads") {
      options.threads = parse_int_list("--threads", walker.value(), 1, 1024);
    } else if (arg == "--layouts") {
      options.layouts = parse_layout_list("--layouts", walker.value());
    } else if (arg == "--with") {
      options.with_file = walker.value();
    } else {
      throw UsageError("unknown option '" + arg + "'");
    }
  }
  if (options.threads.empty() || options.layouts.empty()) {
    throw UsageError("--threads and --layouts need at least one value");
  }
  for (const auto& name : options.layers) {
    bool known = false;
    for (const auto& layer : bench::conv_layers()) known = known || layer.name == name;
    if (!known) throw UsageError("--layers: no layer named '" + name + "'");
  }
  return options;
}

/// What identifies one measurement across implementations and processes.
using RowKey = std::tuple<std::string, std::string, std::string, std::string, int>;

RowKey row_key(const std::string& model, const std::string& op, const std::string& shape,
               const std::string& layout, int threads) {
  return {model, op, shape, layout, threads};
}

RowKey row_key(const bench::ConvBenchCase& c) {
  return row_key(c.layer.model, c.layer.name, c.shape_text(), std::string(layout_name(c.layout)),
                 c.threads);
}

/// The text of `"key":VALUE` in one JSON Lines record of our own format (flat object, no
/// escapes in values); nullopt when the key is missing.
std::optional<std::string> json_field(const std::string& line, const std::string& key) {
  const std::string tag = "\"" + key + "\":";
  const auto at = line.find(tag);
  if (at == std::string::npos) return std::nullopt;
  auto begin = at + tag.size();
  if (begin < line.size() && line[begin] == '"') {
    const auto end = line.find('"', begin + 1);
    if (end == std::string::npos) return std::nullopt;
    return line.substr(begin + 1, end - begin - 1);
  }
  const auto end = line.find_first_of(",}", begin);
  if (end == std::string::npos) return std::nullopt;
  return line.substr(begin, end - begin);
}

/// Peer medians from `path`, by implementation name and row.
std::map<std::string, std::map<RowKey, double>> read_peer_records(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--with: cannot read '" + path + "'");
  std::map<std::string, std::map<RowKey, double>> peers;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty() || line[0] != '{') continue;
    const auto model = json_field(line, "model"), op = json_field(line, "op"),
               shape = json_field(line, "shape"), layout = json_field(line, "layout"),
               threads = json_field(line, "threads"), impl = json_field(line, "impl"),
               median = json_field(line, "median_us");
    if (!model || !op || !shape || !layout || !threads || !impl || !median) {
      throw UsageError("--with: " + path + ":" + std::to_string(number) +
                       " is not a conv record (needs model, op, shape, layout, threads, impl, "
                       "median_us)");
    }
    peers[*impl][row_key(*model, *op, *shape, *layout,
                         static_cast<int>(parse_integer("threads", *threads, 1, 1024)))] =
        parse_number("median_us", *median, 0.0);
  }
  return peers;
}

struct Row {
  bench::ConvBenchCase c;  ///< the bnrt case
  std::map<bench::ConvImpl, double> median_us;
  /// Each measured implementation's time over bnrt's, paired by round (see paired_ratio).
  std::map<bench::ConvImpl, double> over_bnrt;
};

std::vector<Row> measure(const Options& options, bool progress) {
  auto cases = bench::conv_cases(options.threads, options.layouts);
  std::vector<Row> rows;
  std::size_t done = 0;
  for (std::size_t begin = 0; begin < cases.size();) {
    std::size_t end = begin;
    std::vector<std::unique_ptr<bench::Runner>> runners;
    while (end < cases.size() && row_key(cases[end]) == row_key(cases[begin])) {
      runners.push_back(nullptr);
      ++end;
    }
    const bench::ConvBenchCase& first = cases[begin];
    const bool wanted = options.layers.empty() ||
                        std::find(options.layers.begin(), options.layers.end(), first.layer.name) !=
                            options.layers.end();
    if (wanted) {
      for (std::size_t k = begin; k < end; ++k) {
        runners[k - begin] = bench::make_conv_runner(cases[k]);
      }
      std::vector<std::vector<double>> samples;
      const auto medians =
          bench::measure_round_robin(runners, first.threads, options.timing, &samples);
      Row row{first, {}, {}};
      const auto bnrt_at = std::find_if(
          cases.begin() + static_cast<long>(begin), cases.begin() + static_cast<long>(end),
          [](const auto& c) { return c.impl == bench::ConvImpl::bnrt; });
      for (std::size_t k = begin; k < end; ++k) {
        if (!medians[k - begin]) continue;
        row.median_us[cases[k].impl] = *medians[k - begin];
        if (bnrt_at == cases.begin() + static_cast<long>(end)) continue;
        const auto ratio = bench::paired_ratio(
            samples[k - begin], samples[static_cast<std::size_t>(bnrt_at - cases.begin()) - begin]);
        if (ratio) row.over_bnrt[cases[k].impl] = *ratio;
      }
      rows.push_back(row);
    }
    done += end - begin;
    begin = end;
    if (progress) std::fprintf(stderr, "\rmeasuring %zu/%zu cases", done, cases.size());
  }
  if (progress) std::fprintf(stderr, "\r%40s\r", "");
  return rows;
}

double gflops(const bench::ConvBenchCase& c, double us) { return c.flops() / (us * 1e3); }

void print_json(const std::vector<Row>& rows, const std::map<int, double>& peak) {
  const std::string isa(isa_name(active_isa()));
  for (const auto& [threads, gf] : peak) {
    std::printf(
        "{\"op\":\"fma_peak\",\"threads\":%d,\"isa\":\"%s\",\"impl\":\"cpu\",\"gflops\":%.2f}\n",
        threads, isa.c_str(), gf);
  }
  for (const Row& row : rows) {
    for (const auto& [impl, us] : row.median_us) {
      const bench::ConvBenchCase& c = row.c;
      const auto paired = row.over_bnrt.find(impl);
      char ratio[48] = "";
      if (impl != bench::ConvImpl::bnrt && paired != row.over_bnrt.end()) {
        std::snprintf(ratio, sizeof ratio, ",\"over_bnrt\":%.4f", paired->second);
      }
      std::printf(
          "{\"op\":\"%s\",\"model\":\"%s\",\"shape\":\"%s\",\"layout\":\"%s\",\"threads\":%d,"
          "\"isa\":\"%s\",\"impl\":\"%s\",\"median_us\":%.3f,\"gflops\":%.2f%s}\n",
          c.layer.name.c_str(), c.layer.model.c_str(), c.shape_text().c_str(),
          std::string(layout_name(c.layout)).c_str(), c.threads,
          impl == bench::ConvImpl::onednn ? "n/a" : isa.c_str(),
          std::string(bench::conv_impl_name(impl)).c_str(), us, gflops(c, us), ratio);
    }
  }
}

std::string cell(std::optional<double> value, const char* format) {
  char text[32];
  if (value)
    std::snprintf(text, sizeof text, format, *value);
  else
    std::snprintf(text, sizeof text, "-");
  return text;
}

void print_table(const std::vector<Row>& rows, const std::map<int, double>& peak,
                 const std::map<std::string, std::map<RowKey, double>>& peers,
                 const Options& options) {
  std::printf(
      "# bnrt bench conv: Conv + BN + ReLU, batch 1, fp32; medians of %d interleaved samples of "
      "%.0f ms\n",
      options.timing.rounds, options.timing.sample_seconds * 1e3);
  std::printf("# machine: %s; bnrt ISA: %s; FMA peak (measured):", describe_machine().c_str(),
              std::string(isa_name(active_isa())).c_str());
  for (const auto& [threads, gf] : peak) std::printf(" %.0f GFLOP/s on %d thread(s);", gf, threads);
  std::printf(
      "\n# %%peak = bnrt GFLOP/s / FMA peak of the same thread count; x_PEER = PEER time / "
      "bnrt time (above 1: bnrt is faster): for unfused and onednn the median over rounds of that "
      "round's pair of samples, for --with peers the ratio of medians\n");
  std::printf("%-10s %-12s %-17s %-5s %3s %9s %7s %6s %10s %9s %9s %8s", "layer", "model", "shape",
              "lay", "thr", "bnrt_us", "GFLOP/s", "%peak", "unfused_us", "x_unfused", "onednn_us",
              "x_onednn");
  for (const auto& [name, records] : peers) {
    std::printf(" %10s %9s", (name + "_us").substr(0, 10).c_str(),
                ("x_" + name).substr(0, 9).c_str());
  }
  std::printf("\n");
  for (const Row& row : rows) {
    const auto impl_us = [&](bench::ConvImpl impl) -> std::optional<double> {
      const auto it = row.median_us.find(impl);
      return it == row.median_us.end() ? std::nullopt : std::optional(it->second);
    };
    const auto us = impl_us(bench::ConvImpl::bnrt);
    if (!us) continue;
    const auto ratio = [&](std::optional<double> other) {
      return other ? std::optional(*other / *us) : std::nullopt;
    };
    const auto paired = [&](bench::ConvImpl impl) -> std::optional<double> {
      const auto it = row.over_bnrt.find(impl);
      return it == row.over_bnrt.end() ? std::nullopt : std::optional(it->second);
    };
    const auto unfused = impl_us(bench::ConvImpl::unfused);
    const auto onednn = impl_us(bench::ConvImpl::onednn);
    const auto peak_it = peak.find(row.c.threads);
    const double gf = gflops(row.c, *us);
    std::printf(
        "%-10s %-12s %-17s %-5s %3d %9s %7s %6s %10s %9s %9s %8s", row.c.layer.name.c_str(),
        row.c.layer.model.c_str(), row.c.shape_text().c_str(),
        std::string(layout_name(row.c.layout)).c_str(), row.c.threads, cell(us, "%.1f").c_str(),
        cell(gf, "%.1f").c_str(),
        cell(peak_it != peak.end() && peak_it->second > 0
                 ? std::optional(100.0 * gf / peak_it->second)
                 : std::nullopt,
             "%.0f")
            .c_str(),
        cell(unfused, "%.1f").c_str(), cell(paired(bench::ConvImpl::unfused), "%.2f").c_str(),
        cell(onednn, "%.1f").c_str(), cell(paired(bench::ConvImpl::onednn), "%.2f").c_str());
    for (const auto& [name, records] : peers) {
      const auto it = records.find(row_key(row.c));
      const auto peer = it == records.end() ? std::nullopt : std::optional(it->second);
      std::printf(" %10s %9s", cell(peer, "%.1f").c_str(), cell(ratio(peer), "%.2f").c_str());
    }
    std::printf("\n");
  }
}

}  // namespace

int conv_bench_command(const std::vector<std::string>& args) {
  const auto parsed =
      parse_or_print_help([&] { return parse_options(args); }, kUsage, "bench conv");
  if (!parsed) return 0;
  const Options& options = *parsed;
  const auto peers = options.with_file.empty() ? std::map<std::string, std::map<RowKey, double>>{}
                                               : read_peer_records(options.with_file);
  std::map<int, double> peak;
  for (const int threads : options.threads) peak[threads] = bench::measure_fma_peak_gflops(threads);
  const auto rows = measure(options, isatty(STDERR_FILENO) != 0);
  if (options.json)
    print_json(rows, peak);
  else
    print_table(rows, peak, peers, options);
  return 0;
}

}  // namespace bnrt::cli
