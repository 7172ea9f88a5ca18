// fp32 / fp16 / bf16 storage for folded weights (see weight_format.hpp).
#include "weight_format.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace bnrt::detail {
namespace {

// Overflow thresholds (max + half an ulp): 2^128 - 2^103 (f32), 65520 (f16), 2^128 - 2^119 (bf16).
constexpr FormatLimits kF32{24,
                            -126,
                            3.4028234663852886e38,
                            1.1754943508222875e-38,
                            5.9604644775390625e-08,
                            0x1.ffffffp127};
constexpr FormatLimits kF16{11, -14, 65504.0, 6.103515625e-05, 4.8828125e-04, 65520.0};
constexpr FormatLimits kBF16{8,           -126,      3.3895313892515355e38, 1.1754943508222875e-38,
                             3.90625e-03, 0x1.ffp127};

float bits_to_float(std::uint32_t bits) noexcept {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::uint32_t float_to_bits(float value) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

}  // namespace

const FormatLimits& format_limits(WeightType type) noexcept {
  switch (type) {
    case WeightType::f16:
      return kF16;
    case WeightType::bf16:
      return kBF16;
    case WeightType::f32:
      break;
  }
  return kF32;
}

float half_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  const std::uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Subnormal (or zero): mantissa * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-08f;
  return sign != 0 ? -magnitude : magnitude;
}

std::uint16_t float_to_half_exact(float value) noexcept {
  const std::uint32_t bits = float_to_bits(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const float magnitude = std::fabs(value);
  if (std::isnan(value)) return static_cast<std::uint16_t>(sign | 0x7E00u);
  if (std::isinf(value) || magnitude > 65504.0f) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (magnitude < 6.103515625e-05f) {
    // Subnormal: an integer number of 2^-24 (exact by precondition).
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(magnitude * 16777216.0f));
  }
  const std::uint32_t exponent = ((bits >> 23) & 0xFFu) - 112;
  const std::uint32_t mantissa = (bits >> 13) & 0x3FFu;
  return static_cast<std::uint16_t>(sign | (exponent << 10) | mantissa);
}

double load_weight(const void* data, WeightType type, std::size_t i) noexcept {
  switch (type) {
    case WeightType::f16: {
      std::uint16_t bits;
      std::memcpy(&bits, static_cast<const char*>(data) + i * 2, 2);
      return half_to_float(bits);
    }
    case WeightType::bf16: {
      std::uint16_t bits;
      std::memcpy(&bits, static_cast<const char*>(data) + i * 2, 2);
      return bits_to_float(static_cast<std::uint32_t>(bits) << 16);
    }
    case WeightType::f32:
      break;
  }
  float value;
  std::memcpy(&value, static_cast<const char*>(data) + i * 4, 4);
  return value;
}

void load_floats(const void* data, WeightType type, std::size_t first, std::size_t count,
                 float* out) noexcept {
  if (type == WeightType::f32) {
    std::memcpy(out, static_cast<const float*>(data) + first, count * sizeof(float));
    return;
  }
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = static_cast<float>(load_weight(data, type, first + i));
  }
}

double round_to_format(double value, WeightType type) noexcept {
  if (type == WeightType::f32) return static_cast<float>(value);  // IEEE: one correct rounding
  if (std::isnan(value) || value == 0.0 || std::isinf(value)) return value;
  const FormatLimits& limits = format_limits(type);
  // The spacing of `type`'s values around |value|: 2^(e - precision + 1), where e is the
  // exponent of |value| clamped below at the smallest normal's (subnormals are evenly spaced).
  int exponent = std::ilogb(value);
  if (exponent < limits.min_exponent) exponent = limits.min_exponent;
  const double spacing = std::ldexp(1.0, exponent - limits.precision + 1);
  // value / spacing is exact (a power-of-two scaling); nearbyint rounds half to even.
  const double rounded = std::nearbyint(value / spacing) * spacing;
  if (std::fabs(rounded) > limits.max_finite) {
    return std::copysign(std::numeric_limits<double>::infinity(), value);
  }
  return rounded;
}

void store_weight(void* data, WeightType type, std::size_t i, double rounded) noexcept {
  // `rounded` is representable in `type`, hence in float: the float conversion is exact.
  const float value = static_cast<float>(rounded);
  switch (type) {
    case WeightType::f16: {
      const std::uint16_t bits = float_to_half_exact(value);
      std::memcpy(static_cast<char*>(data) + i * 2, &bits, 2);
      return;
    }
    case WeightType::bf16: {
      const std::uint16_t bits = static_cast<std::uint16_t>(float_to_bits(value) >> 16);
      std::memcpy(static_cast<char*>(data) + i * 2, &bits, 2);
      return;
    }
    case WeightType::f32:
      break;
  }
  std::memcpy(static_cast<char*>(data) + i * 4, &value, 4);
}

}  // namespace bnrt::detail
