// The fold row loops (fold_row_kernels.hpp), written for the compiler to vectorize with
// whatever -m flags the including unit has: fixed-width lane arrays for reductions (so the
// result does not depend on the vector width), selects instead of branches, and float-to-
// fp16/bf16 rounding in integer arithmetic. Everything here has internal linkage: each ISA's
// unit gets its own copy, and no inline function compiled for AVX-512 can be picked by the
// linker for baseline code.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "fold_row_kernels.hpp"

namespace bnrt::kernels {
namespace {

constexpr std::size_t kFloatLanes = 16;
constexpr std::size_t kDoubleLanes = 8;
constexpr float kFloatMax = std::numeric_limits<float>::max();

/// `value` rounded to odd in float: truncated toward zero, with the last bit set when that
/// lost anything. Rounding the result to nearest-even in a format at least two bits narrower
/// than float (fp16, bf16) equals rounding `value` directly: the set bit keeps a value that
/// is not a tie from looking like one (no double rounding).
inline std::uint32_t float_bits_rounded_to_odd(double value) noexcept {
  const float nearest = static_cast<float>(value);
  const auto bits = std::bit_cast<std::uint32_t>(nearest);
  const double back = nearest;
  const std::uint32_t rounded_away = std::fabs(back) > std::fabs(value) ? 1u : 0u;
  const std::uint32_t inexact = back != value ? 1u : 0u;
  return (bits - rounded_away) | inexact;
}

/// `value` (finite) rounded once to nearest-even fp16 bits; +-inf when it does not fit.
inline std::uint16_t round_to_f16_bits(double value) noexcept {
  const std::uint32_t bits = float_bits_rounded_to_odd(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  // All three candidates are computed and one selected, so loops stay branch-free.
  // Normal range: rebias the exponent (127 -> 15) and round off 13 bits to nearest-even; a
  // carry out of the significand correctly bumps the exponent.
  const std::uint32_t rebiased = magnitude - (112u << 23);
  const std::uint32_t normal = (rebiased + 0xFFFu + ((rebiased >> 13) & 1u)) >> 13;
  // Subnormal range: adding 0.5 puts the value where float's spacing is 2^-24, fp16's
  // subnormal step, so the hardware add rounds to nearest-even.
  const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
  const std::uint32_t subnormal = std::bit_cast<std::uint32_t>(shifted) - 0x3F000000u;
  // 65520 is 65504 + half an ulp, a tie that goes to even: infinity. 2^-14: smallest normal.
  const std::uint32_t half = magnitude >= 0x477FF000u   ? 0x7C00u
                             : magnitude >= 0x38800000u ? normal
                                                        : subnormal;
  return static_cast<std::uint16_t>(sign | half);
}

/// `value` (finite) rounded once to nearest-even bf16 bits; +-inf when it does not fit.
inline std::uint16_t round_to_bf16_bits(double value) noexcept {
  const std::uint32_t bits = float_bits_rounded_to_odd(value);
  return static_cast<std::uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

struct StoreF32 {
  float* out;
  void operator()(std::size_t i, double value) const { out[i] = static_cast<float>(value); }
};
struct StoreF16 {
  std::uint16_t* out;
  void operator()(std::size_t i, double value) const { out[i] = round_to_f16_bits(value); }
};
struct StoreBF16 {
  std::uint16_t* out;
  void operator()(std::size_t i, double value) const { out[i] = round_to_bf16_bits(value); }
};

/// Running extremes of magnitudes, one set per lane. Lane l sees elements l, l + L, ...;
/// the final combine is exact (max and min), so lane count never shows in the result.
template <typename T, std::size_t L>
struct ExtremeLanes {
  T max_abs[L] = {};
  T min_nonzero[L];
  unsigned non_finite[L] = {};
  ExtremeLanes() {
    for (std::size_t l = 0; l < L; ++l) min_nonzero[l] = std::numeric_limits<T>::infinity();
  }
  void see(std::size_t l, T magnitude, float weight) {
    max_abs[l] = magnitude > max_abs[l] ? magnitude : max_abs[l];
    min_nonzero[l] = magnitude != 0 && magnitude < min_nonzero[l] ? magnitude : min_nonzero[l];
    non_finite[l] |= !(std::fabs(weight) <= kFloatMax);  // inf, or NaN (fails every compare)
  }
  RowExtremes result() const {
    RowExtremes row{0, std::numeric_limits<double>::infinity(), true};
    for (std::size_t l = 0; l < L; ++l) {
      row.max_abs = std::max(row.max_abs, static_cast<double>(max_abs[l]));
      row.min_nonzero_abs = std::min(row.min_nonzero_abs, static_cast<double>(min_nonzero[l]));
      row.finite = row.finite && non_finite[l] == 0;
    }
    return row;
  }
};

RowExtremes extremes(const float* w, std::size_t count) noexcept {
  ExtremeLanes<float, kFloatLanes> lanes;
  std::size_t i = 0;
  for (; i + kFloatLanes <= count; i += kFloatLanes) {
    for (std::size_t l = 0; l < kFloatLanes; ++l) lanes.see(l, std::fabs(w[i + l]), w[i + l]);
  }
  for (std::size_t l = 0; i < count; ++i, ++l) lanes.see(l, std::fabs(w[i]), w[i]);
  return lanes.result();
}

RowExtremes scaled_extremes(const float* w, std::size_t runs, std::size_t run,
                            const double* scale) noexcept {
  ExtremeLanes<double, kDoubleLanes> lanes;
  if (run == 1) {  // linear layers: a scale per element
    std::size_t r = 0;
    for (; r + kDoubleLanes <= runs; r += kDoubleLanes) {
      for (std::size_t l = 0; l < kDoubleLanes; ++l) {
        lanes.see(l, std::fabs(static_cast<double>(w[r + l]) * scale[r + l]), w[r + l]);
      }
    }
    for (std::size_t l = 0; r < runs; ++r, ++l) {
      lanes.see(l, std::fabs(static_cast<double>(w[r]) * scale[r]), w[r]);
    }
    return lanes.result();
  }
  for (std::size_t r = 0; r < runs; ++r) {
    const double s = scale[r];
    const float* x = w + r * run;
    for (std::size_t t = 0; t < run; ++t) {
      lanes.see(t % kDoubleLanes, std::fabs(static_cast<double>(x[t]) * s), x[t]);
    }
  }
  return lanes.result();
}

double shifted_sum(const float* w, std::size_t runs, std::size_t run,
                   const double* shift) noexcept {
  // Lane l sums runs l, l + L, ...; lanes are added in a fixed order at the end.
  double lane_sum[kDoubleLanes] = {};
  std::size_t r = 0;
  for (; r + kDoubleLanes <= runs; r += kDoubleLanes) {
    for (std::size_t l = 0; l < kDoubleLanes; ++l) {
      double run_sum = 0;
      for (std::size_t t = 0; t < run; ++t) run_sum += w[(r + l) * run + t];
      lane_sum[l] += run_sum * shift[r + l];
    }
  }
  for (std::size_t l = 0; r < runs; ++r, ++l) {
    double run_sum = 0;
    for (std::size_t t = 0; t < run; ++t) run_sum += w[r * run + t];
    lane_sum[l] += run_sum * shift[r];
  }
  double sum = 0;
  for (double lane : lane_sum) sum += lane;
  return sum;
}

template <typename Store>
void write_scaled(const float* w, std::size_t count, double scale, void* out) noexcept {
  const Store store{static_cast<decltype(Store::out)>(out)};
  for (std::size_t i = 0; i < count; ++i) store(i, static_cast<double>(w[i]) * scale);
}

template <typename Store>
void write_scaled_runs(const float* w, std::size_t runs, std::size_t run, const double* scale,
                       void* out) noexcept {
  const Store store{static_cast<decltype(Store::out)>(out)};
  if (run == 1) {
    for (std::size_t r = 0; r < runs; ++r) store(r, static_cast<double>(w[r]) * scale[r]);
    return;
  }
  for (std::size_t r = 0; r < runs; ++r) {
    const double s = scale[r];
    for (std::size_t t = 0; t < run; ++t) {
      store(r * run + t, static_cast<double>(w[r * run + t]) * s);
    }
  }
}

constexpr FoldRowKernels make_fold_row_kernels() {
  return {
      &extremes,
      &scaled_extremes,
      &shifted_sum,
      {&write_scaled<StoreF32>, &write_scaled<StoreF16>, &write_scaled<StoreBF16>},
      {&write_scaled_runs<StoreF32>, &write_scaled_runs<StoreF16>, &write_scaled_runs<StoreBF16>}};
}

}  // namespace
}  // namespace bnrt::kernels
