// Convolution micro-kernel bodies, written once against the SimdOps / ScalarOps vocabulary and
// instantiated per ISA by conv_<isa>.cpp. See conv_kernels.hpp for what each kernel computes.
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
      case ConvEpilogue::Kind::clamp:
        if (e.clamp >= 1 && y < e.lo) y = e.lo;
        if (e.clamp == 2 && y > e.hi) y = e.hi;
        return y;
      case ConvEpilogue::Kind::leaky_relu:
        return y < 0.0f ? y * e.negative_slope : y;
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
  const ConvEpilogue& e = *out.epilogue;
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
  alignas(64) float staged[MR][NV * L];
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) {
    for (std::size_t v = 0; v < NV; ++v) Ops::store(&staged[m][v * L], acc[m][v]);
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

template <class Ops, std::size_t MR, std::size_t NV>
inline void init_with_bias(typename Ops::vec (&acc)[MR][NV], const float* bias) noexcept {
#pragma GCC unroll 8
  for (std::size_t v = 0; v < NV; ++v) {
    const typename Ops::vec b = Ops::load(bias + v * Ops::lanes);
#pragma GCC unroll 16
    for (std::size_t m = 0; m < MR; ++m) acc[m][v] = b;
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
  store_tile<Ops, MR, NV>(acc, a.rows, a.cols, a.out);
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

  typename Ops::vec acc[MR][NV];
  init_with_bias<Ops, MR, NV>(acc, a.bias);
  const float* w = a.weights;
  for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
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
  store_tile<Ops, MR, NV>(acc, a.rows, a.cols, a.out);
}

/// Pixels [ow0, ow0 + rows) of output row a.out_row, channels [c0, c0 + cols), cols <= lanes
/// (FULL: cols == lanes, plain loads; else masked loads of cols channels).
template <class Ops, std::size_t MR, bool FULL>
inline void depthwise_tile(const DepthwiseRowArgs& a, std::size_t ow0, std::size_t rows,
                           std::size_t c0, std::size_t cols) noexcept {
  using vec = typename Ops::vec;
  const ConvGeometry& g = *a.geometry;
  const std::size_t C = g.in_pixel_stride;
  const auto load_x = [cols](const float* p) {
    if constexpr (FULL) {
      return Ops::load(p);
    } else {
      return Ops::load_partial(p, cols);
    }
  };
  const float* image = a.image + c0;
  const float* weights = a.weights + c0;
  const std::size_t pixel_step = g.stride_w * C;  // between the inputs of neighbouring outputs
  const std::ptrdiff_t ih0 =
      static_cast<std::ptrdiff_t>(a.out_row * g.stride_h) - static_cast<std::ptrdiff_t>(g.pad_top);
  const std::ptrdiff_t iw_first =
      static_cast<std::ptrdiff_t>(ow0 * g.stride_w) - static_cast<std::ptrdiff_t>(g.pad_left);
  const std::ptrdiff_t iw_last =
      static_cast<std::ptrdiff_t>((ow0 + rows - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w) -
      static_cast<std::ptrdiff_t>(g.pad_left);
  const bool interior =
      rows == MR && iw_first >= 0 && iw_last < static_cast<std::ptrdiff_t>(g.in_w);

  vec acc[MR][1];
  const vec bias = Ops::load(a.bias + c0);
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) acc[m][0] = bias;
  for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
    const std::ptrdiff_t ih = ih0 + static_cast<std::ptrdiff_t>(kh * g.dilation_h);
    if (static_cast<std::size_t>(ih) >= g.in_h) continue;
    const float* in_row = image + static_cast<std::size_t>(ih) * g.in_w * C;
    const float* w_row = weights + kh * g.kernel_w * a.weight_tap_stride;
    if (interior) {
      const float* x = in_row + static_cast<std::size_t>(iw_first) * C;
      for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
        const vec w = Ops::load(w_row + kw * a.weight_tap_stride);
        const float* p = x + kw * g.dilation_w * C;
#pragma GCC unroll 16
        for (std::size_t m = 0; m < MR; ++m) {
          acc[m][0] = Ops::fma(load_x(p), w, acc[m][0]);
          p += pixel_step;
        }
      }
      continue;
    }
    for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
      const vec w = Ops::load(w_row + kw * a.weight_tap_stride);
      // Fixed trip count, so acc[] stays in registers; edge pixels skip padded taps. The
      // column and its offset advance by addition (no multiply per pixel).
      std::ptrdiff_t col = iw_first + static_cast<std::ptrdiff_t>(kw * g.dilation_w);
      std::ptrdiff_t offset = col * static_cast<std::ptrdiff_t>(C);
#pragma GCC unroll 16
      for (std::size_t m = 0; m < MR; ++m) {
        if (m < rows && static_cast<std::size_t>(col) < g.in_w) {
          acc[m][0] = Ops::fma(load_x(in_row + offset), w, acc[m][0]);
        }
        col += static_cast<std::ptrdiff_t>(g.stride_w);
        offset += static_cast<std::ptrdiff_t>(pixel_step);
      }
    }
  }
  TileOutput out = a.out;
  const std::size_t offset = ow0 * out.pixel_stride + c0 * out.channel_stride;
  out.dst += offset;
  if (out.residual) out.residual += offset;
  store_tile<Ops, MR, 1>(acc, rows, cols, out);
}

/// Pixels [ow0, ow0 + rows) of one output row, every channel block.
template <class Ops, std::size_t MR>
inline void depthwise_pixels(const DepthwiseRowArgs& a, std::size_t ow0,
                             std::size_t rows) noexcept {
  constexpr std::size_t L = Ops::lanes;
  const std::size_t channels = a.geometry->in_pixel_stride;
  for (std::size_t c0 = 0; c0 < channels; c0 += L) {
    if (channels - c0 >= L) {
      depthwise_tile<Ops, MR, true>(a, ow0, rows, c0, L);
    } else {
      depthwise_tile<Ops, MR, false>(a, ow0, rows, c0, channels - c0);
    }
  }
}

/// One output row of a depthwise conv, all channels, MR pixels at a time (tiles whose taps
/// all fall inside the input take the check-free path). Pixel tiles outside, channel blocks
/// inside: a tile reads a few whole input pixels (all channels, contiguous) per input row
/// instead of one 64-byte slice of many, which is what the hardware prefetchers follow.
template <class Ops, std::size_t MR>
void depthwise_row(const DepthwiseRowArgs& a) noexcept {
  const ConvGeometry& g = *a.geometry;
  for (std::size_t ow = 0; ow < g.out_w; ow += MR) {
    depthwise_pixels<Ops, MR>(a, ow, std::min(MR, g.out_w - ow));
  }
}

template <class Ops, std::size_t MR, std::size_t NV, std::size_t MAX_NV>
constexpr GemmTileFn gemm_entry() noexcept {
  if constexpr (NV <= MAX_NV) {
    return &gemm_tile<Ops, MR, NV>;
  } else {
    return nullptr;
  }
}

/// The table for one ISA: MR pixels x up to MAX_NV vectors per gemm tile, MR_DW pixels per
/// depthwise step.
template <class Ops, std::size_t MR, std::size_t MAX_NV, std::size_t MR_DW>
constexpr ConvKernelTable make_conv_table() noexcept {
  static_assert(MAX_NV >= 1 && MAX_NV <= kMaxGemmVectors);
  return {{gemm_entry<Ops, MR, 1, MAX_NV>(), gemm_entry<Ops, MR, 2, MAX_NV>(),
           gemm_entry<Ops, MR, 3, MAX_NV>(), gemm_entry<Ops, MR, 4, MAX_NV>()},
          &depthwise_row<Ops, MR_DW>,
          MR,
          MAX_NV,
          Ops::lanes};
}

}  // namespace bnrt::kernels
