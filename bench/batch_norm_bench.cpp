// Google Benchmark binary for eval-mode batch norm: the ResNet-50 ladder at batch 1 and 32,
// tiny maps and (N, C) rows, NCHW and NHWC, 1 and 2 threads, with memcpy of the same bytes,
// the naive loop and oneDNN (when built) measured in the same run.
//   build/bench/batch_norm_bench --benchmark_filter='nhwc/1x'
#include <benchmark/benchmark.h>

#include "batch_norm_cases.hpp"

int main(int argc, char** argv) {
  bnrt::bench::LadderOptions options;
  options.batches = {1, 32};
  bnrt::bench::register_batch_norm_benchmarks(bnrt::bench::batch_norm_ladder(options),
                                              /*min_time=*/0.2, /*repetitions=*/5);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
