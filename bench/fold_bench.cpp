// Google Benchmark: folding every batch norm of a ResNet-50-sized set of weights (all 53
// conv + BN pairs, 23.5M weights) into new weight and bias buffers, on one thread, fp32 and
// into fp16, with memcpy of the same weights as the floor. The target is under 100 ms for the
// whole model.
//   build/bench/fold_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "bnrt/fold.hpp"
#include "shapes.hpp"

namespace {

struct FoldSet {
  struct Conv {
    bnrt::bench::ConvWeightsShape shape;
    std::vector<float> weight, bias;
    std::vector<std::uint16_t> weight_16, bias_16;
    std::vector<float> weight_out, bias_out;
    bnrt::ChannelAffine bn;
  };
  std::vector<Conv> convs;
  std::int64_t weights = 0;

  FoldSet() {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
    for (const auto& shape : bnrt::bench::resnet50_convs()) {
      Conv conv;
      conv.shape = shape;
      const auto count = static_cast<std::size_t>(shape.out_channels * shape.in_channels *
                                                  shape.kernel * shape.kernel);
      conv.weight.resize(count);
      for (float& w : conv.weight) w = uniform(rng);
      conv.weight_out.resize(count);
      conv.weight_16.resize(count);
      conv.bias.assign(static_cast<std::size_t>(shape.out_channels), 0.0f);
      conv.bias_out.resize(conv.bias.size());
      conv.bias_16.resize(conv.bias.size());
      std::vector<float> mean(conv.bias.size()), var(conv.bias.size());
      for (std::size_t c = 0; c < mean.size(); ++c) {
        mean[c] = uniform(rng);
        var[c] = 1.0f + uniform(rng);
      }
      conv.bn = bnrt::fold_batch_norm({mean, var});
      weights += static_cast<std::int64_t>(count);
      convs.push_back(std::move(conv));
    }
  }
};

void fold_resnet50(benchmark::State& state, bnrt::WeightType out_type) {
  static FoldSet set;
  for (auto _ : state) {
    for (auto& conv : set.convs) {
      const std::vector<std::int64_t> dims = {conv.shape.out_channels, conv.shape.in_channels,
                                              conv.shape.kernel, conv.shape.kernel};
      const bnrt::ConstWeights weight{conv.weight.data(), bnrt::WeightType::f32, dims};
      const bool f16 = out_type == bnrt::WeightType::f16;
      const bnrt::MutableWeights weight_out{
          f16 ? static_cast<void*>(conv.weight_16.data()) : conv.weight_out.data(), out_type, dims};
      const bnrt::MutableWeights bias_out{
          f16 ? static_cast<void*>(conv.bias_16.data()) : conv.bias_out.data(),
          out_type,
          {conv.shape.out_channels}};
      const bnrt::FoldReport report = bnrt::fold_bn_after({bnrt::LayerKind::conv}, weight, nullptr,
                                                          conv.bn, weight_out, bias_out);
      benchmark::DoNotOptimize(report.folded);
    }
  }
  state.counters["weights"] = static_cast<double>(set.weights);
  state.SetItemsProcessed(state.iterations() * set.weights);
}

/// The floor: memcpy of the same weights into the same output buffers (what any fold must at
/// least read and write).
void copy_resnet50(benchmark::State& state) {
  static FoldSet set;
  for (auto _ : state) {
    for (auto& conv : set.convs) {
      std::memcpy(conv.weight_out.data(), conv.weight.data(), conv.weight.size() * sizeof(float));
      benchmark::ClobberMemory();
    }
  }
  state.counters["weights"] = static_cast<double>(set.weights);
  state.SetItemsProcessed(state.iterations() * set.weights);
}

}  // namespace

BENCHMARK(copy_resnet50)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(fold_resnet50, f32, bnrt::WeightType::f32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(fold_resnet50, f32_to_f16, bnrt::WeightType::f16)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
