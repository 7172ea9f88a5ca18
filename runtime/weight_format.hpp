// Reading and writing weights stored as fp32, fp16 or bf16, with rounding from double done once,
// directly to the target format (never through float first, which could round twice).
#pragma once

#include <cstddef>
#include <cstdint>

#include "bnrt/fold.hpp"

namespace bnrt::detail {

/// The numbers a storage format can hold.
struct FormatLimits {
  int precision;              ///< significand bits, including the implicit one (24, 11, 8)
  int min_exponent;           ///< exponent of the smallest normal (2^min_exponent)
  double max_finite;          ///< largest finite value
  double min_normal;          ///< smallest positive normal
  double unit_roundoff;       ///< 2^-precision: the relative error bound of rounding to nearest
  double overflow_threshold;  ///< smallest magnitude that rounds to infinity (max + half ulp)
};

const FormatLimits& format_limits(WeightType type) noexcept;

/// Element i of `data`, exactly, as double.
double load_weight(const void* data, WeightType type, std::size_t i) noexcept;

/// `value` rounded to nearest-even in `type`, returned as a double (which holds it exactly);
/// +-inf when it does not fit. NaN stays NaN.
double round_to_format(double value, WeightType type) noexcept;

/// Stores `rounded` (a value returned by round_to_format for `type`) as element i of `data`.
void store_weight(void* data, WeightType type, std::size_t i, double rounded) noexcept;

/// Elements [first, first + count) of `data` as floats (exact for every type).
void load_floats(const void* data, WeightType type, std::size_t first, std::size_t count,
                 float* out) noexcept;

/// IEEE half <-> float for values a half holds exactly (all of them, for the first).
float half_to_float(std::uint16_t bits) noexcept;
std::uint16_t float_to_half_exact(float value) noexcept;

}  // namespace bnrt::detail
