// Batch-norm statistics and affine parameters, and their fold into a per-channel affine map.
// Eval-mode batch norm y = (x - mean) / sqrt(var + eps) * gamma + beta is, per channel, the
// affine map y = x * scale + shift. Folding computes scale and shift once, in double precision.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace bnrt {

/// Running statistics and affine parameters of one batch-norm layer, as non-owning spans
/// (copied by whatever consumes them). `mean` and `var` have one entry per channel; `gamma`
/// and `beta` are either empty (affine=false: gamma = 1, beta = 0) or one per channel.
/// PyTorch names: mean = running_mean, var = running_var, gamma = weight, beta = bias.
struct BatchNormParams {
  std::span<const float> mean = {};
  std::span<const float> var = {};
  std::span<const float> gamma = {};  ///< empty means all ones
  std::span<const float> beta = {};   ///< empty means all zeros
  double eps = 1e-5;                  ///< PyTorch's and ONNX's default
};

/// The per-channel affine map y = x * scale[c] + shift[c], in double precision.
struct ChannelAffine {
  std::vector<double> scale;
  std::vector<double> shift;

  std::size_t channels() const noexcept { return scale.size(); }
};

/// Validates `params` and folds them:
///   scale[c] = gamma[c] / sqrt(var[c] + eps),  shift[c] = beta[c] - mean[c] * scale[c]
/// computed in double (the inputs are float, so every product and sum is exact to ~1e-16
/// relative before the single final rounding done by whoever stores the result as float).
///
/// Numerical caveat, inherent to every folded batch norm: y = x * scale + shift cancels when
/// |mean| is large against the spread of x, so the float result is accurate relative to
/// |x * scale| + |shift|, not relative to |y|.
///
/// Throws bnrt::Error naming `op` (used as the message prefix, e.g. "batch_norm"), the argument
/// and the index on: empty or differing param lengths (channel_mismatch); negative, NaN or
/// infinite var, var + eps <= 0, or non-finite mean / gamma / beta / eps (invalid_statistics).
ChannelAffine fold_batch_norm(const BatchNormParams& params, std::string_view op = "batch_norm");

}  // namespace bnrt
