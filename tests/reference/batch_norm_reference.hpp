// Naive float64 batch norm, written straight from the definition
//   y = clamp((x - mean) / sqrt(var + eps) * gamma + beta + residual, lo, hi)
// element by element from logical (n, c, spatial) indices. It shares no code with the runtime:
// a bug in bnrt's fold or layout handling cannot hide in here too.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "bnrt/tensor.hpp"

namespace bnrt::reference {

struct BatchNormCase {
  std::vector<double> mean, var, gamma, beta;  // gamma / beta empty: affine = false
  double eps = 1e-5;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};

/// Channel of the element at flat offset `index` in a dense tensor of `layout` and `dims`.
inline std::size_t channel_of(std::size_t index, Layout layout,
                              const std::vector<std::int64_t>& dims) {
  if (layout_is_channels_last(layout)) return index % static_cast<std::size_t>(dims.back());
  std::size_t spatial = 1;
  for (std::size_t axis = 2; axis < dims.size(); ++axis)
    spatial *= static_cast<std::size_t>(dims[axis]);
  return (index / spatial) % static_cast<std::size_t>(dims[1]);
}

struct ReferenceResult {
  std::vector<double> y;
  /// Per element, the size of the terms a float computation of the folded form adds up:
  /// |x * s| + |mean * s| + |beta| + |residual| with s = gamma / sqrt(var + eps). Errors scale
  /// with these, not with |y| (the folded form cancels when mean is large).
  std::vector<double> magnitude;
};

inline ReferenceResult batch_norm(const BatchNormCase& bn, const std::vector<float>& x,
                                  const std::vector<float>* residual, Layout layout,
                                  const std::vector<std::int64_t>& dims) {
  ReferenceResult result;
  result.y.resize(x.size());
  result.magnitude.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = channel_of(i, layout, dims);
    const double gamma = bn.gamma.empty() ? 1.0 : bn.gamma[c];
    const double beta = bn.beta.empty() ? 0.0 : bn.beta[c];
    const double stddev = std::sqrt(bn.var[c] + bn.eps);
    double y = (x[i] - bn.mean[c]) / stddev * gamma + beta;
    double magnitude =
        std::fabs(x[i] * gamma / stddev) + std::fabs(bn.mean[c] * gamma / stddev) + std::fabs(beta);
    if (residual != nullptr) {
      y += (*residual)[i];
      magnitude += std::fabs((*residual)[i]);
    }
    // Written as comparisons so NaN passes through, as in PyTorch's relu / hardtanh.
    if (y < bn.lo) y = bn.lo;
    if (y > bn.hi) y = bn.hi;
    result.y[i] = y;
    result.magnitude[i] = magnitude;
  }
  return result;
}

/// Tolerance for a float result of the folded form, per element. With u = FLT_EPSILON / 2 the
/// unit roundoff, the float computation rounds: scale (u * |x s|), shift (u * |shift|), the
/// product (u * |x s|, none with FMA), the sum (u * (|x s| + |shift|)) and the residual add
/// (u * the whole magnitude): at most 4u = 2 * FLT_EPSILON times the magnitude, to first order.
/// |shift| <= |mean s| + |beta| is covered by the magnitude. The clamp is 1-Lipschitz and adds
/// nothing. The floor covers results that underflow to subnormals.
inline double folded_tolerance(double magnitude) {
  return 2.0 * FLT_EPSILON * magnitude * (1.0 + 1e-6) +
         2.0 * std::numeric_limits<float>::denorm_min();
}

}  // namespace bnrt::reference
