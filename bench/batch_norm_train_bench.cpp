// Google Benchmark binary for batch statistics and training-mode batch norm: the statistics
// pass (exact and fast), the training forward and the eval forward it is compared with, memcpy
// of the same bytes and oneDNN's forward_training (when built), over the ResNet-50 ladder at
// batch 1 and 32, NCHW and NHWC, 1 and 2 threads.
//   build/bench/batch_norm_train_bench --benchmark_filter='train/.*/nhwc/1x'
#include <benchmark/benchmark.h>

#include "batch_norm_cases.hpp"

int main(int argc, char** argv) {
  bnrt::bench::LadderOptions options;
  options.batches = {1, 32};
  options.tiny = false;
  options.ops = {bnrt::bench::Op::eval, bnrt::bench::Op::stats, bnrt::bench::Op::stats_fast,
                 bnrt::bench::Op::train};
  bnrt::bench::register_batch_norm_benchmarks(bnrt::bench::batch_norm_ladder(options),
                                              /*min_time=*/0.2, /*repetitions=*/5);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
