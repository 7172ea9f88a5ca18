// The gemm micro-kernel of ConvBnAct: MR output pixels x NV vectors of output channels on
// register tiles, as an implicit GEMM over the kernel taps (a plain GEMM for 1x1 stride 1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "conv_store_impl.hpp"
#include "flatten.hpp"

namespace bnrt::kernels {

/// The dot products of one tap: acc[m][:] += sum_k row[m][k] * w[k][:], w advancing by NR.
template <class Ops, std::size_t MR, std::size_t NV>
inline void accumulate_tap(typename Ops::vec (&acc)[MR][NV], const float* const (&row)[MR],
                           const float*& w, std::size_t K) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t L = Ops::lanes;
  for (std::size_t k = 0; k < K; ++k) {
    vec b[NV];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) b[v] = Ops::load(w + v * L);
    w += NV * L;
#pragma GCC unroll 16
    for (std::size_t m = 0; m < MR; ++m) {
      const vec x = Ops::broadcast(row[m][k]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) acc[m][v] = Ops::fma(x, b[v], acc[m][v]);
    }
  }
}

/// A 1x1, stride-1, unpadded conv is a plain GEMM: the tile's pixels are consecutive input
/// rows, so there is no receptive-field arithmetic at all.
template <class Ops, std::size_t MR, std::size_t NV>
void pointwise_tile(const GemmTileArgs& a) noexcept {
  const std::size_t stride = a.geometry->in_pixel_stride;
  const float* row[MR];
  for (std::size_t m = 0; m < MR; ++m) {
    // Rows past `rows` repeat the last valid pixel (computed, never stored).
    row[m] = a.image + (a.pixel_begin + (m < a.rows ? m : a.rows - 1)) * stride;
  }
  typename Ops::vec acc[MR][NV];
  init_with_bias<Ops, MR, NV>(acc, a.bias);
  const float* w = a.weights;
  accumulate_tap<Ops, MR, NV>(acc, row, w, a.k_per_tap);
  store_gemm_tile<Ops, MR, NV>(acc, a.rows, a.cols, a.out);
}

/// MR pixels x (NV * lanes) output channels; see GemmTileArgs.
template <class Ops, std::size_t MR, std::size_t NV>
void gemm_tile(const GemmTileArgs& a) noexcept {
  const ConvGeometry& g = *a.geometry;
  if (g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
      g.pad_left == 0) {
    pointwise_tile<Ops, MR, NV>(a);
    return;
  }

  // Top-left input position of each pixel's receptive field (signed: padding goes negative).
  // Rows past `rows` repeat the last valid pixel, so the loops below need no row checks.
  std::ptrdiff_t ih0[MR], iw0[MR];
  std::size_t oh = a.pixel_begin / g.out_w, ow = a.pixel_begin % g.out_w;
  for (std::size_t m = 0; m < MR; ++m) {
    ih0[m] = static_cast<std::ptrdiff_t>(oh * g.stride_h) - static_cast<std::ptrdiff_t>(g.pad_top);
    iw0[m] = static_cast<std::ptrdiff_t>(ow * g.stride_w) - static_cast<std::ptrdiff_t>(g.pad_left);
    if (m + 1 < a.rows && ++ow == g.out_w) {
      ow = 0;
      ++oh;
    }
  }

  // A kernel row whose taps all fall inside the image, for every pixel of the tile, is one
  // run of kernel_w * k_per_tap floats of the input row when the taps are adjacent (dilation
  // 1 along w) and the pixels hold exactly the group's channels: one row pointer per pixel
  // and a single dot-product loop instead of one per tap, with the weights read in the same
  // packed order, so the same multiply-adds in the same order (the same bits). This is the
  // stem's case: three channels per tap made every 7x7 tap a three-step loop behind six
  // pointer computations.
  bool row_runs = g.dilation_w == 1 && g.kernel_w > 1 && g.in_pixel_stride == a.k_per_tap;
  for (std::size_t m = 0; m < MR && row_runs; ++m) {
    row_runs = iw0[m] >= 0 && static_cast<std::size_t>(iw0[m]) + g.kernel_w <= g.in_w;
  }

  typename Ops::vec acc[MR][NV];
  init_with_bias<Ops, MR, NV>(acc, a.bias);
  const float* w = a.weights;
  for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
    if (row_runs) {
      std::size_t ih[MR];
      bool inside = true;
      for (std::size_t m = 0; m < MR; ++m) {
        ih[m] = static_cast<std::size_t>(ih0[m] + static_cast<std::ptrdiff_t>(kh * g.dilation_h));
        inside = inside && ih[m] < g.in_h;
      }
      if (inside) {
        const float* row[MR];
        for (std::size_t m = 0; m < MR; ++m) {
          row[m] =
              a.image + (ih[m] * g.in_w + static_cast<std::size_t>(iw0[m])) * g.in_pixel_stride;
        }
        accumulate_tap<Ops, MR, NV>(acc, row, w, g.kernel_w * a.k_per_tap);
        continue;
      }
    }
    for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
      const float* row[MR];
      for (std::size_t m = 0; m < MR; ++m) {
        const std::ptrdiff_t ih = ih0[m] + static_cast<std::ptrdiff_t>(kh * g.dilation_h);
        const std::ptrdiff_t iw = iw0[m] + static_cast<std::ptrdiff_t>(kw * g.dilation_w);
        const bool inside =
            static_cast<std::size_t>(ih) < g.in_h && static_cast<std::size_t>(iw) < g.in_w;
        row[m] =
            inside
                ? a.image + (static_cast<std::size_t>(ih) * g.in_w + static_cast<std::size_t>(iw)) *
                                g.in_pixel_stride
                : a.zero_row;
      }
      accumulate_tap<Ops, MR, NV>(acc, row, w, a.k_per_tap);
    }
  }
  store_gemm_tile<Ops, MR, NV>(acc, a.rows, a.cols, a.out);
}

/// See PlanarGemmTileArgs. Rows past `rows` are computed (from the packing's repeated last
/// channel) but never stored; a short last tile of pixels loads only its `cols` floats.
/// Flattened because GCC's inlining here depends on how much else the ISA's unit holds: when
/// the depthwise kernels grew, it stopped inlining the accumulate lambda and the AVX-512 tile
/// ran 20% slower (1x1 24->144 on 56x56: 206 -> 250 us). (gemm_tile is not flattened: that
/// made the AVX2 tiles spill, 2.2x slower.)
template <class Ops, std::size_t MR, std::size_t NV>
BNRT_FLATTEN void planar_gemm_tile(const PlanarGemmTileArgs& a) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t L = Ops::lanes;
  vec acc[MR][NV];
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) {
    const vec b = Ops::broadcast(a.bias[m]);
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) acc[m][v] = b;
  }
  const auto accumulate = [&](auto load_pixels) {
    const float* x = a.input;
    const float* w = a.weights;
    for (std::size_t k = 0; k < a.k_count; ++k, x += a.plane_stride, w += MR) {
      vec b[NV];
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) b[v] = load_pixels(x, v);
#pragma GCC unroll 16
      for (std::size_t m = 0; m < MR; ++m) {
        const vec wk = Ops::broadcast(w[m]);
#pragma GCC unroll 8
        for (std::size_t v = 0; v < NV; ++v) acc[m][v] = Ops::fma(wk, b[v], acc[m][v]);
      }
    }
  };
  if (a.cols == NV * L) {
    accumulate([](const float* x, std::size_t v) { return Ops::load(x + v * L); });
  } else {
    const std::size_t cols = a.cols;
    accumulate([cols](const float* x, std::size_t v) {
      if (v * L >= cols) return Ops::broadcast(0.0f);
      return cols - v * L >= L ? Ops::load(x + v * L) : Ops::load_partial(x + v * L, cols - v * L);
    });
  }
  store_gemm_tile<Ops, MR, NV>(acc, a.rows, a.cols, a.out);
}

}  // namespace bnrt::kernels
