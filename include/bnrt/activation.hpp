// Activations fused into bnrt's epilogues, expressed as a clamp interval.
// ReLU is [0, +inf), ReLU6 is [0, 6], identity is (-inf, +inf): one description covers them all
// and the kernel picks the cheapest variant (no clamp, lower bound only, or both bounds).
#pragma once

#include <limits>

namespace bnrt {

/// y = min(max(y, lo), hi), applied after the affine transform and the residual add.
/// NaN inputs stay NaN (as in PyTorch's relu / hardtanh), they are never clamped to a bound.
struct Activation {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();

  static constexpr Activation identity() noexcept { return {}; }
  static constexpr Activation relu() noexcept {
    return {0.0f, std::numeric_limits<float>::infinity()};
  }
  static constexpr Activation relu6() noexcept { return {0.0f, 6.0f}; }
  /// Any interval; BatchNorm::create rejects lo > hi and NaN bounds.
  static constexpr Activation clamp(float lo, float hi) noexcept { return {lo, hi}; }

  constexpr bool is_identity() const noexcept {
    return lo == -std::numeric_limits<float>::infinity() &&
           hi == std::numeric_limits<float>::infinity();
  }
};

}  // namespace bnrt
