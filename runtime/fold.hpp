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

/// See fold_batch_norm for the formula, the numerical caveat and the errors thrown. Every
/// input is double: statistics may be exact (recalibration) or stored as double (ONNX).
ChannelAffine fold_statistics(std::string_view op, std::span<const double> mean,
                              std::span<const double> var, std::span<const double> gamma,
                              std::span<const double> beta, double eps);

/// Widens float parameters exactly, for fold_statistics.
inline std::vector<double> widen(std::span<const float> values) {
  return {values.begin(), values.end()};
}

}  // namespace bnrt::detail
