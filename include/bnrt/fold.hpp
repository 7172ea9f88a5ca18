// Folding batch norm into the weights of the layer next to it, so it disappears from inference:
// BN after a Conv / ConvTranspose / Linear (scale each output channel, fold the shift into the
// bias), BN before a Linear or an unpadded Conv (scale each input channel, push the shift
// through the weights into the bias), and BN after BN. All arithmetic in double, rounded once
// to the weight type (fp32, fp16 or bf16); every fold returns a FoldReport of what it did and
// what to watch, and refuses (writing nothing) what it cannot do exactly or safely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bnrt/batch_norm_params.hpp"

namespace bnrt {

/// Storage type of weights and biases.
enum class WeightType { f32, f16, bf16 };

/// "f32", "f16" or "bf16".
std::string_view weight_type_name(WeightType type) noexcept;
/// Bytes per element.
std::size_t weight_type_size(WeightType type) noexcept;

/// A dense weight or bias tensor: `data` holds product(dims) elements of `type` (fp16 and bf16
/// as their raw 16-bit patterns), dims outermost first. Non-owning.
struct ConstWeights {
  const void* data = nullptr;
  WeightType type = WeightType::f32;
  std::vector<std::int64_t> dims;
};
struct MutableWeights {
  void* data = nullptr;
  WeightType type = WeightType::f32;
  std::vector<std::int64_t> dims;
};

/// The layer a batch norm is folded into, described by its weight layout.
enum class LayerKind {
  conv,            ///< weight [OC, IC / groups, k...], 1 to 3 spatial dims
  conv_transpose,  ///< weight [IC, OC / groups, k...]; output channel of w[i, j] in group g is
                   ///< g * OC / groups + j, with g = i / (IC / groups)
  linear,          ///< weight [out, in]: PyTorch Linear, ONNX Gemm with transB = 1
  linear_in_out,   ///< weight [in, out]: ONNX MatMul, Gemm with transB = 0
};

struct Layer {
  LayerKind kind = LayerKind::conv;
  std::int64_t groups = 1;  ///< conv / conv_transpose only
  /// Conv padding per edge (any order); only consulted when folding BN *before* a conv, which
  /// is exact only without padding (the zeros the conv pads with are not normalized).
  std::vector<std::int64_t> pads = {};
};

/// What a fold did, and what to watch. A refused fold writes nothing.
struct FoldReport {
  bool folded = false;
  std::string refusal;  ///< why, when !folded
  WeightType type = WeightType::f32;
  std::size_t channels = 0;  ///< batch-norm channels
  double max_abs_scale = 0;  ///< largest |scale| = |gamma| / sqrt(var + eps)
  std::size_t max_abs_scale_channel = 0;
  /// gamma = 0: the channel's output is the constant beta whatever the input.
  std::vector<std::size_t> dead_channels;
  /// |scale| > kLargeScale: var + eps tiny against gamma; folded weights grow by that much
  /// (the usual cause of fp16 overflow after folding).
  std::vector<std::size_t> large_scale_channels;
  /// Channels with a folded weight or bias too large for `type` (the fold is then refused).
  std::vector<std::size_t> overflow_channels;
  /// Channels with a non-zero folded value below `type`'s smallest normal: stored with reduced
  /// precision, or as 0.
  std::vector<std::size_t> subnormal_channels;
  double max_abs_weight = 0;  ///< largest folded |weight|
  double max_abs_bias = 0;    ///< largest folded |bias|
  /// Every folded value v is the exact (double) result rounded once to `type`, so
  /// |v - exact| <= rounding_bound * |exact| (normal range); a folded layer's output then
  /// differs from layer-then-BN by at most rounding_bound * (sum |w' x| + |b'|) per output, on
  /// top of the arithmetic the layer itself does.
  double rounding_bound = 0;

  /// Scales above this are reported as large (1000: an fp16 weight of 65.5 overflows).
  static constexpr double kLargeScale = 1000.0;

  /// One paragraph for humans: folded or refused (why), largest scale, risks.
  std::string summary() const;
};

/// Folds a batch norm that FOLLOWS the layer (layer -> BN) into it: output channel o gets
///   weight'[..o..] = weight[..o..] * scale[o],   bias'[o] = bias[o] * scale[o] + shift[o]
/// (a missing bias counts as 0: bias' is the shift). `weight_out` must have weight's dims and
/// `bias_out` dims {output channels}; either may alias its input. Their types may differ from
/// the inputs' (e.g. fold fp32 master weights into fp16). Throws bnrt::Error on inconsistent
/// shapes (naming the dim), a channel-count mismatch with `bn`, or null data. Returns a refused
/// report, writing nothing, when a folded value would overflow its type.
FoldReport fold_bn_after(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                         const ChannelAffine& bn, const MutableWeights& weight_out,
                         const MutableWeights& bias_out);

/// Folds a batch norm that PRECEDES the layer (BN -> layer) into it: input channel i gets
///   weight'[..i..] = weight[..i..] * scale[i],   bias'[o] = bias[o] + sum_{i, k} weight[o, i, k] *
///   shift[i]
/// exact for linear layers and for convs without padding (every window sees the shift at every
/// tap). Refused (nothing written) for a padded conv, since the padding zeros bypass the BN,
/// and for conv_transpose, whose border outputs see fewer taps; also on overflow. Shapes,
/// aliasing and errors as fold_bn_after.
FoldReport fold_bn_before(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                          const ChannelAffine& bn, const MutableWeights& weight_out,
                          const MutableWeights& bias_out);

/// Folded weights in buffers of their own. What a runtime re-fold produces: given the
/// *original* weights (only read) and new statistics, a complete new set that a serving app
/// publishes with one atomic pointer swap (see README, "Re-folding while serving").
struct FoldedLayer {
  FoldReport report;                      ///< when !report.folded the buffers are empty
  WeightType type = WeightType::f32;      ///< storage type of weight and bias
  std::vector<std::int64_t> weight_dims;  ///< the original weight's dims
  std::vector<std::int64_t> bias_dims;    ///< {output channels}
  std::vector<std::byte> weight;          ///< raw elements of `type` (fp16 / bf16 as bits)
  std::vector<std::byte> bias;

  ConstWeights weight_view() const { return {weight.data(), type, weight_dims}; }
  ConstWeights bias_view() const { return {bias.data(), type, bias_dims}; }
  /// The weights as floats (exactly, for any type): for fp32 consumers and inspection.
  std::vector<float> weight_floats() const;
  std::vector<float> bias_floats() const;
};

/// fold_bn_after / fold_bn_before into new buffers of `type`; the inputs are only read.
/// Throws as they do; a refused fold returns its report and empty buffers.
FoldedLayer fold_bn_after(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                          const ChannelAffine& bn, WeightType type);
FoldedLayer fold_bn_before(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                           const ChannelAffine& bn, WeightType type);

/// The affine map of `first` followed by `second`, per channel, in double: scale = s1 * s2,
/// shift = t1 * s2 + t2. For BN after BN, or folding a BN into an existing scale / shift.
/// Throws bnrt::Error (channel_mismatch) when the channel counts differ.
ChannelAffine compose(const ChannelAffine& first, const ChannelAffine& second);

}  // namespace bnrt
