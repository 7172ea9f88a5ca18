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
#include <type_traits>

#include "moments_kernels.hpp"
#include "narrow_planes.hpp"

namespace bnrt::kernels {

template <class Ops>
inline void finish_block(double shift, double sum, double sum_squares, double count, double* mean,
                         double* m2) noexcept {
  *mean = shift + sum / count;
  const double spread = sum_squares - sum * sum / count;
  *m2 = spread > 0 ? spread : 0.0;  // rounding can leave a constant block's M2 at -0 or -1e-30
}

/// Sums and sums of squares of d = x - shift over whole planes, in four accumulator pairs
/// that hide FP latency: a plane's whole vectors go through them in turn and its partial
/// vector into the first, so a 7x7 plane (six vectors and one value on AVX-512) keeps four
/// chains busy too.
template <class Ops>
struct FourChainSums {
  using vecd = typename Ops::vecd;
  static constexpr std::size_t kUnroll = 4;
  vecd s[kUnroll], q[kUnroll];

  FourChainSums() noexcept {
    for (std::size_t u = 0; u < kUnroll; ++u) s[u] = q[u] = Ops::broadcast_d(0.0);
  }
  void add_plane(const float* x, std::size_t n, const vecd& shift) noexcept {
    constexpr std::size_t kLanes = Ops::dlanes;
    std::size_t i = 0;
    for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes) {
#pragma GCC unroll 4
      for (std::size_t u = 0; u < kUnroll; ++u) {
        const vecd d = Ops::load_widened(x + i + u * kLanes) - shift;
        s[u] = Ops::add_d_on_fma(s[u], d);
        q[u] = Ops::fma_d(d, d, q[u]);
      }
    }
#pragma GCC unroll 3
    for (std::size_t u = 1; u < kUnroll; ++u) {
      if (i + kLanes <= n) {
        const vecd d = Ops::load_widened(x + i) - shift;
        s[u] = Ops::add_d_on_fma(s[u], d);
        q[u] = Ops::fma_d(d, d, q[u]);
        i += kLanes;
      }
    }
    if (i < n) {
      // Lanes past the tail load as 0; the masked subtraction keeps them at 0 (not -shift).
      const vecd d = Ops::sub_first_d(Ops::load_widened_partial(x + i, n - i), shift, n - i);
      s[0] = s[0] + d;
      q[0] = Ops::fma_d(d, d, q[0]);
    }
  }
  vecd sums() const noexcept { return (s[0] + s[1]) + (s[2] + s[3]); }
  vecd squares() const noexcept { return (q[0] + q[1]) + (q[2] + q[3]); }
};

/// Moments of one channels-first block: `planes` runs of `length` values (see
/// channels_first_block), all through one FourChainSums.
template <class Ops>
void channels_first_block_moments(const ChannelsFirstBlock& block, double* mean,
                                  double* m2) noexcept {
  const std::size_t n = block.length;
  const double shift_value = block.first[0];
  const typename Ops::vecd shift = Ops::broadcast_d(shift_value);
  FourChainSums<Ops> chains;
  for (std::size_t plane = 0; plane < block.planes; ++plane) {
    chains.add_plane(block.first + plane * block.stride, n, shift);
  }
  const double count = static_cast<double>(block.planes * n);
  finish_block<Ops>(shift_value, Ops::sum(chains.sums()), Ops::sum(chains.squares()), count, mean,
                    m2);
}

/// Blocks [first, first + count) of one whole plane each (count <= dlanes): each plane
/// through its own FourChainSums as above, then the blocks' horizontal sums taken together and
/// finished as one vector (as finish_block, lane by lane). Below about 1000 values a plane
/// otherwise spends a third of its time on two horizontal sums and two divisions (NCHW
/// 32x256x14x14, dev machine). Every lane is reduced by the same tree whatever its
/// neighbours, so a block's result does not depend on how blocks were grouped or split.
template <class Ops>
[[gnu::always_inline]] inline void plane_lanes_moments(const MomentsArgs& args, std::size_t first,
                                                       std::size_t count) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const std::size_t n = args.inner;
  // Planes one value past whole vectors (7x7: 6 x 8 + 1) keep it apart, the group's in one
  // vector added after the horizontal sums, instead of a masked vector per plane.
  const bool last_apart = kLanes > 1 && n % kLanes == 1;
  alignas(64) double shift_values[kLanes] = {};
  alignas(64) double last_values[kLanes] = {};
  vecd sums[kLanes], squares[kLanes];
  for (std::size_t p = 0; p < kLanes; ++p) sums[p] = squares[p] = Ops::broadcast_d(0.0);
  for (std::size_t p = 0; p < count; ++p) {
    const float* x = args.src + (first + p) * n;
    shift_values[p] = x[0];
    FourChainSums<Ops> chains;
    chains.add_plane(x, last_apart ? n - 1 : n, Ops::broadcast_d(shift_values[p]));
    if (last_apart) last_values[p] = x[n - 1];
    sums[p] = chains.sums();
    squares[p] = chains.squares();
  }
  vecd s = Ops::sums_d(sums);
  vecd q = Ops::sums_d(squares);
  if (last_apart) {  // lanes past count: 0 - 0
    const vecd d = Ops::load_d(last_values) - Ops::load_d(shift_values);
    s = s + d;
    q = Ops::fma_d(d, d, q);
  }
  const vecd values = Ops::broadcast_d(static_cast<double>(n));
  const vecd zero = Ops::broadcast_d(0.0);
  const vecd spread = q - s * s / values;
  Ops::store_d_partial(args.mean + first, Ops::load_d(shift_values) + s / values, count);
  Ops::store_d_partial(args.m2 + first, Ops::select_d(spread > zero, spread, zero), count);
}

/// kChannels consecutive blocks of one group (planes of several samples): in each sample the
/// tile's planes lie side by side, so the walk reads them in memory order (one channel at a
/// time would read a plane per sample, C planes apart). Two accumulator pairs per channel; a
/// channel's arithmetic does not depend on kChannels.
template <class Ops, std::size_t kChannels>
void grouped_planes_moments(const MomentsArgs& args, std::size_t first_block) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const ChannelsFirstBlock block = channels_first_block(args, first_block);
  const std::size_t n = block.length;
  const vecd zero = Ops::broadcast_d(0.0);
  double shift_values[kChannels] = {};  // set from each plane 0 in walk order
  vecd shift[kChannels], s0[kChannels], s1[kChannels], q0[kChannels], q1[kChannels];
  for (std::size_t t = 0; t < kChannels; ++t) shift[t] = s0[t] = s1[t] = q0[t] = q1[t] = zero;
  // Planes one value past whole vectors (7x7: 6 x 8 + 1 on AVX-512) keep that value apart,
  // dlanes planes' worth in one vector, instead of a masked vector per plane.
  const bool last_apart = kLanes > 1 && n % kLanes == 1;
  const std::size_t vector_end = last_apart ? n - 1 : n;
  alignas(64) double last[kChannels][kLanes] = {};
  std::size_t lane = 0;
  const auto add_last = [&](std::size_t lanes) {
    for (std::size_t t = 0; t < kChannels; ++t) {
      const vecd d = Ops::sub_first_d(Ops::load_d(last[t]), shift[t], lanes);
      s1[t] = s1[t] + d;
      q1[t] = Ops::fma_d(d, d, q1[t]);
    }
  };
  for (std::size_t plane = 0; plane < block.planes; ++plane) {
#pragma GCC unroll 4
    for (std::size_t t = 0; t < kChannels; ++t) {
      const float* x = block.first + plane * block.stride + t * n;
      if (plane == 0) {
        shift_values[t] = x[0];
        shift[t] = Ops::broadcast_d(shift_values[t]);
      }
      std::size_t i = 0;
      for (; i + 2 * kLanes <= vector_end; i += 2 * kLanes) {
        const vecd a = Ops::load_widened(x + i) - shift[t];
        const vecd b = Ops::load_widened(x + i + kLanes) - shift[t];
        s0[t] = Ops::add_d_on_fma(s0[t], a);
        s1[t] = Ops::add_d_on_fma(s1[t], b);
        q0[t] = Ops::fma_d(a, a, q0[t]);
        q1[t] = Ops::fma_d(b, b, q1[t]);
      }
      if (i + kLanes <= vector_end) {
        const vecd a = Ops::load_widened(x + i) - shift[t];
        s0[t] = Ops::add_d_on_fma(s0[t], a);
        q0[t] = Ops::fma_d(a, a, q0[t]);
        i += kLanes;
      }
      if (i < vector_end) {
        const vecd d = Ops::sub_first_d(Ops::load_widened_partial(x + i, n - i), shift[t], n - i);
        s1[t] = s1[t] + d;
        q1[t] = Ops::fma_d(d, d, q1[t]);
      }
      if (last_apart) last[t][lane] = x[n - 1];
    }
    if (last_apart && ++lane == kLanes) {
      add_last(kLanes);
      lane = 0;
    }
  }
  if (lane > 0) add_last(lane);
  const double count = static_cast<double>(block.planes * n);
  for (std::size_t t = 0; t < kChannels; ++t) {
    finish_block<Ops>(shift_values[t], Ops::sum(s0[t] + s1[t]), Ops::sum(q0[t] + q1[t]), count,
                      args.mean + first_block + t, args.m2 + first_block + t);
  }
}

/// Blocks [first, end) as tiles of kTile blocks where kTile consecutive channels of one group
/// (and one segment: `segments` apart) are inside the range, one block at a time elsewhere.
template <std::size_t kTile, class TileFn, class SingleFn>
inline void walk_channel_tiles(const MomentsArgs& args, std::size_t first, std::size_t end,
                               TileFn tile, SingleFn single) noexcept {
  for (std::size_t block = first; block < end;) {
    const std::size_t channel = block / args.segments % args.channels;
    const std::size_t span = (kTile - 1) * args.segments + 1;  // blocks the tile reaches
    if (args.segments == 1 && channel + kTile <= args.channels && block + span <= end) {
      tile(block);
      block += kTile;
    } else {
      single(block);
      ++block;
    }
  }
}

/// Mean and M2 of a narrow plane group's kLanes channels from c0 on (one group of all samples:
/// block = channel), from their float shifts and double lane totals of d and d * d in
/// vector-then-lane order, where lanes p * kInner .. p * kInner + kInner - 1 are channel
/// c0 + p's: each channel's lanes added in lane order.
template <std::size_t kLanes, std::size_t kInner>
void finish_narrow_plane_group(const MomentsArgs& args, std::size_t c0, const float* shifts,
                               const double* total_s, const double* total_q) noexcept {
  const double count = static_cast<double>(args.samples * kInner);
  for (std::size_t p = 0; p < kLanes; ++p) {
    double sum = 0.0, squares = 0.0;
    for (std::size_t k = 0; k < kInner; ++k) {
      sum += total_s[p * kInner + k];
      squares += total_q[p * kInner + k];
    }
    const double spread = squares - sum * sum / count;
    args.mean[c0 + p] = static_cast<double>(shifts[p]) + sum / count;
    args.m2[c0 + p] = spread > 0.0 ? spread : 0.0;
  }
}

/// Vectors [kFirst, kFirst + kCount) of a narrow plane group (see narrow_plane_group_moments)
/// down all samples, into the lane totals; then the next few, so that a walk's double sums
/// and shifts (6 registers per vector) stay in registers.
template <class Ops, std::size_t kInner, std::size_t kFirst>
inline void narrow_plane_vectors(const MomentsArgs& args, const float* group,
                                 const typename Ops::vec& channel_shifts, double* total_s,
                                 double* total_q) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kHalf = Ops::dlanes;
  constexpr std::size_t kWalk = 4;
  constexpr std::size_t kCount = kInner - kFirst < kWalk ? kInner - kFirst : kWalk;
  const auto& index = kNarrowPlaneIndex<kLanes>.at[kInner];
  const std::size_t sample_stride = args.channels * kInner;
  vecd shift[kCount][2], s[kCount][2], q[kCount][2];
  for (std::size_t j = 0; j < kCount; ++j) {
    const typename Ops::vec lanes_shift = Ops::permute_lanes(channel_shifts, index[kFirst + j]);
    shift[j][0] = Ops::widen_lo(lanes_shift);
    shift[j][1] = Ops::widen_hi(lanes_shift);
    s[j][0] = s[j][1] = q[j][0] = q[j][1] = Ops::broadcast_d(0.0);
  }
  for (std::size_t n = 0; n < args.samples; ++n) {
    const float* x = group + n * sample_stride + kFirst * kLanes;
#pragma GCC unroll 4
    for (std::size_t j = 0; j < kCount; ++j) {
      const typename Ops::vec v = Ops::load(x + j * kLanes);
      const vecd d_lo = Ops::widen_lo(v) - shift[j][0];
      const vecd d_hi = Ops::widen_hi(v) - shift[j][1];
      s[j][0] = Ops::add_d_on_fma(s[j][0], d_lo);
      s[j][1] = Ops::add_d_on_fma(s[j][1], d_hi);
      q[j][0] = Ops::fma_d(d_lo, d_lo, q[j][0]);
      q[j][1] = Ops::fma_d(d_hi, d_hi, q[j][1]);
    }
  }
  for (std::size_t j = 0; j < kCount; ++j) {
    for (std::size_t half = 0; half < 2; ++half) {
      Ops::store_d(total_s + (kFirst + j) * kLanes + half * kHalf, s[j][half]);
      Ops::store_d(total_q + (kFirst + j) * kLanes + half * kHalf, q[j][half]);
    }
  }
  if constexpr (kFirst + kCount < kInner) {
    narrow_plane_vectors<Ops, kInner, kFirst + kCount>(args, group, channel_shifts, total_s,
                                                       total_q);
  }
}

/// Exact moments of one group of `lanes` channels [c0, c0 + lanes) whose planes are narrower
/// than a vector (kInner values), over all samples: the group's kInner vectors of each sample
/// widened and summed down the samples lane by lane in double (a few vectors per walk), each
/// lane shifted by its channel's first value (exact in double); a channel's kInner lane
/// totals are then added in lane order. Per-plane blocks of 2x2 or 3x3 values (two
/// horizontal sums and a finish per plane) read NCHW 32x512x3x3 at a quarter of memcpy's
/// rate, 32x2048x2x2 at a tenth.
template <class Ops, std::size_t kInner>
void narrow_plane_group_moments(const MomentsArgs& args, std::size_t c0) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const float* const group = args.src + c0 * kInner;
  alignas(64) float first_values[kLanes];
  for (std::size_t p = 0; p < kLanes; ++p) first_values[p] = group[p * kInner];
  alignas(64) double total_s[kInner * kLanes];
  alignas(64) double total_q[kInner * kLanes];
  narrow_plane_vectors<Ops, kInner, 0>(args, group, Ops::load(first_values), total_s, total_q);
  finish_narrow_plane_group<kLanes, kInner>(args, c0, first_values, total_s, total_q);
}

template <class Ops>
void channels_first_moments(const MomentsArgs& args, std::size_t first, std::size_t end) noexcept {
  if constexpr (Ops::has_lane_permute && Ops::dlanes > 1) {
    // One group of all samples (block b is channel b), whole groups of `lanes` channels.
    if (args.inner < Ops::lanes && args.group > 1 && args.group == args.samples) {
      const std::size_t whole_end = first + (end - first) / Ops::lanes * Ops::lanes;
      with_inner_count<Ops::lanes>(args.inner, [&]<std::size_t kInner>() {
        for (std::size_t c0 = first; c0 < whole_end; c0 += Ops::lanes) {
          narrow_plane_group_moments<Ops, kInner>(args, c0);
        }
      });
      first = whole_end;
    }
  }
  if (args.group > 1) {
    constexpr std::size_t kTile = Ops::accumulator_vectors / 2;
    walk_channel_tiles<kTile>(
        args, first, end, [&](std::size_t b) { grouped_planes_moments<Ops, kTile>(args, b); },
        [&](std::size_t b) { grouped_planes_moments<Ops, 1>(args, b); });
    return;
  }
  if constexpr (Ops::dlanes > 1) {
    if (args.segments == 1) {  // one plane per block (group is 1 here): block b is plane b
      std::size_t block = first;
      for (; Ops::dlanes <= end - block; block += Ops::dlanes) {
        plane_lanes_moments<Ops>(args, block, Ops::dlanes);  // a constant count once inlined
      }
      if (block < end) plane_lanes_moments<Ops>(args, block, end - block);
      return;
    }
  }
  for (std::size_t block = first; block < end; ++block) {
    channels_first_block_moments<Ops>(channels_first_block(args, block), args.mean + block,
                                      args.m2 + block);
  }
}

/// A channels-last block: its row block (the output row of partial results), its rows and its
/// slice of channels.
struct ChannelsLastBlock {
  std::size_t row_block, row_begin, row_end, channel_begin, channel_end;
};

inline ChannelsLastBlock channels_last_block(const MomentsArgs& args, std::size_t block) noexcept {
  const std::size_t row_block = block / args.slices;
  const std::size_t row_begin = row_block * args.block_rows;
  const std::size_t channel_begin = block % args.slices * args.slice_channels;
  return {row_block, row_begin,
          args.rows - row_begin < args.block_rows ? args.rows : row_begin + args.block_rows,
          channel_begin,
          args.channels - channel_begin < args.slice_channels
              ? args.channels
              : channel_begin + args.slice_channels};
}

/// Channels-last blocks walked tile by tile from DRAM (those cut into channel slices): the
/// first tile's pass prefetches the rest of each row into L2 (the block fits there), so later
/// tiles find their lines in cache; otherwise each later pass reads a strided subset of every
/// row and the hardware prefetchers lose track (measured NHWC 32x56x56x128: 11 GB/s without).
template <class Ops>
inline void prefetch_rest_of_row(const float* from, std::size_t floats) noexcept {
  constexpr std::size_t kFloatsPerLine = 16;
  for (std::size_t i = 0; i < floats; i += kFloatsPerLine) {
    __builtin_prefetch(from + i, 0, 2);  // read, keep in L2 (prefetcht1)
  }
}

/// The rows a channels-last walk from DRAM reads next, requested line by line in memory order
/// while it reads the current ones: each row step of each tile requests its share, so the
/// next rows arrive in order, spread over the current ones. Dev machine, one thread, loads
/// alone over 51 MB of rows of 256 to 2048 channels: tile walks with the first tile
/// prefetching the rest of each row 3.9-4.7 ms, 16 rows at a time across the tiles with these
/// requests 2.2-2.7 ms (rows in memory order: 1.7-1.9). Requesting 16 rows at once, at the
/// start of each run, was no faster than the old walk.
struct NextRowsPrefetch {
  const float* first = nullptr;      ///< the walk's first channel in row 0
  std::size_t stride = 0;            ///< floats from row to row
  std::size_t width = 0;             ///< floats of each row the walk reads
  std::size_t row = 0, row_end = 0;  ///< rows still to request: [row, row_end)
  std::size_t done = 0;              ///< floats of `row` already requested
  std::size_t lines_per_step = 0;    ///< lines requested per row step of a tile

  /// The next `rows` rows from `next` on, but none from `walk_end` on.
  void restart(std::size_t next, std::size_t rows, std::size_t walk_end) noexcept {
    row = next;
    row_end = walk_end - next < rows ? walk_end : next + rows;
    done = 0;
  }
  void request() noexcept {
    constexpr std::size_t kFloatsPerLine = 16;
    for (std::size_t k = 0; k < lines_per_step && row < row_end; ++k) {
      __builtin_prefetch(first + row * stride + done, 0, 2);  // read, into L2 (prefetcht1)
      done += kFloatsPerLine;
      if (done >= width) {
        done = 0;
        ++row;
      }
    }
  }
};

/// The requests of a run-major group of `tiles` tiles `tile` channels wide from c0 on: the
/// group's columns (after the last group's, also the few left for narrower walks), paced so
/// that the group's row steps request a row's worth per row.
inline NextRowsPrefetch group_prefetch(const MomentsArgs& args, std::size_t c0, std::size_t tiles,
                                       std::size_t tile, std::size_t channel_end) noexcept {
  constexpr std::size_t kFloatsPerLine = 16;
  const std::size_t group_end = c0 + tiles * tile;
  NextRowsPrefetch ahead;
  ahead.first = args.src + c0;
  ahead.stride = args.channels;
  ahead.width = (channel_end - group_end < tile ? channel_end : group_end) - c0;
  const std::size_t lines = (ahead.width + kFloatsPerLine - 1) / kFloatsPerLine;
  ahead.lines_per_step = (lines + tiles - 1) / tiles;
  return ahead;
}

/// Channels-last, one tile of kVectors * dlanes channels: its shift, sums and sums of squares,
/// kept in registers while rows stream past (fixed-size arrays, fully unrolled, no early exit,
/// so the compiler never spills them). The steps are split out (start, rows, finish) so that a
/// walk may take a few rows of several tiles in turn (see run_major_moments) with each tile's
/// arithmetic unchanged.
template <class Ops, std::size_t kVectors>
struct ExactTile {
  using vecd = typename Ops::vecd;
  static constexpr std::size_t kLanes = Ops::dlanes;
  vecd shift[kVectors], s[kVectors], q[kVectors];

  /// The shift (the block's first row) and zero sums.
  void start(const MomentsArgs& args, std::size_t row_begin, std::size_t c0) noexcept {
    const float* first_row = args.src + row_begin * args.channels + c0;
    for (std::size_t v = 0; v < kVectors; ++v) {
      shift[v] = Ops::load_widened(first_row + v * kLanes);
      s[v] = Ops::broadcast_d(0.0);
      q[v] = Ops::broadcast_d(0.0);
    }
  }

  /// Rows [row_begin, row_end); the first walk of a block from DRAM requests the rest of each
  /// row (prefetch_floats), a run-major one its share of the next rows (ahead).
  void add_rows(const MomentsArgs& args, std::size_t row_begin, std::size_t row_end, std::size_t c0,
                std::size_t prefetch_floats, NextRowsPrefetch* ahead) noexcept {
    vecd sv[kVectors], qv[kVectors];
    for (std::size_t v = 0; v < kVectors; ++v) {
      sv[v] = s[v];
      qv[v] = q[v];
    }
    for (std::size_t row = row_begin; row < row_end; ++row) {
      const float* x = args.src + row * args.channels + c0;
      prefetch_rest_of_row<Ops>(x + kVectors * kLanes, prefetch_floats);
      if (ahead != nullptr) ahead->request();
#pragma GCC unroll 16
      for (std::size_t v = 0; v < kVectors; ++v) {
        const vecd d = Ops::load_widened(x + v * kLanes) - shift[v];
        sv[v] = Ops::add_d_on_fma(sv[v], d);
        qv[v] = Ops::fma_d(d, d, qv[v]);
      }
    }
    for (std::size_t v = 0; v < kVectors; ++v) {
      s[v] = sv[v];
      q[v] = qv[v];
    }
  }

  /// mean = shift + s / n and M2 = max(0, q - s^2 / n), a vector at a time (one reciprocal).
  void finish(const MomentsArgs& args, std::size_t block, std::size_t count,
              std::size_t c0) const noexcept {
    const vecd inverse_count = Ops::broadcast_d(1.0 / static_cast<double>(count));
    const vecd zero = Ops::broadcast_d(0.0);
    const std::size_t index = block * args.channels + c0;
    for (std::size_t v = 0; v < kVectors; ++v) {
      Ops::store_d(args.mean + index + v * kLanes, Ops::fma_d(s[v], inverse_count, shift[v]));
      const vecd spread = q[v] - s[v] * s[v] * inverse_count;
      Ops::store_d(args.m2 + index + v * kLanes, Ops::max_d(spread, zero));
    }
  }
};

/// One tile over all of a block's rows.
template <class Ops, std::size_t kVectors>
inline void full_tile_moments(const MomentsArgs& args, std::size_t block, std::size_t row_begin,
                              std::size_t row_end, std::size_t c0,
                              std::size_t prefetch_floats) noexcept {
  ExactTile<Ops, kVectors> tile;
  tile.start(args, row_begin, c0);
  tile.add_rows(args, row_begin, row_end, c0, prefetch_floats, nullptr);
  tile.finish(args, block, row_end - row_begin, c0);
}

/// Rows per step of a run-major walk (each tile takes this many rows before the next tile).
inline constexpr std::size_t kRunMajorRows = 16;
/// Full tiles per run-major group (states on the stack: 1.5 KiB per tile on AVX-512).
inline constexpr std::size_t kExactRunMajorTiles = 16;

/// Full tiles [c0, c0 + tiles * tile width) of a block, kRunMajorRows rows at a time across
/// the tiles: the walk stays within a few pages instead of crossing every row of the block
/// once per tile. From DRAM, `ahead` requests the next rows (up to walk_end) meanwhile. Each
/// tile's arithmetic is exactly full_tile_moments', so results are bitwise the same.
template <class Ops>
inline void run_major_moments(const MomentsArgs& args, std::size_t block, std::size_t row_begin,
                              std::size_t row_end, std::size_t c0, std::size_t tiles,
                              NextRowsPrefetch* ahead, std::size_t walk_end) noexcept {
  constexpr std::size_t kVectors = Ops::accumulator_vectors;
  constexpr std::size_t kTile = kVectors * Ops::dlanes;
  ExactTile<Ops, kVectors> state[kExactRunMajorTiles];
  for (std::size_t t = 0; t < tiles; ++t) state[t].start(args, row_begin, c0 + t * kTile);
  for (std::size_t run = row_begin; run < row_end; run += kRunMajorRows) {
    const std::size_t run_end = row_end - run < kRunMajorRows ? row_end : run + kRunMajorRows;
    if (ahead != nullptr) ahead->restart(run_end, kRunMajorRows, walk_end);
    for (std::size_t t = 0; t < tiles; ++t) {
      state[t].add_rows(args, run, run_end, c0 + t * kTile, 0, ahead);
    }
  }
  for (std::size_t t = 0; t < tiles; ++t) {
    state[t].finish(args, block, row_end - row_begin, c0 + t * kTile);
  }
}

/// The channels [c0, c_end) left after the full tiles (fewer than a tile): one vector at a
/// time, the last one partial. Rare and narrow, so simplicity over speed.
template <class Ops>
inline void tail_channels_moments(const MomentsArgs& args, std::size_t block, std::size_t row_begin,
                                  std::size_t row_end, std::size_t c0, std::size_t c_end) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const std::size_t channels = args.channels;
  const vecd inverse_count = Ops::broadcast_d(1.0 / static_cast<double>(row_end - row_begin));
  const vecd zero = Ops::broadcast_d(0.0);
  for (std::size_t c = c0; c < c_end; c += kLanes) {
    const std::size_t used = c_end - c < kLanes ? c_end - c : kLanes;
    auto load = [&](const float* p) {
      return used == kLanes ? Ops::load_widened(p) : Ops::load_widened_partial(p, used);
    };
    // Unused lanes load 0 with a shift of 0: they stay 0 and are never written out.
    const vecd shift = load(args.src + row_begin * channels + c);
    vecd s = Ops::broadcast_d(0.0);
    vecd q = Ops::broadcast_d(0.0);
    for (std::size_t row = row_begin; row < row_end; ++row) {
      const vecd d = load(args.src + row * channels + c) - shift;
      s = s + d;
      q = Ops::fma_d(d, d, q);
    }
    // Finished exactly as full_tile_moments finishes a lane, so that a channel's result does
    // not depend on which of the two reduced it (channel slices move the tile edges).
    const std::size_t index = block * channels + c;
    const vecd mean = Ops::fma_d(s, inverse_count, shift);
    const vecd spread = Ops::max_d(q - s * s * inverse_count, zero);
    if (used == kLanes) {
      Ops::store_d(args.mean + index, mean);
      Ops::store_d(args.m2 + index, spread);
    } else {
      Ops::store_d_partial(args.mean + index, mean, used);
      Ops::store_d_partial(args.m2 + index, spread, used);
    }
  }
}

/// The end of the rows a walk of channels-last blocks [first, end) reads when the blocks are
/// whole rows (one slice: block index = row block).
inline std::size_t walk_rows_end(const MomentsArgs& args, std::size_t end) noexcept {
  return args.rows / args.block_rows < end ? args.rows : end * args.block_rows;
}

// ---- narrow channels-last rows (C <= 12 on AVX-512), shared by the exact and fast passes ---

/// Whether channels-last rows of `channels` take the narrow-row walks: at most three quarters
/// of a float vector (C <= 12 on AVX-512, 6 on AVX2, 3 on SSE2: an RGB input, a handful of
/// features). Such a block is walked as one flat run of values whose channel repeats every C,
/// in patterns of lcm(C, lanes) values in which each lane always holds the same channel, where
/// a masked vector per row would leave lanes - C of its lanes idle. Each lane is shifted by its
/// channel's shift and summed; a channel's lanes are added in lane order at the end, and values
/// after the last whole pattern straight after them. (Beyond three quarters, 13 channels went
/// 3.6 -> 4.5 us in the fast pass: two walks of a 13-vector pattern.)
template <class Ops>
constexpr bool narrow_rows(std::size_t channels) noexcept {
  return Ops::lanes > 1 && 4 * channels <= 3 * Ops::lanes;
}

/// Narrow rows in vectors of `lanes`: lcm(channels, lanes) values, `vectors` vectors.
struct NarrowPattern {
  std::size_t vectors;
  std::size_t values;
};
/// (Templates on Ops, as every helper here: each ISA's unit keeps its own copy, so the linker
/// never hands baseline code one compiled for AVX-512.)
template <class Ops>
NarrowPattern narrow_pattern(std::size_t channels, std::size_t lanes) noexcept {
  std::size_t common = channels, other = lanes;  // gcd
  while (other != 0) {
    const std::size_t rest = common % other;
    common = other;
    other = rest;
  }
  return {channels / common, channels / common * lanes};
}

/// Calls walk(std::integral_constant<std::size_t, n>{}) for a run-time n in [1, kMax]: a walk
/// over n vectors of a pattern with its accumulators in registers.
template <std::size_t kMax, class Walk>
inline void with_vector_count(std::size_t n, const Walk& walk) noexcept {
  if constexpr (kMax > 0) {
    if (n == kMax) {
      walk(std::integral_constant<std::size_t, kMax>{});
    } else {
      with_vector_count<kMax - 1>(n, walk);
    }
  }
}

/// The end of a narrow block: per-lane sums and sums of squares of d (`sums`, `squares`, one
/// per pattern value) added per channel in lane order, then the values after the last whole
/// pattern, then mean = shift + sum / n and M2 = max(0, q - sum^2 / n) into row block
/// `row_block`'s results.
template <class Ops>
void finish_narrow_rows(const MomentsArgs& args, std::size_t row_block, const float* first,
                        std::size_t rows, std::size_t pattern_values, std::size_t patterns,
                        const double* sums, const double* squares,
                        const double* channel_shift) noexcept {
  constexpr std::size_t kMaxChannels = 16;  // narrow_rows: at most 12
  const std::size_t channels = args.channels;
  double channel_sum[kMaxChannels] = {};
  double channel_squares[kMaxChannels] = {};
  for (std::size_t l = 0; l < pattern_values; ++l) {
    channel_sum[l % channels] += sums[l];
    channel_squares[l % channels] += squares[l];
  }
  for (std::size_t i = patterns * pattern_values; i < rows * channels; ++i) {
    const std::size_t c = i % channels;
    const double d = static_cast<double>(first[i]) - channel_shift[c];
    channel_sum[c] += d;
    channel_squares[c] += d * d;
  }
  const double inverse_count = 1.0 / static_cast<double>(rows);
  for (std::size_t c = 0; c < channels; ++c) {
    const double sum = channel_sum[c];
    const double spread = channel_squares[c] - sum * sum * inverse_count;
    args.mean[row_block * channels + c] = sum * inverse_count + channel_shift[c];
    args.m2[row_block * channels + c] = spread > 0.0 ? spread : 0.0;
  }
}

/// Exact narrow rows: double vectors [j0, j0 + kVectors) of each of `patterns` patterns from
/// `first`, shifted by `shifts` (one per pattern value), summed in double into `sums` /
/// `squares`. Consecutive patterns go to kChains accumulators in turn, added in chain order at
/// the end: at least four dependency chains per sum ((4096, 8) on AVX-512 is one vector per
/// pattern: 4.6 -> 3.5 us).
template <class Ops, std::size_t kVectors>
void exact_pattern_walk(const float* first, std::size_t patterns, std::size_t pattern_values,
                        std::size_t j0, const double* shifts, double* sums,
                        double* squares) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  constexpr std::size_t kChains = kVectors < 4 ? (4 + kVectors - 1) / kVectors : 1;
  vecd shift[kVectors], s[kChains][kVectors], q[kChains][kVectors];
  for (std::size_t v = 0; v < kVectors; ++v) {
    shift[v] = Ops::load_d(shifts + (j0 + v) * kLanes);
    for (std::size_t k = 0; k < kChains; ++k) s[k][v] = q[k][v] = Ops::broadcast_d(0.0);
  }
  const auto add_pattern = [&](std::size_t p, vecd(&sk)[kVectors], vecd(&qk)[kVectors]) {
    const float* x = first + p * pattern_values + j0 * kLanes;
#pragma GCC unroll 8
    for (std::size_t v = 0; v < kVectors; ++v) {
      const vecd d = Ops::load_widened(x + v * kLanes) - shift[v];
      sk[v] = Ops::add_d_on_fma(sk[v], d);
      qk[v] = Ops::fma_d(d, d, qk[v]);
    }
  };
  std::size_t p = 0;
  for (; patterns - p >= kChains; p += kChains) {
#pragma GCC unroll 4
    for (std::size_t k = 0; k < kChains; ++k) add_pattern(p + k, s[k], q[k]);
  }
  for (; p < patterns; ++p) add_pattern(p, s[0], q[0]);
  for (std::size_t v = 0; v < kVectors; ++v) {
    for (std::size_t k = 1; k < kChains; ++k) {
      s[0][v] = s[0][v] + s[k][v];
      q[0][v] = q[0][v] + q[k][v];
    }
    Ops::store_d(sums + (j0 + v) * kLanes, s[0][v]);
    Ops::store_d(squares + (j0 + v) * kLanes, q[0][v]);
  }
}

/// Double vectors of an exact narrow pattern per walk (3 registers each).
inline constexpr std::size_t kExactNarrowVectors = 8;

/// One channels-last block of narrow rows, exactly: each lane shifted by its channel's first
/// value, summed in double. Dev machine, one thread: NHWC 1x224x224x3 66.6 -> 16.0 us (22 ->
/// 80% of memcpy's read rate), 1x64x64x5 5.4 -> 2.4, 1x56x56x12 7.7 -> 4.1.
template <class Ops>
void exact_narrow_rows_moments(const MomentsArgs& args, std::size_t block) noexcept {
  constexpr std::size_t kLanes = Ops::dlanes;
  constexpr std::size_t kMaxPattern = Ops::lanes * kLanes;  // narrow_rows: C < float lanes
  const std::size_t channels = args.channels;
  const ChannelsLastBlock b = channels_last_block(args, block);
  const float* first = args.src + b.row_begin * channels;
  const NarrowPattern pattern = narrow_pattern<Ops>(channels, kLanes);
  alignas(64) double shifts[kMaxPattern];
  alignas(64) double sums[kMaxPattern];
  alignas(64) double squares[kMaxPattern];
  for (std::size_t l = 0; l < pattern.values; ++l) {
    shifts[l] = static_cast<double>(first[l % channels]);  // each channel's first value
  }
  const std::size_t rows = b.row_end - b.row_begin;
  const std::size_t patterns = rows * channels / pattern.values;
  for (std::size_t j0 = 0; j0 < pattern.vectors; j0 += kExactNarrowVectors) {
    const std::size_t n = pattern.vectors - j0;
    with_vector_count<kExactNarrowVectors>(
        n < kExactNarrowVectors ? n : kExactNarrowVectors, [&](auto vectors) {
          exact_pattern_walk<Ops, vectors()>(first, patterns, pattern.values, j0, shifts, sums,
                                             squares);
        });
  }
  finish_narrow_rows<Ops>(args, b.row_block, first, rows, pattern.values, patterns, sums, squares,
                          shifts);
}

template <class Ops>
void channels_last_moments(const MomentsArgs& args, std::size_t first, std::size_t end) noexcept {
  if (narrow_rows<Ops>(args.channels)) {
    for (std::size_t block = first; block < end; ++block) {
      exact_narrow_rows_moments<Ops>(args, block);
    }
    return;
  }
  constexpr std::size_t kVectors = Ops::accumulator_vectors;
  constexpr std::size_t kTile = kVectors * Ops::dlanes;
  // From DRAM, rows of several tiles go run-major with the next rows requested ahead, and
  // blocks cut into channel slices tile by tile, the first tile requesting the rest of each
  // row. In cache, tile by tile (run-major measured 0-5% slower there on AVX-512 and 4-45% on
  // AVX2, whose 16-channel tiles save and restore their state every few rows; this pass is
  // bound by its conversions to double). Dev machine, one thread, NHWC from DRAM: 32x28x28x512
  // 4.7 -> 2.8-3.0 ms, 32x14x14x1024 2.4 -> 1.2 ms, 32x7x7x2048 650 -> 555 us (AVX2: 9.1 ->
  // 3.6 ms, 3.8 -> 2.0 ms).
  const bool run_major = args.prefetch && args.slices == 1;
  const std::size_t walk_end = walk_rows_end(args, end);
  for (std::size_t block = first; block < end; ++block) {
    const ChannelsLastBlock b = channels_last_block(args, block);
    std::size_t c0 = b.channel_begin;
    if (run_major) {
      for (std::size_t tiles; (tiles = (b.channel_end - c0) / kTile) > 1;) {
        tiles = tiles < kExactRunMajorTiles ? tiles : kExactRunMajorTiles;
        NextRowsPrefetch ahead = group_prefetch(args, c0, tiles, kTile, b.channel_end);
        run_major_moments<Ops>(args, b.row_block, b.row_begin, b.row_end, c0, tiles, &ahead,
                               walk_end);
        c0 += tiles * kTile;
      }
    }
    for (; c0 + kTile <= b.channel_end; c0 += kTile) {
      const std::size_t rest = c0 == b.channel_begin && args.prefetch && !run_major
                                   ? b.channel_end - b.channel_begin - kTile
                                   : 0;
      full_tile_moments<Ops, kVectors>(args, b.row_block, b.row_begin, b.row_end, c0, rest);
    }
    if (c0 < b.channel_end) {
      tail_channels_moments<Ops>(args, b.row_block, b.row_begin, b.row_end, c0, b.channel_end);
    }
  }
}

/// 1 / sqrt(v) in double. With an estimate instruction (AVX-512's 14-bit rsqrt14), two Newton
/// steps y *= 1.5 - 0.5 * v * y^2 reach double precision (14 -> 28 -> 56 bits, less a few
/// rounding ulps) in eight multiplies and multiply-adds instead of a square root and a
/// division (the fold's share of a 1x7x7x2048 training step went from 2.0 to 1.6 us in a
/// profile). v = 0 and v = inf keep the exact answers (inf, 0), which a Newton step would
/// turn into NaN: one fixup instruction sets them (fold kernel 0.60 -> 0.57 ns per channel
/// against two compares and a blend).
template <class Ops>
inline typename Ops::vecd inverse_sqrt_d(const typename Ops::vecd& v) noexcept {
  using vecd = typename Ops::vecd;
  if constexpr (Ops::has_rsqrt_estimate_d) {
    const vecd minus_half = Ops::broadcast_d(-0.5);
    const vecd three_halves = Ops::broadcast_d(1.5);
    vecd y = Ops::rsqrt_estimate_d(v);
    for (int step = 0; step < 2; ++step) {
      const vecd vyy = (v * y) * y;  // in this order: v * y * y stays finite for tiny v
      y = y * Ops::fma_d(minus_half, vyy, three_halves);
    }
    return Ops::with_inverse_sqrt_limits_d(y, v);
  } else {
    return Ops::broadcast_d(1.0) / Ops::sqrt_d(v);
  }
}

template <class Ops>
void fold_moments(const FoldArgs& args) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const vecd inverse_count = Ops::broadcast_d(args.inverse_count);
  const vecd eps = Ops::broadcast_d(args.eps);
  auto fold = [&](const vecd& mean, const vecd& m2, const vecd& gamma, const vecd& beta,
                  vecd& scale, vecd& shift) {
    // The shift from the scale as the float table will hold it (see detail::ShiftFrom).
    scale = Ops::round_to_float_d(gamma * inverse_sqrt_d<Ops>(Ops::fma_d(m2, inverse_count, eps)));
    shift = beta - mean * scale;
  };
  // Locals: stores through float pointers may alias the args struct, which would otherwise be
  // reloaded after each of them.
  const double* const mean = args.mean;
  const double* const m2 = args.m2;
  const float* const gamma = args.gamma;
  const float* const beta = args.beta;
  float* const scale = args.scale;
  float* const shift = args.shift;
  const std::size_t channels = args.channels;
  std::size_t c = 0;
  for (; c + kLanes <= channels; c += kLanes) {
    const vecd g = gamma != nullptr ? Ops::load_widened(gamma + c) : Ops::broadcast_d(1.0);
    const vecd b = beta != nullptr ? Ops::load_widened(beta + c) : Ops::broadcast_d(0.0);
    vecd folded_scale, folded_shift;
    fold(Ops::load_d(mean + c), Ops::load_d(m2 + c), g, b, folded_scale, folded_shift);
    Ops::store_narrowed(scale + c, folded_scale);
    Ops::store_narrowed(shift + c, folded_shift);
  }
  if (c < args.channels) {
    // The last few channels through a small staging buffer (no reads past the arrays).
    const std::size_t n = args.channels - c;
    alignas(64) double lanes[4][kLanes] = {};
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      const bool used = lane < n;
      lanes[0][lane] = used ? args.mean[c + lane] : 0.0;
      lanes[1][lane] = used ? args.m2[c + lane] : 0.0;
      lanes[2][lane] = used && args.gamma != nullptr ? args.gamma[c + lane] : 1.0;
      lanes[3][lane] = used && args.beta != nullptr ? args.beta[c + lane] : 0.0;
    }
    vecd scale, shift;
    fold(Ops::load_d(lanes[0]), Ops::load_d(lanes[1]), Ops::load_d(lanes[2]), Ops::load_d(lanes[3]),
         scale, shift);
    alignas(64) float narrowed[2][kLanes] = {};
    Ops::store_narrowed(narrowed[0], scale);
    Ops::store_narrowed(narrowed[1], shift);
    for (std::size_t lane = 0; lane < n; ++lane) {
      args.scale[c + lane] = narrowed[0][lane];
      args.shift[c + lane] = narrowed[1][lane];
    }
  }
}

template <class Ops>
void update_running(const RunningUpdateArgs& args) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const double keep_value = 1.0 - args.batch_weight;
  const vecd w = Ops::broadcast_d(args.batch_weight);
  const vecd keep = Ops::broadcast_d(keep_value);
  const vecd inverse_bessel = Ops::broadcast_d(args.inverse_bessel);
  const double* const batch_mean = args.batch_mean;  // locals: see fold_moments
  const double* const batch_m2 = args.batch_m2;
  float* const running_mean = args.mean;
  float* const running_var = args.var;
  std::size_t c = 0;
  for (; c + kLanes <= args.channels; c += kLanes) {
    const vecd mean = w * Ops::load_d(batch_mean + c) + keep * Ops::load_widened(running_mean + c);
    const vecd var = w * (Ops::load_d(batch_m2 + c) * inverse_bessel) +
                     keep * Ops::load_widened(running_var + c);
    Ops::store_narrowed(running_mean + c, mean);
    Ops::store_narrowed(running_var + c, var);
  }
  for (; c < args.channels; ++c) {
    args.mean[c] = static_cast<float>(args.batch_weight * args.batch_mean[c] +
                                      keep_value * static_cast<double>(args.mean[c]));
    args.var[c] = static_cast<float>(args.batch_weight * (args.batch_m2[c] * args.inverse_bessel) +
                                     keep_value * static_cast<double>(args.var[c]));
  }
}

template <class Ops>
void merge_block(const MergeArgs& args) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  double* const mean = args.mean;  // locals: see fold_moments
  double* const m2 = args.m2;
  const double* const block_mean = args.block_mean;
  const double* const block_m2 = args.block_m2;
  const vecd weight_mean = Ops::broadcast_d(args.weight_mean);
  const vecd weight_m2 = Ops::broadcast_d(args.weight_m2);
  std::size_t c = 0;
  for (; c + kLanes <= args.channels; c += kLanes) {
    const vecd a = Ops::load_d(mean + c);
    const vecd delta = Ops::load_d(block_mean + c) - a;
    Ops::store_d(mean + c, a + delta * weight_mean);
    Ops::store_d(m2 + c,
                 Ops::load_d(m2 + c) + (Ops::load_d(block_m2 + c) + delta * delta * weight_m2));
  }
  for (; c < args.channels; ++c) {
    const double delta = block_mean[c] - mean[c];
    mean[c] += delta * args.weight_mean;
    m2[c] += block_m2[c] + delta * delta * args.weight_m2;
  }
}

}  // namespace bnrt::kernels
