// The depthwise micro-kernel of ConvBnAct on channels-first input: one channel plane at a time,
// vectorized along the output row. Written against the SimdOps / ScalarOps vocabulary,
// instantiated per ISA by conv_depthwise_<isa>.cpp.
//
// Stride-1 3x3 and 5x5 planes on ISAs with masked loads (AVX-512, AVX2) are read straight from
// the input: each load's lane window keeps the lanes inside the row, so padding reads as zero
// (plane_direct). Everything else first copies the plane into a zero-padded scratch plane, split
// into stride_w phase planes (phase p holds the padded columns p, p + stride, p + 2 * stride,
// ...), so that for every tap the inputs of consecutive output pixels are consecutive floats:
// each tap is one unaligned vector load and one FMA per vector of output pixels, with no bounds
// checks anywhere. The scratch's padding is zeroed once, when it is allocated; the copy only
// ever writes the interior. In the 3x3 / 5x5 kernels (stride 1, and stride 2 on the padded
// copy) each input row load feeds every output row of the tile that reads it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "conv_store_impl.hpp"
#include "row_register.hpp"

namespace bnrt::kernels {
namespace depthwise {

/// out[k] = in[k * S] for k < n; S a compile-time stride so the compiler vectorizes the
/// gather into loads and permutes. (The helpers here are templates on Ops even where Ops is
/// unused, so each ISA's unit keeps its own copy: an out-of-line copy compiled for AVX-512
/// must never be the one the linker keeps for the SSE2 path.)
template <class Ops, std::size_t S>
inline void copy_strided(const float* in, float* out, std::size_t n) noexcept {
  for (std::size_t k = 0; k < n; ++k) out[k] = in[k * S];
}

template <class Ops>
inline void copy_strided(const float* in, float* out, std::size_t n, std::size_t stride) noexcept {
  for (std::size_t k = 0; k < n; ++k) out[k] = in[k * stride];
}

/// Copies the input plane into the phase planes (see above): each phase of a row is a strided
/// copy (no division per element: an earlier per-element `col % stride` made NCHW stride-2
/// depthwise 14x slower than channels-last).
template <class Ops>
inline void fill_phase_planes(const DepthwisePlaneArgs& a) noexcept {
  const ConvGeometry& g = *a.geometry;
  const std::size_t stride = g.stride_w;
  const std::size_t phase_floats = a.padded_rows * a.phase_cols;
  if (stride == 1) {
    for (std::size_t ih = 0; ih < g.in_h; ++ih) {
      std::memcpy(a.padded + (ih + g.pad_top) * a.phase_cols + g.pad_left, a.src + ih * g.in_w,
                  g.in_w * sizeof(float));
    }
    return;
  }
  for (std::size_t phase = 0; phase < stride; ++phase) {
    // The first input column whose padded column (iw + pad_left) falls in this phase.
    const std::size_t first = (phase + stride - g.pad_left % stride) % stride;
    if (first >= g.in_w) continue;
    const std::size_t count = (g.in_w - first + stride - 1) / stride;
    const std::size_t out_offset = phase * phase_floats + (first + g.pad_left) / stride;
    for (std::size_t ih = 0; ih < g.in_h; ++ih) {
      const float* in = a.src + ih * g.in_w + first;
      float* out = a.padded + (ih + g.pad_top) * a.phase_cols + out_offset;
      if (stride == 2) {
        copy_strided<Ops, 2>(in, out, count);
      } else {
        copy_strided<Ops>(in, out, count, stride);
      }
    }
  }
}

/// acc[m][0][v] = value for every row m and vector v.
template <class Ops, std::size_t MR, std::size_t NV>
inline void fill(typename Ops::vec (&acc)[MR][1][NV], typename Ops::vec value) noexcept {
#pragma GCC unroll 8
  for (std::size_t m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) acc[m][0][v] = value;
  }
}

/// The K x K taps of one channel, each broadcast to a vector.
template <class Ops, std::size_t K>
inline void broadcast_taps(typename Ops::vec (&w)[K][K], const float* weights) noexcept {
#pragma GCC unroll 8
  for (std::size_t kh = 0; kh < K; ++kh) {
#pragma GCC unroll 8
    for (std::size_t kw = 0; kw < K; ++kw) w[kh][kw] = Ops::broadcast(weights[kh * K + kw]);
  }
}

/// Stores output rows [oh, oh + rows) x columns [ow0, ow0 + cols) of a tile (rows <= MR).
/// Without a residual and with a clamp (identity, ReLU, ReLU6) the bounds are broadcast once
/// and the stores unrolled; anything else goes through store_tile.
template <class Ops, std::size_t MR, std::size_t NV>
inline void store_rows(const DepthwisePlaneArgs& a, typename Ops::vec (&acc)[MR][1][NV],
                       std::size_t oh, std::size_t rows, std::size_t ow0,
                       std::size_t cols) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t L = Ops::lanes;
  const std::size_t out_w = a.geometry->out_w;
  const ConvEpilogue& e = *a.epilogue;
  if (!a.residual && e.kind == ConvEpilogue::Kind::clamp) {
    const int clamp = e.clamp;  // locals: the float stores below may alias *a.epilogue
    const vec lo = Ops::broadcast(e.lo), hi = Ops::broadcast(e.hi);
#pragma GCC unroll 8
    for (std::size_t m = 0; m < MR; ++m) {
      if (m >= rows) break;
      float* dst = a.dst + (oh + m) * out_w + ow0;
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) {
        vec y = acc[m][0][v];
        if (clamp >= 1) y = Ops::max_bound(lo, y);
        if (clamp == 2) y = Ops::min_bound(hi, y);
        if ((v + 1) * L <= cols) {
          Ops::store(dst + v * L, y);
        } else if (v * L < cols) {
          Ops::store_partial(dst + v * L, y, cols - v * L);
        }
      }
    }
    return;
  }
#pragma GCC unroll 8
  for (std::size_t m = 0; m < MR; ++m) {
    if (m >= rows) break;
    const std::size_t offset = (oh + m) * out_w + ow0;
    store_tile<Ops, 1, NV>(
        acc[m], 1, cols,
        {a.dst + offset, a.residual ? a.residual + offset : nullptr, 0, 1, a.epilogue});
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
  fill<Ops, MR, NV>(acc, Ops::broadcast(a.bias));
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
  store_rows<Ops, MR, NV>(a, acc, oh, rows, ow0, cols);
}

/// The undilated K x K case of plane_tile at stride S (1 or 2, the same along both axes),
/// with input rows shared between output rows: each input row is loaded once per tap column
/// and feeds every output row of the tile that uses it (up to K / S of them), so a tile of MR
/// rows costs ((MR - 1) * S + K) * K loads per vector column instead of MR * K * K. Kernel
/// size, stride and tile shape are compile-time, so every loop unrolls. Tap kw reads phase
/// plane kw % S at column offset kw / S.
template <class Ops, std::size_t K, std::size_t S, std::size_t MR, std::size_t NV>
inline void plane_tile_shared_rows(const DepthwisePlaneArgs& a, std::size_t oh, std::size_t rows,
                                   std::size_t ow0, std::size_t cols) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t L = Ops::lanes;
  constexpr std::size_t kInputRows = (MR - 1) * S + K;
  vec acc[MR][1][NV];
  fill<Ops, MR, NV>(acc, Ops::broadcast(a.bias));
  vec w[K][K];
  broadcast_taps<Ops, K>(w, a.weights);
  // Input rows past the plane (a last tile shorter than MR) repeat its last row; they only
  // feed tile rows that are never stored.
  const std::size_t last_row = (rows - 1) * S + K - 1;
  const std::size_t phase_floats = a.padded_rows * a.phase_cols;
  const float* const first = a.padded + oh * S * a.phase_cols + ow0;
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kInputRows; ++r) {
    const float* in = row_register<Ops>(first + (r < last_row ? r : last_row) * a.phase_cols);
#pragma GCC unroll 8
    for (std::size_t kw = 0; kw < K; ++kw) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) {
        const vec x = Ops::load_once(in + (kw % S) * phase_floats + kw / S + v * L);
        // Output row m reads input row r through kernel row r - m * S.
#pragma GCC unroll 16
        for (std::size_t m = 0; m < MR; ++m) {
          if (r >= m * S && r - m * S < K) {
            acc[m][0][v] = Ops::fma(x, w[r - m * S][kw], acc[m][0][v]);
          }
        }
      }
    }
  }
  store_rows<Ops, MR, NV>(a, acc, oh, rows, ow0, cols);
}

/// The loads plane_direct makes from one input row, at offsets from the tile's first tap
/// column (lane 0 of tap 0). Stride 1: one per tap column and vector, load i = kw * NV + v at
/// kw + v * lanes. Stride 2: a tap pair (2t, 2t + 1) reads the columns 2t + 2j and
/// 2t + 1 + 2j, so two consecutive vectors from 2t, split into even and odd lanes, serve both;
/// load i = (t * NV + v) * 2 + h at 2t + (2v + h) * lanes.
template <std::size_t K, std::size_t S, std::size_t NV, std::size_t L>
struct DirectLoads {
  static_assert(S == 1 || S == 2);
  static constexpr std::size_t count = S == 1 ? K * NV : (K + 1) / 2 * NV * 2;
  static constexpr std::ptrdiff_t offset(std::size_t i) noexcept {
    if (S == 1) return static_cast<std::ptrdiff_t>(i / NV + i % NV * L);
    const std::size_t t = i / (2 * NV), v = i / 2 % NV, h = i % 2;
    return static_cast<std::ptrdiff_t>(2 * t + (2 * v + h) * L);
  }
};

/// The arithmetic of one block of plane_direct: MR output rows x NV vectors from the
/// (MR - 1) * S + K input rows starting at `in` (input row first_row, lane 0 at the tile's
/// first tap column). Rows go outer: each input row is one register (row_register) that all
/// its loads use at constant offsets; output row m reads input row r through kernel row
/// r - m * S. kRowEdges: some of the rows lie above or below the plane and must read as zero;
/// they get empty windows rather than a branch (a branch makes GCC keep the accumulators on
/// the stack), and their addresses, like lanes left of a row, are never read.
template <class Ops, std::size_t K, std::size_t S, std::size_t MR, std::size_t NV, bool kRowEdges>
inline void accumulate_rows(
    typename Ops::vec (&acc)[MR][1][NV], const typename Ops::vec (&w)[K][K],
    const typename Ops::window (&windows)[DirectLoads<K, S, NV, Ops::lanes>::count],
    const float* in, std::ptrdiff_t in_w, std::ptrdiff_t first_row, std::ptrdiff_t in_h) noexcept {
  using vec = typename Ops::vec;
  using Loads = DirectLoads<K, S, NV, Ops::lanes>;
  constexpr std::size_t kInputRows = (MR - 1) * S + K;
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kInputRows; ++r) {
    const float* row = row_register<Ops>(in + static_cast<std::ptrdiff_t>(r) * in_w);
    vec x[Loads::count];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < Loads::count; ++i) {
      if constexpr (kRowEdges) {
        const std::ptrdiff_t ih = first_row + static_cast<std::ptrdiff_t>(r);
        x[i] = Ops::load_window(row + Loads::offset(i),
                                Ops::window_if(windows[i], ih >= 0 && ih < in_h));
      } else {
        x[i] = Ops::load_window(row + Loads::offset(i), windows[i]);
      }
    }
    vec tap[K][NV];  // the input under tap column kw, for vector v of the tile
#pragma GCC unroll 8
    for (std::size_t kw = 0; kw < K; ++kw) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) {
        if constexpr (S == 1) {
          tap[kw][v] = x[kw * NV + v];
        } else {
          const std::size_t pair = (kw / 2 * NV + v) * 2;
          tap[kw][v] = kw % 2 == 0 ? Ops::even_lanes(x[pair], x[pair + 1])
                                   : Ops::odd_lanes(x[pair], x[pair + 1]);
        }
      }
    }
#pragma GCC unroll 8
    for (std::size_t kw = 0; kw < K; ++kw) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) {
#pragma GCC unroll 16
        for (std::size_t m = 0; m < MR; ++m) {
          if (r >= m * S && r - m * S < K) {
            acc[m][0][v] = Ops::fma(tap[kw][v], w[r - m * S][kw], acc[m][0][v]);
          }
        }
      }
    }
  }
}

/// A whole plane of the K x K case at stride S (1 or 2, both axes), read straight from the
/// input with no padded copy: every load is a masked one whose window keeps the lanes inside
/// the row, so padding columns read as zero, and rows above or below the plane get empty
/// windows. Column tiles go outer so the weights and the windows (which depend only on the
/// column) are set up once per column tile, not per tile; row blocks of MR go inner. Needs
/// cheap masked loads.
template <class Ops, std::size_t K, std::size_t S, std::size_t MR, std::size_t NV>
void plane_direct(const DepthwisePlaneArgs& a) noexcept {
  using vec = typename Ops::vec;
  using window = typename Ops::window;
  using Loads = DirectLoads<K, S, NV, Ops::lanes>;
  constexpr std::size_t kInputRows = (MR - 1) * S + K;
  constexpr std::size_t width = NV * Ops::lanes;
  const ConvGeometry& g = *a.geometry;
  const auto in_w = static_cast<std::ptrdiff_t>(g.in_w);
  const auto in_h = static_cast<std::ptrdiff_t>(g.in_h);
  const std::size_t out_h = a.out_h;
  const std::size_t out_w = g.out_w;
  vec w[K][K];
  broadcast_taps<Ops, K>(w, a.weights);
  const vec bias = Ops::broadcast(a.bias);
  for (std::size_t ow0 = 0; ow0 < out_w; ow0 += width) {
    const std::size_t cols = std::min(width, out_w - ow0);
    // Input column of the tile's first tap, and the lanes of each load inside the row.
    const std::ptrdiff_t first_col =
        static_cast<std::ptrdiff_t>(ow0 * S) - static_cast<std::ptrdiff_t>(g.pad_left);
    window windows[Loads::count];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < Loads::count; ++i) {
      const std::ptrdiff_t col = first_col + Loads::offset(i);
      const std::ptrdiff_t lo = col < 0 ? -col : 0;
      const std::ptrdiff_t hi = std::min(in_w - col, static_cast<std::ptrdiff_t>(Ops::lanes));
      windows[i] = Ops::make_window(lo, hi);
    }
    for (std::size_t oh = 0; oh < out_h; oh += MR) {
      vec acc[MR][1][NV];
      fill<Ops, MR, NV>(acc, bias);
      const std::ptrdiff_t first_row =
          static_cast<std::ptrdiff_t>(oh * S) - static_cast<std::ptrdiff_t>(g.pad_top);
      const float* const in = a.src + first_row * in_w + first_col;
      if (first_row >= 0 && first_row + static_cast<std::ptrdiff_t>(kInputRows) <= in_h) {
        accumulate_rows<Ops, K, S, MR, NV, false>(acc, w, windows, in, in_w, first_row, in_h);
      } else {
        accumulate_rows<Ops, K, S, MR, NV, true>(acc, w, windows, in, in_w, first_row, in_h);
      }
      store_rows<Ops, MR, NV>(a, acc, oh, std::min(MR, out_h - oh), ow0, cols);
    }
  }
}

/// Walks a plane in tiles of MR rows x (NV * lanes) columns with `tile`.
template <class Ops, std::size_t MR, std::size_t NV, class Tile>
inline void walk_plane(const DepthwisePlaneArgs& a, Tile tile) noexcept {
  constexpr std::size_t width = NV * Ops::lanes;
  const std::size_t out_h = a.out_h;
  const std::size_t out_w = a.geometry->out_w;
  for (std::size_t oh = 0; oh < out_h; oh += MR) {
    const std::size_t rows = std::min(MR, out_h - oh);
    for (std::size_t ow = 0; ow < out_w; ow += width) {
      tile(a, oh, rows, ow, std::min(width, out_w - ow));
    }
  }
}

/// walk_plane with the shared-row tile for kernel size k (3 or 5) and stride (1 or 2).
template <class Ops, std::size_t MR, std::size_t NV>
inline void walk_shared_rows(const DepthwisePlaneArgs& a, std::size_t k,
                             std::size_t stride) noexcept {
  using Tile = void (*)(const DepthwisePlaneArgs&, std::size_t, std::size_t, std::size_t,
                        std::size_t) noexcept;
  const Tile tile = stride == 1 ? (k == 3 ? &plane_tile_shared_rows<Ops, 3, 1, MR, NV>
                                          : &plane_tile_shared_rows<Ops, 5, 1, MR, NV>)
                                : (k == 3 ? &plane_tile_shared_rows<Ops, 3, 2, MR, NV>
                                          : &plane_tile_shared_rows<Ops, 5, 2, MR, NV>);
  walk_plane<Ops, MR, NV>(a, tile);
}

}  // namespace depthwise

/// Whether depthwise_plane takes plane_direct for `g` on this ISA: with masked loads, the
/// undilated square 3x3 and 5x5 kernels at stride 1, and 3x3 at stride 2. (5x5 stride 2 keeps
/// the padded copy: its 25 taps, 12 loads and 10 splits per row spill; 146 -> 161 us direct.)
template <class Ops>
bool plane_is_direct(const ConvGeometry& g) noexcept {
  if constexpr (!Ops::has_masked_loads) {
    return false;
  } else {
    const bool square = g.kernel_h == g.kernel_w && g.dilation_h == 1 && g.dilation_w == 1;
    const bool unit_stride = g.stride_h == 1 && g.stride_w == 1;
    const bool stride_two = g.stride_h == 2 && g.stride_w == 2;
    return square && ((unit_stride && (g.kernel_h == 3 || g.kernel_h == 5)) ||
                      (stride_two && g.kernel_h == 3));
  }
}

/// One channel plane of a depthwise conv on channels-first input (see above).
template <class Ops, std::size_t MR, std::size_t MR_UNIT, std::size_t MR_DIRECT, std::size_t NV>
void depthwise_plane(const DepthwisePlaneArgs& a) noexcept {
  using namespace depthwise;
  constexpr std::size_t L = Ops::lanes;
  const ConvGeometry& g = *a.geometry;
  const bool unit_stride = g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
                           g.dilation_w == 1 && g.kernel_h == g.kernel_w;
  const bool stride_two = g.stride_h == 2 && g.stride_w == 2 && g.dilation_h == 1 &&
                          g.dilation_w == 1 && g.kernel_h == g.kernel_w;
  if constexpr (Ops::has_masked_loads) {
    if (plane_is_direct<Ops>(g)) {
      // Two vectors per row: fewer accumulators leave the taps and all the windows in
      // registers (4 x 4 spilled), and narrow planes waste less (a 28-wide row in a 64-wide
      // tile did half its work on padding). Measured on AVX-512, 3x3: 56x56 planes 170 -> 153
      // us, 28x28 98 -> 51 us. MR_DIRECT rows per stride-1 tile: 7 on AVX-512 (56x56 planes
      // 127 -> 118 us against 4 rows; 7 also divides every MobileNet plane height, 112 / 56 /
      // 28 / 14 / 7), 4 on AVX2 (231 -> 206 us against 2), in a standalone timing loop.
      // Stride 2 splits each pair of loaded vectors into even and odd columns: 116 -> 53 us
      // on AVX-512 for 144x56x56 against the padded phase copy, 133 -> 116 us on AVX2.
      constexpr std::size_t kDirectVectors = 2;
      if (stride_two) {
        plane_direct<Ops, 3, 2, MR_UNIT, kDirectVectors>(a);
      } else if (g.kernel_h == 3) {
        plane_direct<Ops, 3, 1, MR_DIRECT, kDirectVectors>(a);
      } else {
        plane_direct<Ops, 5, 1, MR_DIRECT, kDirectVectors>(a);
      }
      return;
    }
  }
  fill_phase_planes<Ops>(a);
  if ((unit_stride || stride_two) && (g.kernel_h == 3 || g.kernel_h == 5)) {
    // Tiles of NV or NV / 2 vectors, whichever computes fewer padding columns (ties: the wider,
    // fewer tiles). Measured: 28-wide outputs on AVX-512 150 -> 138 us with the narrow tile,
    // 56-wide 282 vs 315 us with the wide one; SSE2 56-wide 639 -> 575 us with the narrow one.
    constexpr std::size_t kWide = NV * L, kNarrow = NV / 2 * L;
    const bool narrow =
        (g.out_w + kNarrow - 1) / kNarrow * kNarrow < (g.out_w + kWide - 1) / kWide * kWide;
    const std::size_t k = g.kernel_h;
    if (narrow) {
      walk_shared_rows<Ops, MR_UNIT, NV / 2>(a, k, unit_stride ? 1 : 2);
    } else {
      walk_shared_rows<Ops, MR_UNIT, NV>(a, k, unit_stride ? 1 : 2);
    }
    return;
  }
  walk_plane<Ops, MR, NV>(a, &plane_tile<Ops, MR, NV>);
}

}  // namespace bnrt::kernels
