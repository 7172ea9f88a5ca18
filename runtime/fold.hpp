// The batch-norm fold on double-precision statistics: the one implementation of
// scale = gamma / sqrt(var + eps), shift = beta - mean * scale, with its validation.
// fold_batch_norm (float statistics) and the recalibration accumulator (exact double
// statistics) both go through it.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "bnrt/batch_norm_params.hpp"

namespace bnrt::detail {

/// Which scale the shift is computed from.
/// - exact_scale: shift = beta - mean * scale with scale unrounded, for folds into a layer's
///   weights, which round each weight product separately (fold_batch_norm's contract).
/// - float_scale: shift = beta - mean * s_f with s_f = scale rounded to float, for the tables
///   of the eval and training ops, which compute y = x * s_f + shift_f. Then y is
///   (x - mean) * s_f + beta up to shift's own rounding: the scale's rounding error is
///   multiplied by |x - mean| instead of |x|. With a large common offset (x = 1000 + N(0, 1))
///   that error is as large as the shift's rounding, so this halves the worst output error
///   (2.5e-5 -> 1.4e-5 relative to max |y| in a float64 simulation; PyTorch's float kernels
///   compose their alpha and beta the same way).
enum class ShiftFrom { exact_scale, float_scale };

/// See fold_batch_norm for the formula, the numerical caveat and the errors thrown. Every
/// input is double: statistics may be exact (recalibration) or stored as double (ONNX).
ChannelAffine fold_statistics(std::string_view op, std::span<const double> mean,
                              std::span<const double> var, std::span<const double> gamma,
                              std::span<const double> beta, double eps,
                              ShiftFrom shift_from = ShiftFrom::exact_scale);

/// fold_batch_norm with a choice of ShiftFrom (BatchNorm::create takes float_scale).
ChannelAffine fold_params(const BatchNormParams& params, std::string_view op, ShiftFrom shift_from);

/// Widens float parameters exactly, for fold_statistics.
inline std::vector<double> widen(std::span<const float> values) {
  return {values.begin(), values.end()};
}

}  // namespace bnrt::detail
