// Kernel bodies for per-block, per-channel moments, written once against the Ops vocabulary
// (SimdOps<Arch> or ScalarOps) and instantiated per ISA by moments_<isa>.cpp.
//
// Each block is summed around a shift K, the block's own first value of the channel: with
// d = x - K (exact in double for float x), s = sum d and q = sum d^2 give
//   mean = K + s / n,   M2 = q - s^2 / n.
// K sits inside the data, so d is of the order of the spread and the subtraction in M2 loses
// nothing to a large common offset (x = 1000 + noise), unlike E[x^2] - E[x]^2.
#pragma once

#include <cstddef>

#include "moments_kernels.hpp"

namespace bnrt::kernels {

template <class Ops>
inline void finish_block(double shift, double sum, double sum_squares, double count, double* mean,
                         double* m2) noexcept {
  *mean = shift + sum / count;
  const double spread = sum_squares - sum * sum / count;
  *m2 = spread > 0 ? spread : 0.0;  // rounding can leave a constant block's M2 at -0 or -1e-30
}

/// Moments of n contiguous values of one channel (channels-first segment).
template <class Ops>
void contiguous_moments(const float* x, std::size_t n, double* mean, double* m2) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  constexpr std::size_t kUnroll = 4;  // independent accumulators hide the FP add latency
  const double shift_value = x[0];
  const vecd shift = Ops::broadcast_d(shift_value);
  vecd s[kUnroll];
  vecd q[kUnroll];
  for (std::size_t u = 0; u < kUnroll; ++u) {
    s[u] = Ops::broadcast_d(0.0);
    q[u] = Ops::broadcast_d(0.0);
  }
  std::size_t i = 0;
  for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes) {
    for (std::size_t u = 0; u < kUnroll; ++u) {
      const vecd d = Ops::load_widened(x + i + u * kLanes) - shift;
      s[u] = s[u] + d;
      q[u] = Ops::fma_d(d, d, q[u]);
    }
  }
  for (; i + kLanes <= n; i += kLanes) {
    const vecd d = Ops::load_widened(x + i) - shift;
    s[0] = s[0] + d;
    q[0] = Ops::fma_d(d, d, q[0]);
  }
  if (i < n) {
    // Lanes past the tail load as 0; subtracting the shift there would count them, so mask.
    const vecd loaded = Ops::load_widened_partial(x + i, n - i);
    alignas(64) double lanes[kLanes > 1 ? kLanes : 1];
    Ops::store_d(lanes, loaded - shift);
    for (std::size_t lane = n - i; lane < kLanes; ++lane) lanes[lane] = 0.0;
    vecd d;
    if constexpr (kLanes > 1) {
      d = vecd::load_aligned(lanes);
    } else {
      d = lanes[0];
    }
    s[1 % kUnroll] = s[1 % kUnroll] + d;
    q[1 % kUnroll] = Ops::fma_d(d, d, q[1 % kUnroll]);
  }
  const vecd s_all = (s[0] + s[1]) + (s[2] + s[3]);
  const vecd q_all = (q[0] + q[1]) + (q[2] + q[3]);
  finish_block<Ops>(shift_value, Ops::sum(s_all), Ops::sum(q_all), static_cast<double>(n), mean,
                    m2);
}

template <class Ops>
void channels_first_moments(const MomentsArgs& args, std::size_t first, std::size_t end) noexcept {
  for (std::size_t block = first; block < end; ++block) {
    const std::size_t plane = block / args.segments;
    const std::size_t piece = block % args.segments;
    const std::size_t begin = piece * args.segment;
    const std::size_t length =
        args.inner - begin < args.segment ? args.inner - begin : args.segment;
    contiguous_moments<Ops>(args.src + plane * args.inner + begin, length, args.mean + block,
                            args.m2 + block);
  }
}

/// Channels-last: a tile of kTileVectors * dlanes channels keeps its shift, sums and sums of
/// squares in registers while walking the block's rows (each row's tile is 2 cache lines on
/// AVX-512), then writes one (mean, M2) per channel.
template <class Ops>
void channels_last_moments(const MomentsArgs& args, std::size_t first, std::size_t end) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  constexpr std::size_t kTileVectors = 4;
  constexpr std::size_t kTile = kTileVectors * kLanes;
  const std::size_t channels = args.channels;
  for (std::size_t block = first; block < end; ++block) {
    const std::size_t row_begin = block * args.block_rows;
    const std::size_t row_end =
        args.rows - row_begin < args.block_rows ? args.rows : row_begin + args.block_rows;
    const double count = static_cast<double>(row_end - row_begin);
    const float* first_row = args.src + row_begin * channels;
    for (std::size_t c0 = 0; c0 < channels; c0 += kTile) {
      const std::size_t width = channels - c0 < kTile ? channels - c0 : kTile;
      // Lanes in use per vector of the tile (the last tile of a row may be partial).
      std::size_t used[kTileVectors];
      vecd shift[kTileVectors];
      vecd s[kTileVectors];
      vecd q[kTileVectors];
      for (std::size_t v = 0; v < kTileVectors; ++v) {
        const std::size_t offset = v * kLanes;
        used[v] = width > offset ? (width - offset < kLanes ? width - offset : kLanes) : 0;
        shift[v] = used[v] == kLanes ? Ops::load_widened(first_row + c0 + offset)
                                     : Ops::load_widened_partial(first_row + c0 + offset, used[v]);
        s[v] = Ops::broadcast_d(0.0);
        q[v] = Ops::broadcast_d(0.0);
      }
      for (std::size_t row = row_begin; row < row_end; ++row) {
        const float* x = args.src + row * channels + c0;
        for (std::size_t v = 0; v < kTileVectors; ++v) {
          if (used[v] == 0) break;
          // Unused lanes load 0 and had a shift of 0: they stay 0.
          const vecd value = used[v] == kLanes ? Ops::load_widened(x + v * kLanes)
                                               : Ops::load_widened_partial(x + v * kLanes, used[v]);
          const vecd d = value - shift[v];
          s[v] = s[v] + d;
          q[v] = Ops::fma_d(d, d, q[v]);
        }
      }
      for (std::size_t v = 0; v < kTileVectors && used[v] > 0; ++v) {
        alignas(64) double shift_lanes[kLanes];
        alignas(64) double s_lanes[kLanes];
        alignas(64) double q_lanes[kLanes];
        Ops::store_d(shift_lanes, shift[v]);
        Ops::store_d(s_lanes, s[v]);
        Ops::store_d(q_lanes, q[v]);
        for (std::size_t lane = 0; lane < used[v]; ++lane) {
          const std::size_t index = block * channels + c0 + v * kLanes + lane;
          finish_block<Ops>(shift_lanes[lane], s_lanes[lane], q_lanes[lane], count,
                            args.mean + index, args.m2 + index);
        }
      }
    }
  }
}

template <class Ops>
constexpr MomentsKernelTable make_moments_table() noexcept {
  return MomentsKernelTable{&channels_first_moments<Ops>, &channels_last_moments<Ops>};
}

}  // namespace bnrt::kernels
