// The kernel vocabulary of simd_ops.hpp for plain scalar code: one "lane" per vector. Lets the
// same kernel body serve as the portable fallback (BNRT_ISA=scalar) on any CPU.
// Loads and stores go through memcpy so a pointer that is not float-aligned is still defined
// behaviour; the compiler turns them into plain moves.
#pragma once

#include <cstddef>

namespace bnrt::kernels {

struct ScalarOps {
  using vec = float;
  static constexpr std::size_t lanes = 1;

  static vec broadcast(float value) noexcept { return value; }
  static vec load(const float* src) noexcept {
    float value;
    __builtin_memcpy(&value, src, sizeof value);
    return value;
  }
  static vec load_once(const float* src) noexcept { return load(src); }
  static constexpr bool has_masked_loads = false;  ///< see SimdOps
  static constexpr bool has_lane_permute = false;  ///< see SimdOps
  static void store(float* dst, vec value) noexcept { __builtin_memcpy(dst, &value, sizeof value); }
  static void stream(float* dst, vec value) noexcept { store(dst, value); }
  static void stream_fence() noexcept {}
  /// Multiply, then add: two roundings, like the SSE2 path. This file is built with
  /// -ffp-contract=off so the compiler cannot fuse them behind our back.
  static vec fma(vec a, vec b, vec c) noexcept { return a * b + c; }
  static vec max_bound(vec lo, vec y) noexcept { return y < lo ? lo : y; }  // NaN y stays NaN
  static vec min_bound(vec hi, vec y) noexcept { return y > hi ? hi : y; }
  static vec select_first(std::size_t n, vec first, vec second) noexcept {
    return n > 0 ? first : second;
  }
  // With one lane there is never a partial vector or an alignment head.
  static vec load_partial(const float* src, std::size_t n) noexcept { return n ? load(src) : 0.0f; }
  static void store_partial(float* dst, vec value, std::size_t n) noexcept {
    if (n) store(dst, value);
  }
  static std::size_t elements_to_alignment(const float*) noexcept { return 0; }

  using vecd = double;
  static constexpr std::size_t dlanes = 1;
  static constexpr std::size_t accumulator_vectors = 4;
  static constexpr std::size_t fast_tile_vectors = 4;
  static vecd broadcast_d(double value) noexcept { return value; }
  static vecd fma_d(vecd a, vecd b, vecd c) noexcept { return a * b + c; }
  static vecd add_d_on_fma(vecd sum, vecd d) noexcept { return sum + d; }
  static double sum(vecd v) noexcept { return v; }
  static vecd max_d(vecd a, vecd b) noexcept { return a < b ? b : a; }
  static vecd sqrt_d(vecd a) noexcept { return __builtin_sqrt(a); }
  static constexpr bool has_rsqrt_estimate_d = false;
  static vecd load_widened(const float* src) noexcept { return load(src); }
  static vecd load_widened_partial(const float* src, std::size_t n) noexcept {
    return n ? load(src) : 0.0;
  }
  static vecd sub_first_d(vecd x, vecd shift, std::size_t n) noexcept {
    return n ? x - shift : 0.0;
  }
  static vecd load_d(const double* src) noexcept { return *src; }
  static constexpr bool has_transpose_sum = false;
  // One lane: the "low half" is the lane, there is no high half.
  static void widen_add(vec v, vecd& lo, vecd&) noexcept { lo += v; }
  static vecd widen_lo(vec v) noexcept { return v; }
  static vecd widen_hi(vec) noexcept { return 0.0; }
  static vec sub_first(vec x, vec shift, std::size_t n) noexcept { return n ? x - shift : 0.0f; }
  static void store_d(double* dst, vecd value) noexcept { *dst = value; }
  static vecd round_to_float_d(vecd value) noexcept {
    return static_cast<double>(static_cast<float>(value));
  }
  static void store_narrowed(float* dst, vecd value) noexcept {
    store(dst, static_cast<float>(value));
  }
  static void store_d_partial(double* dst, vecd value, std::size_t n) noexcept {
    if (n) *dst = value;
  }
};

}  // namespace bnrt::kernels
