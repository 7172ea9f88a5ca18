// The depthwise micro-kernel of ConvBnAct on channels-last input: a run of output rows,
// vectorized over channels. Written against the SimdOps / ScalarOps vocabulary, instantiated
// per ISA by conv_depthwise_<isa>.cpp.
//
// Kernel rows that fall into the top or bottom padding are skipped for the whole row. For the
// common shapes (3x3 and 5x5, stride 1 or 2, no dilation) a row goes in tiles of MR pixels
// from the left, each loading an input vector once per kernel row and feeding it to every tap
// that reads it; only the tiles reaching into the left or right padding (or past the row's
// end) check their columns. Square kernels do two output rows per tile wherever all their
// input rows are inside the image, so an input row shared by both is loaded once. Other shapes
// split the row into edge pixels, computed one at a time with bounds checks, and interior
// tiles with no checks, loading per tap.
// Pixel tiles run outside, channel blocks inside: a tile reads a few whole input pixels
// (contiguous, all channels) per kernel row, which stay in L1 across the blocks. (Blocks
// outside with the weights held in registers was tried: each block's sweep re-reads the rows
// from L2 at the pixel stride, 1.6x slower on the MobileNetV2 layer.)
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

#include "conv_store_impl.hpp"
#include "flatten.hpp"
#include "row_register.hpp"

namespace bnrt::kernels {
namespace depthwise {

/// Which taps of one output row fall inside the input.
struct RowSpan {
  std::size_t kh_begin = 0, kh_end = 0;  ///< kernel rows inside the input
  std::ptrdiff_t ih0 = 0;                ///< input row of kernel row 0 (negative in padding)
  std::size_t ow_begin = 0, ow_end = 0;  ///< interior: output columns with every tap inside
};

inline RowSpan row_span(const ConvGeometry& g, std::size_t out_row) noexcept {
  RowSpan r;
  r.ih0 =
      static_cast<std::ptrdiff_t>(out_row * g.stride_h) - static_cast<std::ptrdiff_t>(g.pad_top);
  r.kh_begin = g.kernel_h;
  for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
    const std::ptrdiff_t ih = r.ih0 + static_cast<std::ptrdiff_t>(kh * g.dilation_h);
    if (ih >= 0 && ih < static_cast<std::ptrdiff_t>(g.in_h)) {
      r.kh_begin = std::min(r.kh_begin, kh);
      r.kh_end = kh + 1;
    }
  }
  if (r.kh_begin > r.kh_end) r.kh_begin = r.kh_end;
  // ow * stride - pad_left >= 0 and ow * stride - pad_left + (kernel_w - 1) * dilation < in_w.
  const std::size_t first = (g.pad_left + g.stride_w - 1) / g.stride_w;
  const std::ptrdiff_t last_numerator =
      static_cast<std::ptrdiff_t>(g.in_w + g.pad_left) - 1 -
      static_cast<std::ptrdiff_t>((g.kernel_w - 1) * g.dilation_w);
  const std::size_t end =
      last_numerator < 0
          ? 0
          : std::min(g.out_w, static_cast<std::size_t>(last_numerator) / g.stride_w + 1);
  if (first < end) {
    r.ow_begin = first;
    r.ow_end = end;
  } else {
    r.ow_begin = r.ow_end = g.out_w;  // no interior: every pixel is an edge pixel
  }
  return r;
}

/// Channel block [c0, c0 + cols) of the row, cols <= lanes: FULL loads whole vectors, else
/// cols channels (the last, partial block).
template <class Ops, bool FULL>
struct Block {
  using vec = typename Ops::vec;
  std::size_t c0, cols;

  vec load(const float* p) const noexcept {
    if constexpr (FULL) {
      return Ops::load(p);
    } else {
      return Ops::load_partial(p, cols);
    }
  }
  /// The same, kept in a register for several FMAs (see SimdOps::load_once).
  vec load_once(const float* p) const noexcept {
    if constexpr (FULL) {
      return Ops::load_once(p);
    } else {
      return Ops::load_partial(p, cols);
    }
  }
};

/// Stores pixels [ow0, ow0 + rows) of a tile of output row `row` of the call, channel block b.
template <class Ops, std::size_t MR, bool FULL>
inline void store_tile_row(typename Ops::vec (&acc)[MR][1], const DepthwiseRowArgs& a,
                           std::size_t row, std::size_t ow0, std::size_t rows,
                           const Block<Ops, FULL>& b) noexcept {
  TileOutput out = a.out;
  const std::size_t offset =
      (row * a.geometry->out_w + ow0) * out.pixel_stride + b.c0 * out.channel_stride;
  out.dst += offset;
  if (out.residual) out.residual += offset;
  store_tile<Ops, MR, 1>(acc, rows, b.cols, out);
}

/// One pixel whose taps may fall into the left or right padding.
template <class Ops, bool FULL>
inline void edge_pixel(const DepthwiseRowArgs& a, const RowSpan& r, std::size_t ow,
                       const Block<Ops, FULL>& b) noexcept {
  const ConvGeometry& g = *a.geometry;
  const std::size_t C = g.in_pixel_stride;
  typename Ops::vec acc[1][1] = {{Ops::load(a.bias + b.c0)}};
  const std::ptrdiff_t iw0 =
      static_cast<std::ptrdiff_t>(ow * g.stride_w) - static_cast<std::ptrdiff_t>(g.pad_left);
  for (std::size_t kh = r.kh_begin; kh < r.kh_end; ++kh) {
    const std::ptrdiff_t ih = r.ih0 + static_cast<std::ptrdiff_t>(kh * g.dilation_h);
    if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.in_h)) continue;  // dilated rows skip
    const float* in_row = a.image + static_cast<std::size_t>(ih) * g.in_w * C + b.c0;
    const float* w_row = a.weights + kh * g.kernel_w * a.weight_tap_stride + b.c0;
    for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
      const std::ptrdiff_t iw = iw0 + static_cast<std::ptrdiff_t>(kw * g.dilation_w);
      if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(g.in_w)) continue;
      acc[0][0] = Ops::fma(b.load(in_row + static_cast<std::size_t>(iw) * C),
                           Ops::load(w_row + kw * a.weight_tap_stride), acc[0][0]);
    }
  }
  store_tile_row<Ops, 1, FULL>(acc, a, 0, ow, 1, b);
}

/// MR interior pixels from ow0, any kernel width, stride and dilation: each tap is a load and
/// an FMA per pixel.
template <class Ops, std::size_t MR, bool FULL>
inline void interior_tile_any(const DepthwiseRowArgs& a, const RowSpan& r, std::size_t ow0,
                              const Block<Ops, FULL>& b) noexcept {
  const ConvGeometry& g = *a.geometry;
  const std::size_t C = g.in_pixel_stride;
  const std::size_t pixel_step = g.stride_w * C;
  typename Ops::vec acc[MR][1];
  const auto bias = Ops::load(a.bias + b.c0);
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) acc[m][0] = bias;
  const std::size_t iw0 = ow0 * g.stride_w - g.pad_left;
  for (std::size_t kh = r.kh_begin; kh < r.kh_end; ++kh) {
    const std::ptrdiff_t ih = r.ih0 + static_cast<std::ptrdiff_t>(kh * g.dilation_h);
    if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.in_h)) continue;
    const float* x = a.image + (static_cast<std::size_t>(ih) * g.in_w + iw0) * C + b.c0;
    const float* w_row = a.weights + kh * g.kernel_w * a.weight_tap_stride + b.c0;
    for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
      const auto w = Ops::load(w_row + kw * a.weight_tap_stride);
      const float* p = x + kw * g.dilation_w * C;
#pragma GCC unroll 16
      for (std::size_t m = 0; m < MR; ++m)
        acc[m][0] = Ops::fma(b.load(p + m * pixel_step), w, acc[m][0]);
    }
  }
  store_tile_row<Ops, MR, FULL>(acc, a, 0, ow0, MR, b);
}

/// Input column J of a kernel row feeds pixel (J - kw) / S through tap kw, when that divides
/// and lands inside the tile; unrolled at compile time so acc[] stays in registers.
template <class Ops, std::size_t MR, std::size_t KW, std::size_t S, std::size_t J,
          std::size_t... KWS>
inline void feed_column(typename Ops::vec (&acc)[MR][1], const typename Ops::vec& x,
                        const typename Ops::vec (&w)[KW], std::index_sequence<KWS...>) noexcept {
  const auto feed = [&]<std::size_t kw>(std::integral_constant<std::size_t, kw>) {
    if constexpr (J >= kw && (J - kw) % S == 0 && (J - kw) / S < MR) {
      acc[(J - kw) / S][0] = Ops::fma(x, w[kw], acc[(J - kw) / S][0]);
    }
  };
  (feed(std::integral_constant<std::size_t, KWS>{}), ...);
}

/// Input columns [0, (MR - 1) * S + KW) of one kernel row, from `row` (the row's first
/// channel of block b) at input column iw0, each handed to feed.template operator()<J>(x).
/// CLIP: columns outside [0, in_w) read as zero (the tile overlaps the left or right padding);
/// else every column is inside.
template <class Ops, std::size_t MR, std::size_t KW, std::size_t S, bool CLIP, bool FULL,
          class Feed, std::size_t... JS>
inline void kernel_row_fixed(const float* row, std::ptrdiff_t iw0, std::size_t in_w, std::size_t C,
                             const Block<Ops, FULL>& b, const Feed& feed,
                             std::index_sequence<JS...>) noexcept {
  const float* next = row;  // the unclipped tile's column pointer, one pixel on per column
  if constexpr (!CLIP) next = row_register<Ops>(row + static_cast<std::size_t>(iw0) * C);
  const auto column = [&](std::size_t j) {
    if constexpr (CLIP) {
      const std::ptrdiff_t iw = iw0 + static_cast<std::ptrdiff_t>(j);
      if (static_cast<std::size_t>(iw) >= in_w) return Ops::broadcast(0.0f);
      return b.load_once(row + static_cast<std::size_t>(iw) * C);
    } else {
      const typename Ops::vec x = b.load_once(next);
      next = row_register<Ops>(next + C);
      return x;
    }
  };
  (feed.template operator()<JS>(column(JS)), ...);
}

/// Output pixels [ow0, ow0 + rows) of the row (rows <= MR; CLIP when the tile reaches into the
/// left or right padding or past the row's end) for a KW-wide kernel at stride S, no dilation:
/// every input vector of a kernel row is loaded once and used by all the taps that read it.
template <class Ops, std::size_t MR, std::size_t KW, std::size_t S, bool CLIP, bool FULL>
inline void tile_fixed(const DepthwiseRowArgs& a, const RowSpan& r, std::size_t ow0,
                       std::size_t rows, const Block<Ops, FULL>& b) noexcept {
  const ConvGeometry& g = *a.geometry;
  const std::size_t C = g.in_pixel_stride;
  typename Ops::vec acc[MR][1];
  const auto bias = Ops::load(a.bias + b.c0);
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) acc[m][0] = bias;
  const std::ptrdiff_t iw0 =
      static_cast<std::ptrdiff_t>(ow0 * S) - static_cast<std::ptrdiff_t>(g.pad_left);
  for (std::size_t kh = r.kh_begin; kh < r.kh_end; ++kh) {
    const std::ptrdiff_t ih = r.ih0 + static_cast<std::ptrdiff_t>(kh * g.dilation_h);
    if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.in_h)) continue;
    const float* row = a.image + static_cast<std::size_t>(ih) * g.in_w * C + b.c0;
    const float* w_row = a.weights + kh * KW * a.weight_tap_stride + b.c0;
    typename Ops::vec w[KW];
#pragma GCC unroll 8
    for (std::size_t kw = 0; kw < KW; ++kw) w[kw] = Ops::load(w_row + kw * a.weight_tap_stride);
    const auto feed = [&]<std::size_t J>(const typename Ops::vec& x) {
      feed_column<Ops, MR, KW, S, J>(acc, x, w, std::make_index_sequence<KW>{});
    };
    kernel_row_fixed<Ops, MR, KW, S, CLIP, FULL>(row, iw0, g.in_w, C, b, feed,
                                                 std::make_index_sequence<(MR - 1) * S + KW>{});
  }
  store_tile_row<Ops, MR, FULL>(acc, a, 0, ow0, rows, b);
}

/// tile_fixed for two output rows at once (out_row and out_row + 1) of a K x K kernel at
/// stride S along both axes, every input row of the pair inside the image: each of the S + K
/// input rows is loaded once and feeds both output rows where they use it, so a pair reads
/// S + K rows instead of 2 * K (measured with 4-pixel tiles, AVX-512, MobileNetV2 3x3
/// 144x56x56 on 64-byte aligned buffers: 129 -> 99 us; stride 2: 44 -> 39 us). Flattened:
/// left to itself GCC calls store_tile out of line and the 2 x MR accumulators go through
/// memory (slower than one row at a time). (A version for any number of rows, with the feed
/// looping over them, compiled to code 15% slower at two rows; three and four rows gained
/// nothing.)
template <class Ops, std::size_t MR, std::size_t K, std::size_t S, bool CLIP, bool FULL>
BNRT_FLATTEN inline void tile_fixed_pair(const DepthwiseRowArgs& a, std::ptrdiff_t ih0,
                                         std::size_t ow0, std::size_t rows,
                                         const Block<Ops, FULL>& b) noexcept {
  using vec = typename Ops::vec;
  const ConvGeometry& g = *a.geometry;
  const std::size_t C = g.in_pixel_stride;
  vec acc[2][MR][1];
  const vec bias = Ops::load(a.bias + b.c0);
#pragma GCC unroll 16
  for (std::size_t m = 0; m < MR; ++m) acc[0][m][0] = acc[1][m][0] = bias;
  vec w[K][K];
#pragma GCC unroll 8
  for (std::size_t kh = 0; kh < K; ++kh) {
#pragma GCC unroll 8
    for (std::size_t kw = 0; kw < K; ++kw) {
      w[kh][kw] = Ops::load(a.weights + (kh * K + kw) * a.weight_tap_stride + b.c0);
    }
  }
  const std::ptrdiff_t iw0 =
      static_cast<std::ptrdiff_t>(ow0 * S) - static_cast<std::ptrdiff_t>(g.pad_left);
  const float* const first = a.image + static_cast<std::size_t>(ih0) * g.in_w * C + b.c0;
#pragma GCC unroll 8
  for (std::size_t r = 0; r < S + K; ++r) {
    const float* row = row_register<Ops>(first + r * g.in_w * C);
    // Input row r is kernel row r of output row 0 and kernel row r - S of output row 1.
    const auto feed = [&]<std::size_t J>(const vec& x) {
      if (r < K) feed_column<Ops, MR, K, S, J>(acc[0], x, w[r], std::make_index_sequence<K>{});
      if (r >= S && r - S < K) {
        feed_column<Ops, MR, K, S, J>(acc[1], x, w[r - S], std::make_index_sequence<K>{});
      }
    };
    kernel_row_fixed<Ops, MR, K, S, CLIP, FULL>(row, iw0, g.in_w, C, b, feed,
                                                std::make_index_sequence<(MR - 1) * S + K>{});
  }
  store_tile_row<Ops, MR, FULL>(acc[0], a, 0, ow0, rows, b);
  store_tile_row<Ops, MR, FULL>(acc[1], a, 1, ow0, rows, b);
}

/// Calls tile(block) for every channel block of the row: whole vectors, then the partial rest.
template <class Ops, class Tile>
inline void for_each_block(std::size_t channels, const Tile& tile) noexcept {
  constexpr std::size_t L = Ops::lanes;
  std::size_t c0 = 0;
  for (; c0 + L <= channels; c0 += L) tile(Block<Ops, true>{c0, L});
  if (c0 < channels) tile(Block<Ops, false>{c0, channels - c0});
}

/// One output row, all channels, for any kernel shape. Interior pixels go MR at a time, then MR /
/// 2, then singly; within a pixel tile the channel blocks run innermost, so a tile reads a few
/// whole input pixels (contiguous, all channels) per kernel row, which the hardware prefetchers
/// follow.
template <class Ops, std::size_t MR>
void row_any(const DepthwiseRowArgs& a) noexcept {
  const ConvGeometry& g = *a.geometry;
  const std::size_t channels = g.in_pixel_stride;
  const RowSpan r = row_span(g, a.out_row);
  const auto edges = [&](std::size_t begin, std::size_t end) {
    for (std::size_t ow = begin; ow < end; ++ow) {
      for_each_block<Ops>(channels, [&](const auto& b) { edge_pixel<Ops>(a, r, ow, b); });
    }
  };
  edges(0, r.ow_begin);
  std::size_t ow = r.ow_begin;
  for (; ow + MR <= r.ow_end; ow += MR) {
    for_each_block<Ops>(channels, [&](const auto& b) { interior_tile_any<Ops, MR>(a, r, ow, b); });
  }
  if constexpr (MR >= 4) {
    for (; ow + MR / 2 <= r.ow_end; ow += MR / 2) {
      for_each_block<Ops>(channels,
                          [&](const auto& b) { interior_tile_any<Ops, MR / 2>(a, r, ow, b); });
    }
  }
  for (; ow < r.ow_end; ++ow) {
    for_each_block<Ops>(channels, [&](const auto& b) { interior_tile_any<Ops, 1>(a, r, ow, b); });
  }
  edges(std::max(r.ow_end, r.ow_begin), g.out_w);
}

/// The call's rows from row i on: out_row + i, with out (and its residual) moved to that row.
inline DepthwiseRowArgs rows_from(const DepthwiseRowArgs& a, std::size_t i,
                                  std::size_t count) noexcept {
  DepthwiseRowArgs r = a;
  r.out_row = a.out_row + i;
  r.out_rows = count;
  const std::size_t offset = i * a.geometry->out_w * a.out.pixel_stride;
  r.out.dst += offset;
  if (r.out.residual) r.out.residual += offset;
  return r;
}

/// Calls tile.template operator()<CLIP>(ow, pixels, block) for the tiles of MR pixels of one
/// output row, every channel block; CLIP for the tiles reaching into the left or right
/// padding or past the row's end.
template <class Ops, std::size_t MR, std::size_t KW, std::size_t S, class Tile>
inline void walk_row_tiles(const ConvGeometry& g, const Tile& tile) noexcept {
  for (std::size_t ow = 0; ow < g.out_w; ow += MR) {
    const std::size_t pixels = std::min(MR, g.out_w - ow);
    const std::ptrdiff_t iw_first =
        static_cast<std::ptrdiff_t>(ow * S) - static_cast<std::ptrdiff_t>(g.pad_left);
    const bool inside = pixels == MR && iw_first >= 0 &&
                        iw_first + static_cast<std::ptrdiff_t>((MR - 1) * S + KW) <=
                            static_cast<std::ptrdiff_t>(g.in_w);
    for_each_block<Ops>(g.in_pixel_stride, [&](const auto& b) {
      if (inside) {
        tile.template operator()<false>(ow, pixels, b);
      } else {
        tile.template operator()<true>(ow, pixels, b);
      }
    });
  }
}

/// The call's rows for a KW-wide kernel at stride S, no dilation: tiles of MR pixels from the
/// left, the first and last clipped. Square kernels take two rows at a time (tile_fixed_pair)
/// wherever both rows' input rows are all inside the image; the rest go one at a time.
template <class Ops, std::size_t MR, std::size_t KW, std::size_t S>
void row_fixed(const DepthwiseRowArgs& a) noexcept {
  const ConvGeometry& g = *a.geometry;
  const bool square = g.kernel_h == KW && g.stride_h == S && g.dilation_h == 1;
  for (std::size_t i = 0; i < a.out_rows;) {
    const std::ptrdiff_t ih0 =
        static_cast<std::ptrdiff_t>((a.out_row + i) * S) - static_cast<std::ptrdiff_t>(g.pad_top);
    if (square && i + 1 < a.out_rows && ih0 >= 0 &&
        ih0 + static_cast<std::ptrdiff_t>(S + KW) <= static_cast<std::ptrdiff_t>(g.in_h)) {
      const DepthwiseRowArgs pair = rows_from(a, i, 2);
      walk_row_tiles<Ops, MR, KW, S>(
          g, [&]<bool CLIP>(std::size_t ow, std::size_t pixels, const auto& b) {
            tile_fixed_pair<Ops, MR, KW, S, CLIP>(pair, ih0, ow, pixels, b);
          });
      i += 2;
    } else {
      const DepthwiseRowArgs one = rows_from(a, i, 1);
      const RowSpan r = row_span(g, one.out_row);
      walk_row_tiles<Ops, MR, KW, S>(
          g, [&]<bool CLIP>(std::size_t ow, std::size_t pixels, const auto& b) {
            tile_fixed<Ops, MR, KW, S, CLIP>(one, r, ow, pixels, b);
          });
      i += 1;
    }
  }
}

}  // namespace depthwise

/// Output rows [out_row, out_row + out_rows) of a depthwise conv on channels-last input, all
/// channels (see above).
template <class Ops, std::size_t MR>
void depthwise_row(const DepthwiseRowArgs& a) noexcept {
  using namespace depthwise;
  const ConvGeometry& g = *a.geometry;
  if (g.dilation_w == 1) {
    if (g.kernel_w == 3 && g.stride_w == 1) return row_fixed<Ops, MR, 3, 1>(a);
    if (g.kernel_w == 3 && g.stride_w == 2) return row_fixed<Ops, MR, 3, 2>(a);
    if (g.kernel_w == 5 && g.stride_w == 1) return row_fixed<Ops, MR, 5, 1>(a);
    if (g.kernel_w == 5 && g.stride_w == 2) return row_fixed<Ops, MR, 5, 2>(a);
  }
  for (std::size_t i = 0; i < a.out_rows; ++i) row_any<Ops, MR>(rows_from(a, i, 1));
}

}  // namespace bnrt::kernels
