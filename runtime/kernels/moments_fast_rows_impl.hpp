// The fast moments of channels-last blocks: tiles of channels summed in float runs of
// kFloatRun rows, widened into double after each run (precision: see
// moments_fast_planes_impl.hpp), walked tile by tile or run by run across the tiles.
#pragma once

#include <cstddef>

#include "moments_exact_rows_impl.hpp"
#include "moments_fast_planes_impl.hpp"

namespace bnrt::kernels {

/// What a channels-last tile walk requests from DRAM ahead of itself (nothing in cache).
struct WalkPrefetch {
  /// Floats of the rest of each row, requested by a block's first tile when it walks the block
  /// tile by tile (see prefetch_rest_of_row), with the tile's own lines kPrefetchRows ahead.
  std::size_t rest_of_row = 0;
  NextRowsPrefetch* next_rows = nullptr;  ///< run by run: the rows of the next run
};

/// Channels-last, a tile of kVectors float vectors (kVectors * lanes channels; with kPartial,
/// `used` of the last vector's lanes) over rows [row_begin, row_end): float runs of kFloatRun
/// rows with the shift, sums and sums of squares in registers (3 per vector, so a tile is 128
/// channels on AVX-512), widened after each run into double totals. The steps are split out
/// (start, one run, finish) so that a walk may take the runs of several tiles in turn (see
/// run_major_moments_fast) with each tile's arithmetic unchanged.
template <class Ops, std::size_t kVectors, bool kPartial>
struct FastTile {
  using vec = typename Ops::vec;
  using vecd = typename Ops::vecd;
  static constexpr std::size_t kLanes = Ops::lanes;
  static constexpr std::size_t kHalf = Ops::dlanes;
  static constexpr std::size_t kHalves = kLanes / kHalf;
  vec shift[kVectors];
  vecd total_s[kVectors][kHalves], total_q[kVectors][kHalves];

  /// Vector v of a row's tile at p.
  static vec load(const float* p, std::size_t v, std::size_t used) noexcept {
    if constexpr (kPartial) {
      if (v + 1 == kVectors) return Ops::load_partial(p, used);
    }
    return Ops::load(p);
  }

  /// The shift (mean of the first kShiftSample rows) and zero totals. Totals are vectors set
  /// from a zero register: a zero-initialized double array became a memset that cost a fifth
  /// of the kernel on short blocks.
  void start(const MomentsArgs& args, std::size_t row_begin, std::size_t row_end, std::size_t c0,
             std::size_t used) noexcept {
    const std::size_t channels = args.channels;
    const std::size_t sample =
        row_end - row_begin < kShiftSample ? row_end - row_begin : kShiftSample;
    const vec inverse_sample = Ops::broadcast(1.0f / static_cast<float>(sample));
    for (std::size_t v = 0; v < kVectors; ++v) {
      vec sum = Ops::broadcast(0.0f);
      for (std::size_t k = 0; k < sample; ++k) {
        sum = sum + load(args.src + (row_begin + k) * channels + c0 + v * kLanes, v, used);
      }
      shift[v] = sum * inverse_sample;
    }
    const vecd zero = Ops::broadcast_d(0.0);
    for (std::size_t v = 0; v < kVectors; ++v) {
      for (std::size_t half = 0; half < kHalves; ++half) total_s[v][half] = total_q[v][half] = zero;
    }
  }

  /// One float run, rows [run, run_end) (at most kFloatRun), widened into the totals.
  void add_run(const MomentsArgs& args, std::size_t run, std::size_t run_end, std::size_t c0,
               std::size_t used, const WalkPrefetch& prefetch) noexcept {
    vec s[kVectors], q[kVectors];
    for (std::size_t v = 0; v < kVectors; ++v) s[v] = q[v] = Ops::broadcast(0.0f);
    for (std::size_t row = run; row < run_end; ++row) add_row(args, row, c0, used, prefetch, s, q);
    widen(s, q);
  }

  /// kRuns whole float runs from `run` on at once, row k of each in turn: each run is summed
  /// in its own registers in row order and widened in run order, so the arithmetic is that of
  /// kRuns add_run calls, with kRuns times the independent dependency chains. A tile of one
  /// or two vectors otherwise waits on FP latency row after row. With the partial vector in
  /// the same tile (remainder_tile_fast), dev machine, one thread, harness, fast pass: NHWC
  /// 1x56x56x24 6.6 -> 5.8 us, 1x28x28x40 2.3 -> 2.0, 1x56x56x16 2.6 -> 2.5.
  template <std::size_t kRuns>
  void add_runs(const MomentsArgs& args, std::size_t run, std::size_t c0, std::size_t used,
                const WalkPrefetch& prefetch) noexcept {
    vec s[kRuns][kVectors], q[kRuns][kVectors];
    for (std::size_t r = 0; r < kRuns; ++r) {
      for (std::size_t v = 0; v < kVectors; ++v) s[r][v] = q[r][v] = Ops::broadcast(0.0f);
    }
    for (std::size_t k = 0; k < kFloatRun; ++k) {
#pragma GCC unroll 4
      for (std::size_t r = 0; r < kRuns; ++r) {
        add_row(args, run + r * kFloatRun + k, c0, used, prefetch, s[r], q[r]);
      }
    }
    for (std::size_t r = 0; r < kRuns; ++r) widen(s[r], q[r]);
  }

  /// Row `row`'s d = x - shift and d * d added into the float sums s and q.
  [[gnu::always_inline]] void add_row(const MomentsArgs& args, std::size_t row, std::size_t c0,
                                      std::size_t used, const WalkPrefetch& prefetch,
                                      vec (&s)[kVectors], vec (&q)[kVectors]) const noexcept {
    const std::size_t channels = args.channels;
    const float* x = args.src + row * channels + c0;
    if (prefetch.rest_of_row != 0) {
      prefetch_rest_of_row<Ops>(x + kVectors * kLanes, prefetch.rest_of_row);
      // On the first walk the tile's own lines also come from DRAM at a stride of a row:
      // request them kPrefetchRows ahead (NHWC 32x28x28x256: 12 -> 19 GB/s; 8 rows: 16).
      prefetch_rest_of_row<Ops>(x + kPrefetchRows * channels, kVectors * kLanes);
    }
    if (prefetch.next_rows != nullptr) prefetch.next_rows->request();
#pragma GCC unroll 8
    for (std::size_t v = 0; v < kVectors; ++v) {
      // Lanes past `used` load 0 with a shift of 0, so they stay 0.
      const vec d = load(x + v * kLanes, v, used) - shift[v];
      s[v] = s[v] + d;
      q[v] = Ops::fma(d, d, q[v]);
    }
  }

  /// One run's float sums widened into the double totals.
  void widen(const vec (&s)[kVectors], const vec (&q)[kVectors]) noexcept {
    for (std::size_t v = 0; v < kVectors; ++v) {
      // With one double per float (scalar) widen_add only adds into its first argument.
      vecd& s_hi = total_s[v][kHalves - 1];
      vecd& q_hi = total_q[v][kHalves - 1];
      Ops::widen_add(s[v], total_s[v][0], s_hi);
      Ops::widen_add(q[v], total_q[v][0], q_hi);
    }
  }

  /// Mean and M2 of the tile's channels over `count` rows, into row block `block`'s results.
  void finish(const MomentsArgs& args, std::size_t block, std::size_t count, std::size_t c0,
              std::size_t used) const noexcept {
    const vecd zero = Ops::broadcast_d(0.0);
    const vecd inverse_count = Ops::broadcast_d(1.0 / static_cast<double>(count));
    for (std::size_t v = 0; v < kVectors; ++v) {
      const std::size_t index = block * args.channels + c0 + v * kLanes;
      const bool partial = kPartial && v + 1 == kVectors;
      const vecd halves_shift[2] = {Ops::widen_lo(shift[v]), Ops::widen_hi(shift[v])};
      for (std::size_t half = 0; half < kHalves; ++half) {
        const std::size_t first_lane = half * kHalf;
        const vecd sum = total_s[v][half];
        const vecd squares = total_q[v][half];
        const vecd mean = Ops::fma_d(sum, inverse_count, halves_shift[half]);
        const vecd spread = Ops::max_d(squares - sum * sum * inverse_count, zero);
        if (!partial || first_lane + kHalf <= used) {
          Ops::store_d(args.mean + index + first_lane, mean);
          Ops::store_d(args.m2 + index + first_lane, spread);
        } else if (first_lane < used) {
          Ops::store_d_partial(args.mean + index + first_lane, mean, used - first_lane);
          Ops::store_d_partial(args.m2 + index + first_lane, spread, used - first_lane);
        }
      }
    }
  }
};

/// One tile walked over all of its block's rows (each later tile of the block reads the rows
/// again: from L2 at best, hence wide tiles).
template <class Ops, std::size_t kVectors, bool kPartial>
inline void tile_moments_fast(const MomentsArgs& args, std::size_t block, std::size_t row_begin,
                              std::size_t row_end, std::size_t c0, std::size_t used,
                              const WalkPrefetch& prefetch = {}) noexcept {
  FastTile<Ops, kVectors, kPartial> tile;
  tile.start(args, row_begin, row_end, c0, used);
  std::size_t run = row_begin;
  // Narrow tiles take runs together (see add_runs): at least four chains per sum.
  constexpr std::size_t kRuns = kVectors < 4 ? (4 + kVectors - 1) / kVectors : 1;
  if constexpr (kRuns > 1) {
    for (; row_end - run >= kRuns * kFloatRun; run += kRuns * kFloatRun) {
      tile.template add_runs<kRuns>(args, run, c0, used, prefetch);
    }
  }
  for (; run < row_end; run += kFloatRun) {
    const std::size_t run_end = row_end - run < kFloatRun ? row_end : run + kFloatRun;
    tile.add_run(args, run, run_end, c0, used, prefetch);
  }
  tile.finish(args, block, row_end - row_begin, c0, used);
}

/// In cache, a block goes run by run while the tile states of a group take at most this many
/// bytes (a quarter of a 48 KiB L1), and tile by tile past that: the states, reloaded every
/// run, crowd the rows out of L1. On AVX-512 a tile's state is 2.5 KiB, so blocks of up to four
/// tiles (512 channels) go run by run; on AVX2 (640 bytes) and SSE2 a group of kRunMajorTiles
/// fits and every block does. Zen 5 VM, fast statistics alone (harness, medians of 6-12
/// alternating runs of two builds, run by run vs tile by tile): AVX-512, 1024 channels and more
/// gain, one thread 1x7x7x2048 7.0 -> 6.0 us, 1x14x14x1024 11.6 -> 9.7, 32x7x7x2048 237 ->
/// 215, two threads 1x7x7x2048 6.8 -> 5.7, others level; at 256 and 512 channels it went both
/// ways (one thread 4x28x28x512 111 -> 86, 32x14x14x512 233 -> 183, but 1x28x28x256 9.4 ->
/// 11.2; two threads 1x28x28x512 18 -> 21), so those stay run by run. AVX2 lost tile by tile
/// (1x14x14x1024 14.1 -> 19.9, 1x7x7x2048 7.9 -> 8.8). (On the Zen 4 VM run by run had won at
/// every width on AVX-512 too: 1x14x14x1024 18 -> 14 us.)
inline constexpr std::size_t kRunMajorStateBytesInCache = 12 * 1024;

/// Full tiles per run-major group: their states (shift and double totals) live on the stack,
/// about 2.5 KiB per tile on AVX-512, so a group covers rows of up to 2048 channels there.
inline constexpr std::size_t kRunMajorTiles = 16;

/// Full tiles [c0, c0 + tiles * tile width) of a block, run by run: each float run of rows goes
/// through every tile before the next run starts, so the walk stays within kFloatRun rows (a
/// few pages) instead of crossing every row of the block once per tile. Each tile's arithmetic
/// is exactly tile_moments_fast's, so results are bitwise the same. From DRAM, `ahead` (its
/// columns and pacing set by the caller) requests the next run's rows, up to row ahead_end,
/// while each run is read.
template <class Ops>
inline void run_major_moments_fast(const MomentsArgs& args, std::size_t block,
                                   std::size_t row_begin, std::size_t row_end, std::size_t c0,
                                   std::size_t tiles, NextRowsPrefetch* ahead = nullptr,
                                   std::size_t ahead_end = 0) noexcept {
  constexpr std::size_t kVectors = Ops::fast_tile_vectors;
  constexpr std::size_t kTile = kVectors * Ops::lanes;
  FastTile<Ops, kVectors, false> state[kRunMajorTiles];
  for (std::size_t t = 0; t < tiles; ++t) {
    state[t].start(args, row_begin, row_end, c0 + t * kTile, Ops::lanes);
  }
  WalkPrefetch prefetch;
  prefetch.next_rows = ahead;
  for (std::size_t run = row_begin; run < row_end; run += kFloatRun) {
    const std::size_t run_end = row_end - run < kFloatRun ? row_end : run + kFloatRun;
    if (ahead != nullptr) ahead->restart(run_end, kFloatRun, ahead_end);
    for (std::size_t t = 0; t < tiles; ++t) {
      state[t].add_run(args, run, run_end, c0 + t * kTile, Ops::lanes, prefetch);
    }
  }
  for (std::size_t t = 0; t < tiles; ++t) {
    state[t].finish(args, block, row_end - row_begin, c0 + t * kTile, Ops::lanes);
  }
}

/// The channels left after the full-width tiles, in one tile of exactly `vectors` vectors (so
/// 64 channels are one walk, not four), the last one partial with kPartial (`used` lanes): a
/// partial vector walked apart re-read every row (measured together with add_runs, below).
template <class Ops, std::size_t kVectors, bool kPartial>
inline void remainder_tile_fast(const MomentsArgs& args, std::size_t block, std::size_t row_begin,
                                std::size_t row_end, std::size_t c0, std::size_t vectors,
                                std::size_t used, const WalkPrefetch& prefetch) noexcept {
  if constexpr (kVectors > 0) {
    if (vectors == kVectors) {
      tile_moments_fast<Ops, kVectors, kPartial>(args, block, row_begin, row_end, c0, used,
                                                 prefetch);
    } else {
      remainder_tile_fast<Ops, kVectors - 1, kPartial>(args, block, row_begin, row_end, c0, vectors,
                                                       used, prefetch);
    }
  }
}

/// Fast narrow rows (see narrow_rows): vectors [j0, j0 + kVectors) of each of `patterns`
/// whole patterns of `pattern_floats` values from `first`, shifted by `shifts` (one float per
/// pattern lane), summed in float runs of kFloatRun patterns, widened into `sums` / `squares`
/// (one double per pattern lane).
template <class Ops, std::size_t kVectors>
void narrow_pattern_walk(const float* first, std::size_t patterns, std::size_t pattern_floats,
                         std::size_t j0, const float* shifts, double* sums,
                         double* squares) noexcept {
  using vec = typename Ops::vec;
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kHalf = Ops::dlanes;
  vec shift[kVectors];
  for (std::size_t v = 0; v < kVectors; ++v) shift[v] = Ops::load(shifts + (j0 + v) * kLanes);
  for (std::size_t run = 0; run < patterns; run += kFloatRun) {
    const std::size_t run_end = patterns - run < kFloatRun ? patterns : run + kFloatRun;
    vec s[kVectors], q[kVectors];
    for (std::size_t v = 0; v < kVectors; ++v) s[v] = q[v] = Ops::broadcast(0.0f);
    for (std::size_t p = run; p < run_end; ++p) {
      const float* x = first + p * pattern_floats + j0 * kLanes;
#pragma GCC unroll 8
      for (std::size_t v = 0; v < kVectors; ++v) {
        const vec d = Ops::load(x + v * kLanes) - shift[v];
        s[v] = s[v] + d;
        q[v] = Ops::fma(d, d, q[v]);
      }
    }
    for (std::size_t v = 0; v < kVectors; ++v) {
      const std::size_t at = (j0 + v) * kLanes;
      vecd s_lo = Ops::load_d(sums + at), s_hi = Ops::load_d(sums + at + kHalf);
      vecd q_lo = Ops::load_d(squares + at), q_hi = Ops::load_d(squares + at + kHalf);
      Ops::widen_add(s[v], s_lo, s_hi);
      Ops::widen_add(q[v], q_lo, q_hi);
      Ops::store_d(sums + at, s_lo);
      Ops::store_d(sums + at + kHalf, s_hi);
      Ops::store_d(squares + at, q_lo);
      Ops::store_d(squares + at + kHalf, q_hi);
    }
  }
}

/// Float vectors of a fast narrow pattern per walk (3 registers each): C = 9 or 11 on AVX-512
/// take two walks.
inline constexpr std::size_t kNarrowVectors = 8;

/// One channels-last block of narrow rows, fast: each lane shifted by its channel's shift (the
/// mean of the channel's first kShiftSample rows, as FastTile), summed in float runs. Dev
/// machine, one thread, harness, fast pass, NHWC: 1x224x224x3 56 -> 9.2 us, 1x64x64x5 4.6 ->
/// 1.4, x56x56 maps of 8 3.6 -> 1.6, 9 3.7 -> 2.3, 11 3.6 -> 2.8, 12 3.6 -> 2.2 channels.
template <class Ops>
void narrow_rows_moments_fast(const MomentsArgs& args, std::size_t block) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kMaxPatternFloats = kLanes * kLanes;  // narrow_rows: C < lanes
  const std::size_t channels = args.channels;
  const ChannelsLastBlock b = channels_last_block(args, block);
  const float* first = args.src + b.row_begin * channels;
  const std::size_t rows = b.row_end - b.row_begin;

  const std::size_t sample = rows < kShiftSample ? rows : kShiftSample;
  const float inverse_sample = 1.0f / static_cast<float>(sample);
  float channel_shift[kLanes];
  double channel_shift_d[kLanes];
  for (std::size_t c = 0; c < channels; ++c) {
    float sum = 0.0f;
    for (std::size_t k = 0; k < sample; ++k) sum = sum + first[k * channels + c];
    channel_shift[c] = sum * inverse_sample;
    channel_shift_d[c] = static_cast<double>(channel_shift[c]);
  }
  const NarrowPattern pattern = narrow_pattern<Ops>(channels, kLanes);
  alignas(64) float shifts[kMaxPatternFloats];
  alignas(64) double sums[kMaxPatternFloats] = {};
  alignas(64) double squares[kMaxPatternFloats] = {};
  for (std::size_t l = 0; l < pattern.values; ++l) shifts[l] = channel_shift[l % channels];
  const std::size_t patterns = rows * channels / pattern.values;
  for (std::size_t j0 = 0; j0 < pattern.vectors; j0 += kNarrowVectors) {
    const std::size_t n = pattern.vectors - j0;
    with_vector_count<kNarrowVectors>(n < kNarrowVectors ? n : kNarrowVectors, [&](auto vectors) {
      narrow_pattern_walk<Ops, vectors()>(first, patterns, pattern.values, j0, shifts, sums,
                                          squares);
    });
  }
  finish_narrow_rows<Ops>(args, b.row_block, first, rows, pattern.values, patterns, sums, squares,
                          channel_shift_d);
}

template <class Ops>
void channels_last_moments_fast(const MomentsArgs& args, std::size_t first,
                                std::size_t end) noexcept {
  constexpr std::size_t kVectors = Ops::fast_tile_vectors;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kTile = kVectors * kLanes;
  // Run by run with the next run requested ahead (NextRowsPrefetch) when streaming whole rows
  // of several tiles from DRAM; in cache, run by run with no requests while the tile states
  // fit kRunMajorStateBytesInCache, tile by tile past that. Rows of one tile are
  // walked in memory order already, which the hardware prefetchers follow, and blocks cut into
  // channel slices are walked tile by tile, the first tile requesting the rest of each row.
  if (narrow_rows<Ops>(args.channels)) {  // see kNarrowVectors
    for (std::size_t block = first; block < end; ++block) {
      narrow_rows_moments_fast<Ops>(args, block);
    }
    return;
  }
  const bool streamed_rows = args.prefetch && args.slices == 1 && args.channels > kTile;
  constexpr std::size_t kTilesInCache =
      kRunMajorStateBytesInCache / sizeof(FastTile<Ops, kVectors, false>);
  const std::size_t walk_end = walk_rows_end(args, end);
  for (std::size_t block = first; block < end; ++block) {
    const ChannelsLastBlock b = channels_last_block(args, block);
    const std::size_t width = b.channel_end - b.channel_begin;
    const bool run_major =
        streamed_rows ||
        (!args.prefetch && (kTilesInCache >= kRunMajorTiles || width <= kTilesInCache * kTile));
    std::size_t c0 = b.channel_begin;
    if (run_major) {
      for (std::size_t tiles; (tiles = (b.channel_end - c0) / kTile) > 0;) {
        tiles = tiles < kRunMajorTiles ? tiles : kRunMajorTiles;
        if (streamed_rows) {
          NextRowsPrefetch ahead = group_prefetch(args, c0, tiles, kTile, b.channel_end);
          run_major_moments_fast<Ops>(args, b.row_block, b.row_begin, b.row_end, c0, tiles, &ahead,
                                      walk_end);
        } else {
          run_major_moments_fast<Ops>(args, b.row_block, b.row_begin, b.row_end, c0, tiles);
        }
        c0 += tiles * kTile;
      }
    }
    // The block's first tile, `tile_width` channels wide, requests the rest of each row.
    const auto with_rest = [&](std::size_t tile_width) {
      WalkPrefetch first_tile;
      if (args.prefetch && !streamed_rows && c0 == b.channel_begin) {
        first_tile.rest_of_row = width - tile_width;
      }
      return first_tile;
    };
    for (; c0 + kTile <= b.channel_end; c0 += kTile) {
      tile_moments_fast<Ops, kVectors, false>(args, b.row_block, b.row_begin, b.row_end, c0, kLanes,
                                              with_rest(kTile));
    }
    const std::size_t rest = b.channel_end - c0;  // less than a tile
    const std::size_t whole = rest / kLanes;
    const std::size_t used = rest - whole * kLanes;
    if (used != 0) {
      remainder_tile_fast<Ops, kVectors, true>(args, b.row_block, b.row_begin, b.row_end, c0,
                                               whole + 1, used, with_rest(rest));
    } else if (whole > 0) {
      remainder_tile_fast<Ops, kVectors - 1, false>(args, b.row_block, b.row_begin, b.row_end, c0,
                                                    whole, kLanes, with_rest(rest));
    }
  }
}

}  // namespace bnrt::kernels
