// The last step of every conv micro-kernel: bias at the start, then residual add and activation
// in registers before the only store of each output element. Written against the SimdOps /
// ScalarOps vocabulary, instantiated per ISA by conv_gemm_<isa>.cpp and conv_depthwise_<isa>.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "conv_kernels.hpp"

namespace bnrt::kernels {

template <class Ops>
struct ConvEpilogueOps {
  using vec = typename Ops::vec;

  /// The activation on one vector (NaN passes through every kind).
  static vec activate(vec y, const ConvEpilogue& e) noexcept {
    switch (e.kind) {
      case ConvEpilogue::Kind::clamp:
        if (e.clamp >= 1) y = Ops::max_bound(Ops::broadcast(e.lo), y);
        if (e.clamp == 2) y = Ops::min_bound(Ops::broadcast(e.hi), y);
        return y;
      case ConvEpilogue::Kind::leaky_relu:
        if constexpr (Ops::lanes == 1) {
          return y < 0.0f ? y * e.negative_slope : y;
        } else {
          return xsimd::select(y < vec(0.0f), y * vec(e.negative_slope), y);
        }
      case ConvEpilogue::Kind::silu:
        // y * sigmoid(y) = y / (1 + exp(-y)); exp overflow to +inf gives the right -0.
        if constexpr (Ops::lanes == 1) {
          return y / (1.0f + std::exp(-y));
        } else {
          return y / (vec(1.0f) + xsimd::exp(-y));
        }
    }
    return y;
  }

  static float activate_scalar(float y, const ConvEpilogue& e) noexcept {
    switch (e.kind) {
      // Written as selects the compiler turns into MAXSS / MINSS / blends: a branch on the
      // sign of the data mispredicts half the time on real activations. A NaN y stays NaN.
      case ConvEpilogue::Kind::clamp:
        if (e.clamp >= 1) y = e.lo > y ? e.lo : y;
        if (e.clamp == 2) y = e.hi < y ? e.hi : y;
        return y;
      case ConvEpilogue::Kind::leaky_relu: {
        const float scaled = y * e.negative_slope;
        return y < 0.0f ? scaled : y;
      }
      case ConvEpilogue::Kind::silu:
        return y / (1.0f + std::exp(-y));
    }
    return y;
  }
};

/// Stores a tile of accumulators acc[m][v] (pixel m, channels v * lanes ...) after residual
/// add and activation; only rows x cols elements are touched.
template <class Ops, std::size_t MR, std::size_t NV>
inline void store_tile(typename Ops::vec (&acc)[MR][NV], std::size_t rows, std::size_t cols,
                       const TileOutput& out) noexcept {
  using vec = typename Ops::vec;
  using Epi = ConvEpilogueOps<Ops>;
  constexpr std::size_t L = Ops::lanes;
  const ConvEpilogue e = *out.epilogue;  // a copy: the float stores below cannot alias it
  if (out.channel_stride == 1) {
    // Fixed trip counts with a guard keep acc[][] in registers (a loop bounded by `rows`
    // would index it at run time and push it to the stack for the whole kernel).
#pragma GCC unroll 16
    for (std::size_t m = 0; m < MR; ++m) {
      if (m >= rows) break;
      float* dst = out.dst + m * out.pixel_stride;
      const float* res = out.residual ? out.residual + m * out.pixel_stride : nullptr;
      for (std::size_t v = 0; v < NV && v * L < cols; ++v) {
        const std::size_t n = cols - v * L < L ? cols - v * L : L;
        vec y = acc[m][v];
        if (res) y = y + (n == L ? Ops::load(res + v * L) : Ops::load_partial(res + v * L, n));
        y = Epi::activate(y, e);
        if (n == L) {
          Ops::store(dst + v * L, y);
        } else {
          Ops::store_partial(dst + v * L, y, n);
        }
      }
    }
    return;
  }
  // Channels-first: stage the tile in L1, then write each channel's run of consecutive pixels.
  // Without a residual the activation (elementwise) is applied in registers before staging,
  // and the scatter is a plain copy; a residual must be added first, element by element.
  alignas(64) float staged[MR][NV * L];
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) {
    for (std::size_t v = 0; v < NV; ++v) {
      Ops::store(&staged[m][v * L], out.residual ? acc[m][v] : Epi::activate(acc[m][v], e));
    }
  }
  if (!out.residual) {
    if (rows == MR) {
      // Whole tiles (nearly all of them) copy a fixed-length run per channel, unrolled: the
      // loop bounded by `rows` cost the NCHW 7x7 stem about 10% of its time in compares.
      for (std::size_t j = 0; j < cols; ++j) {
        float* dst = out.dst + j * out.channel_stride;
#pragma GCC unroll 16
        for (std::size_t m = 0; m < MR; ++m) dst[m] = staged[m][j];
      }
      return;
    }
    for (std::size_t j = 0; j < cols; ++j) {
      float* dst = out.dst + j * out.channel_stride;
      for (std::size_t m = 0; m < rows; ++m) dst[m] = staged[m][j];
    }
    return;
  }
  for (std::size_t j = 0; j < cols; ++j) {
    float* dst = out.dst + j * out.channel_stride;
    const float* res = out.residual ? out.residual + j * out.channel_stride : nullptr;
    for (std::size_t m = 0; m < rows; ++m) {
      float y = staged[m][j];
      if (res) y += res[m];
      dst[m] = Epi::activate_scalar(y, e);
    }
  }
}

/// store_tile for the GEMM kernels, with a fast path for their common case: a whole
/// channels-last tile, no residual, a clamp (identity, ReLU, ReLU6). Its bounds are broadcast
/// once and every store unrolled, instead of the general path's per-vector checks: 1x1 convs
/// with few input channels spend as long storing a tile as computing it. (Kept out of
/// store_tile itself: inlined into the depthwise kernels' many tile variants, the extra code
/// slowed them down.)
template <class Ops, std::size_t MR, std::size_t NV>
inline void store_gemm_tile(typename Ops::vec (&acc)[MR][NV], std::size_t rows, std::size_t cols,
                            const TileOutput& out) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t L = Ops::lanes;
  const ConvEpilogue& e = *out.epilogue;
  if (out.channel_stride == 1 && rows == MR && cols == NV * L && !out.residual &&
      e.kind == ConvEpilogue::Kind::clamp) {
    const int clamp = e.clamp;  // locals: the float stores below may alias *out.epilogue
    const vec lo = Ops::broadcast(e.lo), hi = Ops::broadcast(e.hi);
#pragma GCC unroll 16
    for (std::size_t m = 0; m < MR; ++m) {
      float* dst = out.dst + m * out.pixel_stride;
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) {
        vec y = acc[m][v];
        if (clamp >= 1) y = Ops::max_bound(lo, y);
        if (clamp == 2) y = Ops::min_bound(hi, y);
        Ops::store(dst + v * L, y);
      }
    }
    return;
  }
  store_tile<Ops, MR, NV>(acc, rows, cols, out);
}

template <class Ops, std::size_t MR, std::size_t NV>
inline void init_with_bias(typename Ops::vec (&acc)[MR][NV], const float* bias) noexcept {
#pragma GCC unroll 8
  for (std::size_t v = 0; v < NV; ++v) {
    const typename Ops::vec b = Ops::load(bias + v * Ops::lanes);
#pragma GCC unroll 16
    for (std::size_t m = 0; m < MR; ++m) acc[m][v] = b;
  }
}

}  // namespace bnrt::kernels
