// Google Benchmark binary for the fused conv: ResNet-50 / MobileNetV2 layers at batch 1, NHWC
// and NCHW, 1 and 2 threads; bnrt's fused ConvBnAct, the unfused chain and oneDNN (when built)
// in the same run. The FMA peak is measured first and printed, for "% of peak".
//   build/bench/conv_bench --benchmark_filter='conv3x3/.*/nhwc'
#include <benchmark/benchmark.h>

#include <cstdio>

#include "conv_cases.hpp"
#include "fma_peak.hpp"

int main(int argc, char** argv) {
  std::printf("FMA peak: %.1f GFLOP/s on 1 thread, %.1f on 2\n",
              bnrt::bench::measure_fma_peak_gflops(1), bnrt::bench::measure_fma_peak_gflops(2));
  bnrt::bench::register_conv_benchmarks(bnrt::bench::conv_cases(), /*min_time=*/0.2,
                                        /*repetitions=*/5);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
