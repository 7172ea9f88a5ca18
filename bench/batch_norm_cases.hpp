// The batch-norm benchmark ladder as Google Benchmark registrations, shared by the benchmark
// binary (bench/batch_norm_bench) and the `bnrt bench` table.
#pragma once

#include <string>
#include <vector>

#include "batch_norm_runners.hpp"

namespace bnrt::bench {

struct LadderOptions {
  std::vector<std::int64_t> batches{1};
  std::vector<Layout> layouts{Layout::nchw, Layout::nhwc};
  std::vector<int> threads{1, 2};
  bool resnet50 = true;  ///< the ResNet-50 shapes at each batch size
  bool tiny = true;      ///< tiny feature maps (batch 1) and (N, C) row shapes
  /// Shapes given by the user instead of the ladder: (N, C, spatial...) in PyTorch's order,
  /// 2 to 5 dims, each measured in the channels-first and / or channels-last layout of its
  /// rank (as `layouts` asks for nchw / nhwc; (N, C) has only the one).
  std::vector<std::vector<std::int64_t>> shapes;
  /// Ops measured per shape: eval alone (the default table), or eval, stats and train (the
  /// training table: the eval time is what the training forward is compared with).
  std::vector<Op> ops{Op::eval};
};

/// Every case of the ladder, grouped per (shape, layout, threads): memcpy, then for each op
/// bnrt, the naive loop (eval, 1 thread) and oneDNN (when available), so peers are measured
/// back to back on the same buffers.
std::vector<BatchNormCase> batch_norm_ladder(const LadderOptions& options);

/// "batch_norm/eval/bnrt/nhwc/1x56x56x64/threads:2"
std::string benchmark_name(const BatchNormCase& c);

/// Registers each case (real time, microseconds) with the given minimum time per run and
/// repetitions; the caller then runs benchmark::RunSpecifiedBenchmarks.
void register_batch_norm_benchmarks(const std::vector<BatchNormCase>& cases, double min_time,
                                    int repetitions);

}  // namespace bnrt::bench
