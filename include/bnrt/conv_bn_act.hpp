// The fused inference op Conv2d -> BatchNorm -> activation (+ residual add) as one kernel.
// create() folds the batch norm into the convolution's weights and bias (in double, with the
// fold library), packs them once for the kernel it picks for the shape, and sizes all scratch
// memory; run() computes every output element once, applying bias, residual and activation in
// registers before the single store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "bnrt/activation.hpp"
#include "bnrt/batch_norm_params.hpp"
#include "bnrt/isa.hpp"
#include "bnrt/tensor.hpp"

namespace bnrt {

/// A 2-D convolution, PyTorch's Conv2d semantics (cross-correlation, zero padding). The input
/// spatial size is fixed at create so that the op can size its scratch memory; the batch size
/// is free at run time. Weights are [out_channels, in_channels / groups, kernel_h, kernel_w].
struct Conv2dDesc {
  std::int64_t in_channels = 1;
  std::int64_t out_channels = 1;
  std::int64_t input_h = 1, input_w = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  /// Zero padding per edge; PyTorch's padding=p is pad_top = pad_bottom = p (and left/right).
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;

  /// Output spatial size: (input + pads - dilation * (kernel - 1) - 1) / stride + 1.
  std::int64_t output_h() const noexcept {
    return (input_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
  }
  std::int64_t output_w() const noexcept {
    return (input_w + pad_left + pad_right - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
  }
};

/// The activation ending the fused op. `clamp` covers identity, ReLU and ReLU6 (see
/// Activation); leaky ReLU is y < 0 ? y * negative_slope : y; SiLU is y * sigmoid(y).
struct ConvActivation {
  enum class Kind { clamp, leaky_relu, silu };
  Kind kind = Kind::clamp;
  Activation bounds = Activation::identity();  ///< Kind::clamp only
  float negative_slope = 0.01f;                ///< Kind::leaky_relu only (PyTorch's default)

  static constexpr ConvActivation identity() noexcept { return {}; }
  static constexpr ConvActivation relu() noexcept {
    return {Kind::clamp, Activation::relu(), 0.01f};
  }
  static constexpr ConvActivation relu6() noexcept {
    return {Kind::clamp, Activation::relu6(), 0.01f};
  }
  static constexpr ConvActivation clamp(float lo, float hi) noexcept {
    return {Kind::clamp, Activation::clamp(lo, hi), 0.01f};
  }
  static constexpr ConvActivation leaky_relu(float negative_slope = 0.01f) noexcept {
    return {Kind::leaky_relu, Activation::identity(), negative_slope};
  }
  static constexpr ConvActivation silu() noexcept {
    return {Kind::silu, Activation::identity(), 0.01f};
  }
};

/// Name of an activation ("identity", "relu", "relu6", "clamp", "leaky_relu", "silu").
std::string_view conv_activation_name(const ConvActivation& activation) noexcept;

/// How the op computes, chosen per shape at create.
enum class ConvAlgorithm {
  gemm,       ///< packed GEMM over output pixels x output channels: 1x1 convs, and k x k convs
              ///< as an implicit GEMM reading the input through per-tap row pointers
  depthwise,  ///< groups == in == out channels: a direct kernel vectorized over channels
};

/// "gemm" or "depthwise".
std::string_view conv_algorithm_name(ConvAlgorithm algorithm) noexcept;

/// Options fixed at create time.
struct ConvBnActOptions {
  /// Activation layout of src, dst and residual: Layout::nhwc or Layout::nchw. The kernels
  /// work channels-last; NCHW input is transposed into scratch and NCHW output is written
  /// straight from the kernel's tiles, with the epilogue applied on the way.
  Layout layout = Layout::nhwc;
  ConvActivation activation = ConvActivation::identity();
  /// run() then takes a residual tensor of dst's shape, added after the batch norm and before
  /// the activation (ResNet's conv -> bn -> add -> relu).
  bool residual = false;
  /// Upper bound on threads used by one run; 0 means the caller's tbb::task_arena decides.
  int max_threads = 0;
};

namespace detail {
struct ConvBnActState;
struct ConvScratch;
}  // namespace detail

/// Conv2d + optional BatchNorm + activation (+ residual), folded and packed once.
/// The packed weights are immutable and shared by copies; each ConvBnAct object owns its own
/// scratch, so one object runs one call at a time. For concurrent inference use one copy per
/// thread (copies are cheap: they share the weights and allocate only their own scratch).
class ConvBnAct {
 public:
  /// weight: [out, in / groups, kernel_h, kernel_w] fp32; bias: empty or one per output
  /// channel; bn: null for a plain convolution, else the batch norm that follows the conv
  /// (folded in double: w' = w * scale[o], b' = (b - mean) * scale + beta).
  /// Throws bnrt::Error on: non-positive sizes, channels not divisible by groups, a kernel
  /// larger than the padded input, negative padding, layout other than nhwc / nchw, a weight
  /// or bias of the wrong length, bad batch-norm statistics or a BN of the wrong length, a
  /// folded value that overflows float, or a clamp with lo > hi or a NaN bound.
  static ConvBnAct create(const Conv2dDesc& desc, std::span<const float> weight,
                          std::span<const float> bias, const BatchNormParams* bn,
                          const ConvBnActOptions& options = {});

  ConvBnAct(const ConvBnAct& other);
  ConvBnAct& operator=(const ConvBnAct& other);
  ConvBnAct(ConvBnAct&&) noexcept;
  ConvBnAct& operator=(ConvBnAct&&) noexcept;
  ~ConvBnAct();

  /// dst = act(conv(src) folded with BN). src is [N, in, H, W] in the op's layout (dims in
  /// the layout's order), dst [N, out, OH, OW]; any N >= 1. dst must not overlap src.
  /// Throws bnrt::Error on shape / layout / channel mismatch, null data or overlap, and if the
  /// op was created with a residual.
  void run(ConstTensor src, MutableTensor dst);

  /// dst = act(conv(src) folded with BN + residual). residual has dst's shape and layout; dst
  /// may equal residual exactly (accumulate in place) but must not overlap src.
  void run(ConstTensor src, ConstTensor residual, MutableTensor dst);

  const Conv2dDesc& desc() const noexcept;
  ConvAlgorithm algorithm() const noexcept;
  Isa isa() const noexcept;
  Layout layout() const noexcept;
  /// The folded fp32 weights [out, in / groups, kh, kw] and bias [out] the kernel computes
  /// with (before packing).
  std::span<const float> folded_weight() const noexcept;
  std::span<const float> folded_bias() const noexcept;
  /// Multiply-adds per image: out * OH * OW * (in / groups) * kh * kw.
  std::int64_t macs_per_image() const noexcept;

 private:
  explicit ConvBnAct(std::shared_ptr<const detail::ConvBnActState> state);
  void run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst);

  std::shared_ptr<const detail::ConvBnActState> state_;
  std::unique_ptr<detail::ConvScratch> scratch_;
};

}  // namespace bnrt
