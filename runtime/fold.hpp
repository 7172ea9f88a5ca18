// The batch-norm fold on double-precision statistics: the one implementation of
// scale = gamma / sqrt(var + eps), shift = beta - mean * scale, with its validation.
// fold_batch_norm (float statistics) and the recalibration accumulator (exact double
// statistics) both go through it.
#pragma once

#include <span>
#include <string_view>

#include "bnrt/batch_norm_params.hpp"

namespace bnrt::detail {

/// See fold_batch_norm for the formula, the numerical caveat and the errors thrown.
ChannelAffine fold_statistics(std::string_view op, std::span<const double> mean,
                              std::span<const double> var, std::span<const float> gamma,
                              std::span<const float> beta, double eps);

}  // namespace bnrt::detail
