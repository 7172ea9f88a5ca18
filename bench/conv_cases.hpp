// The fused-conv benchmark: ResNet-50 and MobileNetV2 layers at batch 1, each measured as bnrt's
// fused ConvBnAct, as the unfused chain (the same conv, then a batch-norm pass, then a ReLU
// pass) and as oneDNN's convolution with the folded weights and a ReLU post-op (when built
// with libdnnl-dev), in the same run on the same input.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "batch_norm_runners.hpp"
#include "bnrt/conv_bn_act.hpp"

namespace bnrt::bench {

enum class ConvImpl { bnrt, unfused, onednn };
std::string_view conv_impl_name(ConvImpl impl);
bool conv_impl_available(ConvImpl impl);

struct ConvLayer {
  std::string name;   ///< "conv3x3", "conv1x1", "conv7x7s2", "dw3x3", ...
  std::string model;  ///< "resnet50" or "mobilenetv2"
  Conv2dDesc desc;
};

/// The layers the issue names, batch 1.
std::vector<ConvLayer> conv_layers();

struct ConvBenchCase {
  ConvLayer layer;
  Layout layout = Layout::nhwc;
  int threads = 1;
  ConvImpl impl = ConvImpl::bnrt;

  double flops() const;  ///< 2 * multiply-adds, batch 1
  /// "64x56x56->64" (input channels x H x W -> output channels)
  std::string shape_text() const;
};

/// Every (layer, layout, threads) group, impls back to back: bnrt, unfused, onednn.
std::vector<ConvBenchCase> conv_cases(const std::vector<int>& threads = {1, 2},
                                      const std::vector<Layout>& layouts = {Layout::nhwc,
                                                                            Layout::nchw});

/// A runner owning its buffers (same seed for every impl of a layer); nullptr when `impl`
/// is not available in this build.
std::unique_ptr<Runner> make_conv_runner(const ConvBenchCase& c);
std::unique_ptr<Runner> make_onednn_conv_runner(const ConvBenchCase& c, const ConvBnAct& folded,
                                                const std::vector<float>& src);

/// "conv/conv3x3/bnrt/nhwc/64x56x56->64/threads:1"
std::string conv_benchmark_name(const ConvBenchCase& c);
void register_conv_benchmarks(const std::vector<ConvBenchCase>& cases, double min_time,
                              int repetitions);

}  // namespace bnrt::bench
