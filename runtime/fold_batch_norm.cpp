// Validation of batch-norm statistics and their fold into a per-channel affine map, in double.
// This is the one place the fold formula lives; every consumer (the BatchNorm op, and later the
// conv-folding library and the ONNX pass) goes through fold_batch_norm.
#include <cmath>

#include "fold.hpp"

#include "bnrt/batch_norm_params.hpp"
#include "errors.hpp"

namespace bnrt {
namespace {

using detail::fail;
using detail::format_value;
using detail::indexed;

void check_length(std::string_view op, std::string_view name, std::size_t got, std::size_t channels,
                  bool optional) {
  if (got == channels || (optional && got == 0)) return;
  fail(ErrorCode::channel_mismatch, op,
       std::string(name) + " has " + std::to_string(got) + " entries but mean has " +
           std::to_string(channels) + (optional ? " (pass an empty span for affine=false)" : ""));
}

template <class T>
void check_finite(std::string_view op, std::string_view name, std::span<const T> values) {
  for (std::size_t c = 0; c < values.size(); ++c) {
    if (!std::isfinite(values[c])) {
      fail(ErrorCode::invalid_statistics, op,
           indexed(name, c) + " = " + format_value(values[c]) + " is not finite");
    }
  }
}

/// The scale a channel's shift is computed from (see ShiftFrom). A scale past float's range
/// keeps its double value: the op then reports it as an overflow, which an infinite scale in
/// the shift would have turned into a NaN shift first.
double shift_scale(double scale, detail::ShiftFrom shift_from) {
  if (shift_from == detail::ShiftFrom::exact_scale) return scale;
  const float rounded = static_cast<float>(scale);
  return std::isfinite(rounded) ? static_cast<double>(rounded) : scale;
}

}  // namespace

namespace detail {

ChannelAffine fold_statistics(std::string_view op, std::span<const double> mean,
                              std::span<const double> var, std::span<const double> gamma,
                              std::span<const double> beta, double eps, ShiftFrom shift_from) {
  const std::size_t channels = mean.size();
  if (channels == 0) fail(ErrorCode::channel_mismatch, op, "mean is empty (need one per channel)");
  check_length(op, "var", var.size(), channels, false);
  check_length(op, "gamma", gamma.size(), channels, true);
  check_length(op, "beta", beta.size(), channels, true);
  if (!std::isfinite(eps)) {
    fail(ErrorCode::invalid_statistics, op, "eps = " + format_value(eps) + " is not finite");
  }
  check_finite(op, "mean", mean);
  check_finite(op, "gamma", gamma);
  check_finite(op, "beta", beta);

  ChannelAffine affine;
  affine.scale.resize(channels);
  affine.shift.resize(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    if (std::isnan(var[c]) || std::isinf(var[c])) {
      fail(ErrorCode::invalid_statistics, op,
           indexed("var", c) + " = " + format_value(var[c]) + " is not finite");
    }
    if (var[c] < 0) {
      fail(
          ErrorCode::invalid_statistics, op,
          indexed("var", c) + " = " + format_value(var[c]) + " is negative (a variance cannot be)");
    }
    // var + eps in double is exact for float var and typical eps, so the test below rejects
    // exactly the channels whose denominator would be zero or imaginary. We never patch them.
    const double denominator = var[c] + eps;
    if (!(denominator > 0)) {
      fail(ErrorCode::invalid_statistics, op,
           indexed("var", c) + " + eps = " + format_value(var[c]) + " + " + format_value(eps) +
               " = " + format_value(denominator) + " is not positive");
    }
    const double g = gamma.empty() ? 1.0 : gamma[c];
    const double b = beta.empty() ? 0.0 : beta[c];
    // sqrt and division in double carry ~1e-16 relative error, far below the float rounding
    // that follows.
    const double scale = g / std::sqrt(denominator);
    affine.scale[c] = scale;
    affine.shift[c] = b - mean[c] * shift_scale(scale, shift_from);
  }
  return affine;
}

ChannelAffine fold_params(const BatchNormParams& params, std::string_view op,
                          ShiftFrom shift_from) {
  // Statistics arrive as float and widen exactly; the fold itself is in double.
  return fold_statistics(op, widen(params.mean), widen(params.var), widen(params.gamma),
                         widen(params.beta), params.eps, shift_from);
}

}  // namespace detail

ChannelAffine fold_batch_norm(const BatchNormParams& params, std::string_view op) {
  return detail::fold_params(params, op, detail::ShiftFrom::exact_scale);
}

}  // namespace bnrt
