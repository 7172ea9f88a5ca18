// Exact moments of channels-last blocks (rows of C values, summed around shifts as in
// moments_exact_planes_impl.hpp): tiles of channels kept in registers while rows stream past,
// the DRAM prefetch helpers the fast walks share, and the narrow-row walks for C below a vector.
#pragma once

#include <cstddef>
#include <type_traits>

#include "moments_exact_planes_impl.hpp"
#include "moments_kernels.hpp"

namespace bnrt::kernels {

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

}  // namespace bnrt::kernels
