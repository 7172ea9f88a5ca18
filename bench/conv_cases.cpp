// Conv benchmark cases, the bnrt and unfused runners, and Google Benchmark registration.
#include "conv_cases.hpp"

#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <random>

#include "bench_buffers.hpp"
#include "bnrt/batch_norm.hpp"
#include "interleaved_timer.hpp"

namespace bnrt::bench {
namespace {

Conv2dDesc conv(std::int64_t in, std::int64_t out, std::int64_t hw, std::int64_t k,
                std::int64_t stride, std::int64_t pad, std::int64_t groups = 1) {
  Conv2dDesc d;
  d.in_channels = in, d.out_channels = out, d.input_h = d.input_w = hw;
  d.kernel_h = d.kernel_w = k, d.stride_h = d.stride_w = stride;
  d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = pad;
  d.groups = groups;
  return d;
}

std::vector<float> random_vector(std::size_t n, float scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

/// Weights, batch-norm statistics and input of one layer, identical for every impl.
struct LayerData {
  std::vector<float> weight, mean, var, gamma, beta, src;
  BatchNormParams bn;  ///< views of the vectors above

  explicit LayerData(const Conv2dDesc& d) {
    const auto oc = static_cast<std::size_t>(d.out_channels);
    const auto k = static_cast<std::size_t>(d.in_channels / d.groups * d.kernel_h * d.kernel_w);
    weight = random_vector(oc * k, 1.0f / std::sqrt(static_cast<float>(k)), 1);
    mean = random_vector(oc, 0.5f, 2);
    var = random_vector(oc, 0.5f, 3);
    for (float& v : var) v = 1.0f + v;
    gamma = random_vector(oc, 1.0f, 4);
    beta = random_vector(oc, 0.5f, 5);
    src = random_vector(static_cast<std::size_t>(d.in_channels * d.input_h * d.input_w), 1.0f, 6);
    bn = {mean, var, gamma, beta, 1e-5};
  }
  LayerData(const LayerData&) = delete;
  LayerData& operator=(const LayerData&) = delete;
};

std::vector<std::int64_t> dims(Layout layout, std::int64_t c, std::int64_t h, std::int64_t w) {
  return layout == Layout::nhwc ? std::vector<std::int64_t>{1, h, w, c}
                                : std::vector<std::int64_t>{1, c, h, w};
}

ConvBnActOptions options_for(Layout layout, ConvActivation activation) {
  ConvBnActOptions o;
  o.layout = layout;
  o.activation = activation;
  return o;
}

AlignedFloats copy_of(const std::vector<float>& v) {
  AlignedFloats out(v.size());
  std::copy(v.begin(), v.end(), out.data());
  return out;
}

/// Input and output tensors of one layer (batch 1) in the case's layout, 64-byte aligned as a
/// framework's allocator gives them (oneDNN's runner allocates its own the same way).
struct LayerTensors {
  AlignedFloats src, dst;
  std::vector<std::int64_t> src_dims, dst_dims;
  Layout layout;

  LayerTensors(const ConvBenchCase& c, const LayerData& data)
      : src(copy_of(data.src)),
        dst(static_cast<std::size_t>(c.layer.desc.out_channels * c.layer.desc.output_h() *
                                     c.layer.desc.output_w())),
        src_dims(
            dims(c.layout, c.layer.desc.in_channels, c.layer.desc.input_h, c.layer.desc.input_w)),
        dst_dims(dims(c.layout, c.layer.desc.out_channels, c.layer.desc.output_h(),
                      c.layer.desc.output_w())),
        layout(c.layout) {}

  ConstTensor input() const { return {src.data(), src_dims, layout}; }
  ConstTensor output_view(const AlignedFloats& v) const { return {v.data(), dst_dims, layout}; }
  MutableTensor output(AlignedFloats& v) const { return {v.data(), dst_dims, layout}; }
};

class FusedRunner final : public Runner {
 public:
  FusedRunner(const ConvBenchCase& c, const LayerData& data)
      : op_(ConvBnAct::create(c.layer.desc, data.weight, {}, &data.bn,
                              options_for(c.layout, ConvActivation::relu()))),
        t_(c, data) {}

  void run() override { op_.run(t_.input(), t_.output(t_.dst)); }

 private:
  ConvBnAct op_;
  LayerTensors t_;
};

/// What a framework without fusion runs: the conv, a batch-norm pass, a ReLU pass.
class UnfusedRunner final : public Runner {
 public:
  UnfusedRunner(const ConvBenchCase& c, const LayerData& data)
      : conv_(ConvBnAct::create(c.layer.desc, data.weight, {}, nullptr,
                                options_for(c.layout, ConvActivation::identity()))),
        bn_(BatchNorm::create(data.bn)),
        relu_(BatchNorm::from_affine(
            {std::vector<double>(static_cast<std::size_t>(c.layer.desc.out_channels), 1.0),
             std::vector<double>(static_cast<std::size_t>(c.layer.desc.out_channels), 0.0)},
            {Activation::relu(), 0, StorePolicy::cached})),
        t_(c, data),
        conv_out_(t_.dst.size()) {}

  void run() override {
    conv_.run(t_.input(), t_.output(conv_out_));
    bn_.run(t_.output_view(conv_out_), t_.output(t_.dst));
    relu_.run(t_.output_view(t_.dst), t_.output(t_.dst));
  }

 private:
  ConvBnAct conv_;
  BatchNorm bn_, relu_;
  LayerTensors t_;
  AlignedFloats conv_out_;
};

}  // namespace

std::string_view conv_impl_name(ConvImpl impl) {
  switch (impl) {
    case ConvImpl::bnrt:
      return "bnrt";
    case ConvImpl::unfused:
      return "unfused";
    case ConvImpl::onednn:
      return "onednn";
  }
  return "?";
}

bool conv_impl_available(ConvImpl impl) { return impl != ConvImpl::onednn || BNRT_HAVE_ONEDNN; }

std::vector<ConvLayer> conv_layers() {
  return {
      {"conv3x3", "resnet50", conv(64, 64, 56, 3, 1, 1)},
      {"conv1x1", "resnet50", conv(256, 64, 56, 1, 1, 0)},
      {"conv3x3", "resnet50", conv(128, 128, 28, 3, 1, 1)},
      {"conv1x1", "resnet50", conv(1024, 256, 14, 1, 1, 0)},
      {"conv3x3s2", "resnet50", conv(256, 256, 28, 3, 2, 1)},
      {"conv7x7s2", "resnet50", conv(3, 64, 224, 7, 2, 3)},
      {"dw3x3", "mobilenetv2", conv(144, 144, 56, 3, 1, 1, 144)},
      {"dw3x3s2", "mobilenetv2", conv(144, 144, 56, 3, 2, 1, 144)},
      {"conv1x1", "mobilenetv2", conv(24, 144, 56, 1, 1, 0)},
  };
}

double ConvBenchCase::flops() const {
  const Conv2dDesc& d = layer.desc;
  return 2.0 * static_cast<double>(d.out_channels) * static_cast<double>(d.output_h()) *
         static_cast<double>(d.output_w()) * static_cast<double>(d.in_channels / d.groups) *
         static_cast<double>(d.kernel_h * d.kernel_w);
}

std::string ConvBenchCase::shape_text() const {
  const Conv2dDesc& d = layer.desc;
  return std::to_string(d.in_channels) + "x" + std::to_string(d.input_h) + "x" +
         std::to_string(d.input_w) + "->" + std::to_string(d.out_channels);
}

std::vector<ConvBenchCase> conv_cases(const std::vector<int>& threads,
                                      const std::vector<Layout>& layouts) {
  std::vector<ConvBenchCase> cases;
  for (const ConvLayer& layer : conv_layers()) {
    for (const Layout layout : layouts) {
      for (const int t : threads) {
        for (const ConvImpl impl : {ConvImpl::bnrt, ConvImpl::unfused, ConvImpl::onednn}) {
          if (conv_impl_available(impl)) cases.push_back({layer, layout, t, impl});
        }
      }
    }
  }
  return cases;
}

std::unique_ptr<Runner> make_conv_runner(const ConvBenchCase& c) {
  const LayerData data(c.layer.desc);
  switch (c.impl) {
    case ConvImpl::bnrt:
      return std::make_unique<FusedRunner>(c, data);
    case ConvImpl::unfused:
      return std::make_unique<UnfusedRunner>(c, data);
    case ConvImpl::onednn:
      if (!conv_impl_available(ConvImpl::onednn)) return nullptr;
      // oneDNN gets bnrt's folded weights and bias: the same arithmetic, its own kernel.
      return make_onednn_conv_runner(c, ConvBnAct::create(c.layer.desc, data.weight, {}, &data.bn),
                                     data.src);
  }
  return nullptr;
}

#if !BNRT_HAVE_ONEDNN
std::unique_ptr<Runner> make_onednn_conv_runner(const ConvBenchCase&, const ConvBnAct&,
                                                const std::vector<float>&) {
  return nullptr;
}
#endif

std::string conv_benchmark_name(const ConvBenchCase& c) {
  return "conv/" + c.layer.name + "/" + std::string(conv_impl_name(c.impl)) + "/" +
         std::string(layout_name(c.layout)) + "/" + c.shape_text() +
         "/threads:" + std::to_string(c.threads);
}

void register_conv_benchmarks(const std::vector<ConvBenchCase>& cases, double min_time,
                              int repetitions) {
  for (const ConvBenchCase& c : cases) settle_task_threshold(c.threads);
  for (const ConvBenchCase& c : cases) {
    benchmark::RegisterBenchmark(conv_benchmark_name(c).c_str(),
                                 [c](benchmark::State& state) {
                                   auto runner = make_conv_runner(c);
                                   tbb::task_arena arena(c.threads);
                                   arena.execute([&] {
                                     runner->run();
                                     for (auto _ : state) runner->run();
                                   });
                                   runner->settle();
                                   state.counters["GFLOP/s"] = benchmark::Counter(
                                       c.flops(), benchmark::Counter::kIsIterationInvariantRate);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(min_time)
        ->Repetitions(repetitions);
  }
}

}  // namespace bnrt::bench
