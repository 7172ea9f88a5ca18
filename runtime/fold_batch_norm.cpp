// Validation of batch-norm statistics and their fold into a per-channel affine map, in double.
// This is the one place the fold formula lives; every consumer (the BatchNorm op, and later the
// conv-folding library and the ONNX pass) goes through fold_batch_norm.
#include <cmath>

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

void check_finite(std::string_view op, std::string_view name, std::span<const float> values) {
  for (std::size_t c = 0; c < values.size(); ++c) {
    if (!std::isfinite(values[c])) {
      fail(ErrorCode::invalid_statistics, op,
           indexed(name, c) + " = " + format_value(values[c]) + " is not finite");
    }
  }
}

}  // namespace

ChannelAffine fold_batch_norm(const BatchNormParams& params, std::string_view op) {
  const std::size_t channels = params.mean.size();
  if (channels == 0) fail(ErrorCode::channel_mismatch, op, "mean is empty (need one per channel)");
  check_length(op, "var", params.var.size(), channels, false);
  check_length(op, "gamma", params.gamma.size(), channels, true);
  check_length(op, "beta", params.beta.size(), channels, true);
  if (!std::isfinite(params.eps)) {
    fail(ErrorCode::invalid_statistics, op, "eps = " + format_value(params.eps) + " is not finite");
  }
  check_finite(op, "mean", params.mean);
  check_finite(op, "gamma", params.gamma);
  check_finite(op, "beta", params.beta);

  ChannelAffine affine;
  affine.scale.resize(channels);
  affine.shift.resize(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    const double var = params.var[c];
    if (std::isnan(var) || std::isinf(var)) {
      fail(ErrorCode::invalid_statistics, op,
           indexed("var", c) + " = " + format_value(var) + " is not finite");
    }
    if (var < 0) {
      fail(ErrorCode::invalid_statistics, op,
           indexed("var", c) + " = " + format_value(var) + " is negative (a variance cannot be)");
    }
    // var + eps in double is exact for float var and typical eps, so the test below rejects
    // exactly the channels whose denominator would be zero or imaginary. We never patch them.
    const double denominator = var + params.eps;
    if (!(denominator > 0)) {
      fail(ErrorCode::invalid_statistics, op,
           indexed("var", c) + " + eps = " + format_value(var) + " + " + format_value(params.eps) +
               " = " + format_value(denominator) + " is not positive");
    }
    const double gamma = params.gamma.empty() ? 1.0 : params.gamma[c];
    const double beta = params.beta.empty() ? 0.0 : params.beta[c];
    // sqrt and division in double carry ~1e-16 relative error, far below the float rounding
    // that follows; computing shift from the unrounded scale keeps the two consistent.
    const double scale = gamma / std::sqrt(denominator);
    affine.scale[c] = scale;
    affine.shift[c] = beta - static_cast<double>(params.mean[c]) * scale;
  }
  return affine;
}

}  // namespace bnrt
