// The depthwise micro-kernel of ConvBnAct on channels-first input: one channel plane at a time,
// vectorized along the output row. Written against the SimdOps / ScalarOps vocabulary,
// instantiated per ISA by conv_<isa>.cpp.
//
// The plane is first copied into a zero-padded scratch plane, split into stride_w phase planes
// (phase p holds the padded columns p, p + stride, p + 2 * stride, ...), so that for every tap
// the inputs of consecutive output pixels are consecutive floats: each tap is one unaligned
// vector load and one FMA per vector of output pixels, with no bounds checks anywhere. The
// scratch's padding is zeroed once, when it is allocated; the copy only ever writes the
// interior. Rows go two at a time, several vectors wide, for independent accumulators.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "conv_store_impl.hpp"

namespace bnrt::kernels {
namespace depthwise {

/// Copies the input plane into the phase planes (see above).
inline void fill_phase_planes(const DepthwisePlaneArgs& a) noexcept {
  const ConvGeometry& g = *a.geometry;
  const std::size_t phase_floats = a.padded_rows * a.phase_cols;
  for (std::size_t ih = 0; ih < g.in_h; ++ih) {
    const float* in = a.src + ih * g.in_w;
    float* row = a.padded + (ih + g.pad_top) * a.phase_cols;
    if (g.stride_w == 1) {
      std::memcpy(row + g.pad_left, in, g.in_w * sizeof(float));
      continue;
    }
    for (std::size_t iw = 0; iw < g.in_w; ++iw) {
      const std::size_t col = iw + g.pad_left;
      row[(col % g.stride_w) * phase_floats + col / g.stride_w] = in[iw];
    }
  }
}

/// Output rows [oh, oh + MR) (the first `rows` stored), columns [ow0, ow0 + cols), cols <=
/// NV * lanes.
template <class Ops, std::size_t MR, std::size_t NV>
inline void plane_tile(const DepthwisePlaneArgs& a, std::size_t oh, std::size_t rows,
                       std::size_t ow0, std::size_t cols) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t L = Ops::lanes;
  const ConvGeometry& g = *a.geometry;
  const std::size_t phase_floats = a.padded_rows * a.phase_cols;
  vec acc[MR][1][NV];  // [row][one "pixel": the run of columns][vector]
  const vec bias = Ops::broadcast(a.bias);
#pragma GCC unroll 8
  for (std::size_t m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) acc[m][0][v] = bias;
  }
  // Where tile row m reads for kernel row 0 (rows past `rows` repeat the last valid one and
  // are never stored), and where tap kw starts within a padded row.
  const float* row0[MR];
#pragma GCC unroll 8
  for (std::size_t m = 0; m < MR; ++m) {
    row0[m] = a.padded + (oh + std::min(m, rows - 1)) * g.stride_h * a.phase_cols + ow0;
  }
  const std::size_t kh_step = g.dilation_h * a.phase_cols;
  const float* w = a.weights;
  for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
    std::size_t phase = 0, column = 0;  // tap kw * dilation_w, as (t % stride, t / stride)
    for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
      const vec wv = Ops::broadcast(*w++);
      const std::size_t offset = kh * kh_step + phase * phase_floats + column;
#pragma GCC unroll 8
      for (std::size_t m = 0; m < MR; ++m) {
        const float* x = row0[m] + offset;
#pragma GCC unroll 8
        for (std::size_t v = 0; v < NV; ++v) {
          acc[m][0][v] = Ops::fma(Ops::load(x + v * L), wv, acc[m][0][v]);
        }
      }
      phase += g.dilation_w;
      while (phase >= g.stride_w) phase -= g.stride_w, ++column;
    }
  }
  const std::size_t out_w = g.out_w;
#pragma GCC unroll 8
  for (std::size_t m = 0; m < MR; ++m) {
    if (m >= rows) break;
    const std::size_t offset = (oh + m) * out_w + ow0;
    store_tile<Ops, 1, NV>(
        acc[m], 1, cols,
        {a.dst + offset, a.residual ? a.residual + offset : nullptr, 0, 1, a.epilogue});
  }
}

}  // namespace depthwise

/// One channel plane of a depthwise conv on channels-first input (see above).
template <class Ops, std::size_t MR, std::size_t NV>
void depthwise_plane(const DepthwisePlaneArgs& a) noexcept {
  using namespace depthwise;
  constexpr std::size_t width = NV * Ops::lanes;
  const ConvGeometry& g = *a.geometry;
  fill_phase_planes(a);
  const std::size_t out_h = a.out_h;
  for (std::size_t oh = 0; oh < out_h; oh += MR) {
    const std::size_t rows = std::min(MR, out_h - oh);
    for (std::size_t ow = 0; ow < g.out_w; ow += width) {
      plane_tile<Ops, MR, NV>(a, oh, rows, ow, std::min(width, g.out_w - ow));
    }
  }
}

}  // namespace bnrt::kernels
