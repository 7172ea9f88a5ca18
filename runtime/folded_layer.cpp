// Folds into buffers of their own (FoldedLayer, see include/bnrt/fold.hpp): the runtime
// re-fold, which must never touch the weights it reads.
#include <utility>

#include "bnrt/fold.hpp"
#include "weight_format.hpp"

namespace bnrt {
namespace {

using FoldFn = FoldReport (*)(const Layer&, const ConstWeights&, const ConstWeights*,
                              const ChannelAffine&, const MutableWeights&, const MutableWeights&);

FoldedLayer fold_into_new(FoldFn fold, const Layer& layer, const ConstWeights& weight,
                          const ConstWeights* bias, const ChannelAffine& bn, WeightType type) {
  // Sizes read from the weight's dims only to allocate; the fold validates everything and
  // throws before writing on anything malformed (buffers sized 0 here then go unused).
  std::int64_t outputs = 0, count = 1;
  if (weight.dims.size() >= 2) {
    switch (layer.kind) {
      case LayerKind::conv:
      case LayerKind::linear:
        outputs = weight.dims[0];
        break;
      case LayerKind::conv_transpose:
        if (__builtin_mul_overflow(weight.dims[1], layer.groups, &outputs)) outputs = 0;
        break;
      case LayerKind::linear_in_out:
        outputs = weight.dims[1];
        break;
    }
    for (std::int64_t d : weight.dims) {
      if (d <= 0 || __builtin_mul_overflow(count, d, &count)) count = 0;
    }
  }
  FoldedLayer folded;
  folded.type = type;
  folded.weight_dims = weight.dims;
  folded.bias_dims = {outputs};
  const std::size_t size = weight_type_size(type);
  folded.weight.resize(static_cast<std::size_t>(count > 0 ? count : 0) * size);
  folded.bias.resize(static_cast<std::size_t>(outputs > 0 ? outputs : 0) * size);
  folded.report = fold(layer, weight, bias, bn, {folded.weight.data(), type, folded.weight_dims},
                       {folded.bias.data(), type, folded.bias_dims});
  if (!folded.report.folded) {
    folded.weight = {};
    folded.bias = {};
  }
  return folded;
}

std::vector<float> as_floats(const std::vector<std::byte>& bytes, WeightType type) {
  std::vector<float> values(bytes.size() / weight_type_size(type));
  detail::load_floats(bytes.data(), type, 0, values.size(), values.data());
  return values;
}

}  // namespace

FoldedLayer fold_bn_after(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                          const ChannelAffine& bn, WeightType type) {
  return fold_into_new(&fold_bn_after, layer, weight, bias, bn, type);
}

FoldedLayer fold_bn_before(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                           const ChannelAffine& bn, WeightType type) {
  return fold_into_new(&fold_bn_before, layer, weight, bias, bn, type);
}

std::vector<float> FoldedLayer::weight_floats() const { return as_floats(weight, type); }
std::vector<float> FoldedLayer::bias_floats() const { return as_floats(bias, type); }

}  // namespace bnrt
