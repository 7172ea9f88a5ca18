// The channels-last affine walk: the scale/shift pattern repeats every `period` elements (a
// multiple of C; the tables run kMaxLanes past it so vector loads never wrap mid-vector), so a
// vector just loads scale and shift at its offset; very wide patterns go a column tile at a
// time across a block of rows in cache-sized ranges, so the tables stay in L1, and four rows
// at a time in large ranges, so each table vector is loaded once for four rows.
#pragma once

#include <cstddef>

#include "affine_walk_impl.hpp"

namespace bnrt::kernels {

/// Patterns from AffineArgs::tiled_period_min on (where one row of x and y plus the two tables
/// fill L1, so the tables are evicted before the next row reuses them) are walked one column
/// tile at a time across a block of rows, keeping the tile of the tables in L1 for all of
/// them. Tile and block sizes measured on NHWC 1x7x7x2048 (Zen 4 dev machine, 32 KiB L1,
/// % of memcpy over destination offsets): untiled 71-88; 256 x 8 rows 78-89; 512 x 8 rows
/// 87-89; 512 x 16 rows 92-95; 1024 x 8 rows 90-94. 1024 channels (16 KiB per row in all)
/// stayed untiled: 93-97 already. On a 48 KiB L1 (Zen 5) 2048 channels fit and the tiles
/// lost (see affine_run.cpp). Rows taken four at a time inside a tile, each table vector
/// loaded once for the four (as row_groups), lost: 1x7x7x2048 one thread 92-96 -> 81-85, two
/// threads 81-87 -> 64-66 (three alternating `bnrt bench` runs, 2026-12-07).
inline constexpr std::size_t kTileFloats = 512;
inline constexpr std::size_t kRowsPerTileBlock = 16;
/// Tiling pays only while the rows come from L2: a call over more than this many rows walks
/// untiled, as the tile's sixteen short runs per block defeat the hardware prefetchers once
/// rows stream from L3 or DRAM. Dev machine, 2048 channels, % of memcpy, tiled vs untiled,
/// medians of 15-21 interleaved samples: 49 rows (one thread) 169 vs 135; 98 rows (one
/// thread, `bnrt bench`) 79-84 vs 88-92; 392 rows 74 vs 84 (two threads), 79 vs 81 (one); 784
/// rows 74 vs 80 (two); 1568 rows (NHWC 32x7x7x2048, two threads) 62 vs 79, 58 vs 65, 63 vs
/// 72 in three runs. Counted in rows rather than bytes: 49 rows of 4096 channels (one
/// thread) ran at 53% untiled, 83-85% tiled.
inline constexpr std::size_t kTiledMaxRows = 64;

/// Whether channels_last_walk takes [begin, end) a column tile at a time.
template <class Ops>
constexpr bool walks_column_tiles(const AffineArgs& args, std::size_t begin,
                                  std::size_t end) noexcept {
  const std::size_t period = args.period;
  return period >= args.tiled_period_min && period % Ops::lanes == 0 &&
         end - begin <= kTiledMaxRows * period;
}

/// Wide patterns (kRowGroupPeriodMin channels and up) over ranges of at least this many elements (x
/// alone 4 MiB, rows streaming from L3 or DRAM) go kRowsPerGroup rows at a time, each table vector
/// loaded once for the vectors at its position in all of them: row by row, the 16 KiB of tables of
/// 2048 channels leave L1 between rows and their reloads cost a quarter of the time. Dev machine,
/// NHWC, kernel alone (cached stores, medians of 31 interleaved samples), row by row -> groups of
/// 4: 32x7x7x2048 two threads 360 -> 290 us (a fixed table vector, the bound: 257), one thread 890
/// -> 671, with a residual 909 -> 712; 32x7x7x4096 1193 -> 746; AVX2 736 -> 424. Two rows gained
/// little, eight lost (sixteen streams at once); 3.2 MB per thread lost 13%, hence the floor. From
/// kRowGroupsAlwaysPeriod channels the two tables alone (32 KiB) fill L1, and row by row ran at
/// half of memcpy's speed at any size: those go in groups below the floor too (NHWC 1x7x7x4096 one
/// thread, with the column tiles past 64 rows: 53 -> 77%).
inline constexpr std::size_t kRowGroupMinElements = std::size_t{1} << 20;
inline constexpr std::size_t kRowGroupPeriodMin = 2048;
inline constexpr std::size_t kRowGroupsAlwaysPeriod = 4096;
inline constexpr std::size_t kRowsPerGroup = 4;

/// Whether channels_last_walk takes [begin, end) in groups of rows (after any column tiles).
/// (The backward walk, for a dst just past src, stays row by row.)
template <class Ops>
constexpr bool walks_row_groups(std::size_t period, std::size_t begin, std::size_t end) noexcept {
  return Ops::lanes > 1 && period >= kRowGroupPeriodMin && period % Ops::lanes == 0 &&
         (end - begin >= kRowGroupMinElements || period >= kRowGroupsAlwaysPeriod);
}

/// Whole groups of kRowsPerGroup rows (each `period` elements) from `i`, which leave `pos`
/// unchanged; returns where they stopped. At each position the vectors of all the rows are
/// loaded before any is stored: rows a multiple of 4 KiB apart would otherwise make each
/// load wait on the store just issued to the previous row at the same 4 KiB offset when dst
/// and src share one (4K aliasing; 1.14x the row-by-row time instead of 0.80).
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
std::size_t row_groups(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                       const float* scale, const float* shift, std::size_t period, std::size_t pos,
                       std::size_t i, std::size_t end) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kRows = kRowsPerGroup;
  const std::size_t group = kRows * period;
  for (; group <= end - i; i += group) {
    std::size_t p = pos;
    for (std::size_t k = i; k < i + period; k += kLanes) {
      const vec s = Ops::load(scale + p);
      const vec b = Ops::load(shift + p);
      vec x[kRows];
      vec residual[kRows];
#pragma GCC unroll 4
      for (std::size_t r = 0; r < kRows; ++r) {
        x[r] = Ops::load(io.src + k + r * period);
        if constexpr (kResidual) residual[r] = Ops::load(io.residual + k + r * period);
      }
#pragma GCC unroll 4
      for (std::size_t r = 0; r < kRows; ++r) {
        const vec y = epilogue(x[r], s, b, kResidual ? residual[r] : x[r]);
        if constexpr (kStream) {
          Ops::stream(io.dst + k + r * period, y);
        } else {
          Ops::store(io.dst + k + r * period, y);
        }
      }
      p = p + kLanes >= period ? p + kLanes - period : p + kLanes;
    }
  }
  return i;
}

/// Loads kVectors consecutive vectors of the scale and shift pattern from position `pos`
/// (wrapping at `period`) into s and b; returns the position after them.
template <std::size_t kVectors, class Ops>
[[gnu::always_inline]] inline std::size_t load_pattern(const float* scale, const float* shift,
                                                       std::size_t period, std::size_t pos,
                                                       typename Ops::vec (&s)[kVectors],
                                                       typename Ops::vec (&b)[kVectors]) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  for (std::size_t v = 0; v < kVectors; ++v) {
    s[v] = Ops::load(scale + pos);
    b[v] = Ops::load(shift + pos);
    pos = pos + kLanes >= period ? pos + kLanes - period : pos + kLanes;
  }
  return pos;
}

/// Short patterns of kVectors whole vectors (period = kVectors * lanes: 64 or 128 channels on
/// AVX-512) keep the pattern in registers: from `pos` on, every run of kVectors vectors takes
/// the same scale and shift vectors in the same order. Returns where the runs stopped. The
/// table loads this saves cost about 7% even streaming from DRAM (one thread, NHWC
/// 32x112x112x64 in a standalone loop: 6.5 ms with loads, 6.1-6.3 ms without, as NCHW).
template <std::size_t kVectors, class Ops, bool kResidual, ClampKind kClamp, bool kStream>
std::size_t register_pattern_runs(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                                  const float* scale, const float* shift, std::size_t period,
                                  std::size_t pos, std::size_t i, std::size_t end) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kRun = kVectors * kLanes;
  vec s[kVectors];
  vec b[kVectors];
  load_pattern<kVectors, Ops>(scale, shift, period, pos, s, b);
  for (; kRun <= end - i; i += kRun) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < kVectors; ++v) {
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + v * kLanes, s[v], b[v]);
    }
  }
  return i;
}

/// Longer patterns of whole vectors (up to kHeldPatternMaxVectors) keep their first kHeld
/// vectors' scale and shift in registers and load the rest: a third of the table loads of 256
/// channels on AVX-512, a quarter of 512's, the same arithmetic as the plain walk. Dev machine
/// (Zen 4), one thread, three alternating `bnrt bench --shapes` runs: (4096, 256) 91.7-94.3 ->
/// 89.4-90.6 us, NHWC 1x56x56x256 69.8-70.3 -> 68.3-69.0; 512 and 1024 channels level.
inline constexpr std::size_t kHeldVectors = 8;
inline constexpr std::size_t kHeldPatternMaxVectors = 64;

template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
std::size_t held_pattern_runs(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                              const float* scale, const float* shift, std::size_t period,
                              std::size_t pos, std::size_t i, std::size_t end) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  auto wrap = [period](std::size_t p) { return p >= period ? p - period : p; };
  vec s[kHeldVectors];
  vec b[kHeldVectors];
  pos = load_pattern<kHeldVectors, Ops>(scale, shift, period, pos, s, b);
  const std::size_t rest_pos = pos;  // where the loaded vectors start in the pattern
  for (; period <= end - i; i += period) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < kHeldVectors; ++v) {
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + v * kLanes, s[v], b[v]);
    }
    std::size_t p = rest_pos;
    for (std::size_t k = kHeldVectors * kLanes; k < period; k += kLanes) {
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + k, Ops::load(scale + p),
                                                      Ops::load(shift + p));
      p = wrap(p + kLanes);
    }
  }
  return i;
}

/// register_pattern_runs for the backward walk: whole runs of kVectors vectors ending at `i`,
/// from the last run down to `begin`, each run's vectors from its last to its first (a store
/// must never precede a load just above it), the pattern from `pos`, the position of `i`.
/// Returns where the runs stopped.
template <std::size_t kVectors, class Ops, bool kResidual, ClampKind kClamp, bool kStream>
std::size_t register_pattern_runs_backward(Streams io,
                                           const Epilogue<Ops, kResidual, kClamp>& epilogue,
                                           const float* scale, const float* shift,
                                           std::size_t period, std::size_t pos, std::size_t begin,
                                           std::size_t i) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kRun = kVectors * kLanes;
  vec s[kVectors];
  vec b[kVectors];
  load_pattern<kVectors, Ops>(scale, shift, period, pos, s, b);  // a run starts at `i`'s position
  for (; i - begin >= kRun;) {
    i -= kRun;
#pragma GCC unroll 8
    for (std::size_t r = 0; r < kVectors; ++r) {
      const std::size_t v = kVectors - 1 - r;  // (a count-down loop is not unrolled)
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + v * kLanes, s[v], b[v]);
    }
  }
  return i;
}

/// held_pattern_runs for the backward walk: whole periods ending at `i` (at position `pos`
/// of the pattern), from the last down to `begin`, each from its last vector to its first.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
std::size_t held_pattern_runs_backward(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                                       const float* scale, const float* shift, std::size_t period,
                                       std::size_t pos, std::size_t begin, std::size_t i) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  auto wrap = [period](std::size_t p) { return p >= period ? p - period : p; };
  vec s[kHeldVectors];
  vec b[kHeldVectors];
  pos = load_pattern<kHeldVectors, Ops>(scale, shift, period, pos, s, b);
  // The run's last vector sits period - lanes past its start, kHeldVectors vectors of it
  // back from `pos` now.
  const std::size_t last_pos = wrap(pos + period - (kHeldVectors + 1) * kLanes);
  for (; i - begin >= period;) {
    i -= period;
    std::size_t p = last_pos;
    for (std::size_t k = period - kLanes; k >= kHeldVectors * kLanes; k -= kLanes) {
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + k, Ops::load(scale + p),
                                                      Ops::load(shift + p));
      p = p >= kLanes ? p - kLanes : p + period - kLanes;
    }
#pragma GCC unroll 8
    for (std::size_t r = 0; r < kHeldVectors; ++r) {
      const std::size_t v = kHeldVectors - 1 - r;
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + v * kLanes, s[v], b[v]);
    }
  }
  return i;
}

template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void channels_last_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t period = args.period;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  std::size_t pos = begin < period ? begin : begin % period;  // no division on the common path
  std::size_t i = begin;
  // Vector steps never exceed period (>= kMaxLanes >= lanes), so one subtraction wraps; the
  // tables extend kMaxLanes past the period, so a vector load never wraps mid-vector.
  auto wrap = [period](std::size_t p) { return p >= period ? p - period : p; };

  const std::size_t head = min_size<Ops>(end - i, Ops::elements_to_alignment(io.dst + i));
  if (head > 0) {
    transform_partial(io, epilogue, i, head, Ops::load(scale + pos), Ops::load(shift + pos));
    i += head;
    pos = wrap(pos + head);
  }
  if (walks_column_tiles<Ops>(args, begin, end)) {
    // Whole blocks of rows (each `period` elements from i) leave pos unchanged; the last block
    // takes the whole rows left (a two-thread split of 49 rows leaves 8 or 9 after a block of
    // 16, which row by row reloaded the tables for every row).
    for (std::size_t rows; (rows = min_size<Ops>((end - i) / period, kRowsPerTileBlock)) > 0;
         i += rows * period) {
      for (std::size_t tile = 0; tile < period; tile += kTileFloats) {
        const std::size_t tile_end = min_size<Ops>(tile + kTileFloats, period);
        const std::size_t tile_pos = wrap(pos + tile);
        for (std::size_t row = 0; row < rows; ++row) {
          const std::size_t base = i + row * period;
          std::size_t p = tile_pos;
          for (std::size_t k = tile; k < tile_end; k += kLanes) {
            transform_full<Ops, kResidual, kClamp, kStream>(
                io, epilogue, base + k, Ops::load(scale + p), Ops::load(shift + p));
            p = wrap(p + kLanes);
          }
        }
      }
    }
  }
  if (walks_row_groups<Ops>(period, begin, end)) {
    i = row_groups<Ops, kResidual, kClamp, kStream>(io, epilogue, scale, shift, period, pos, i,
                                                    end);
  }
  // Whole runs of a short pattern leave pos where it was.
  if constexpr (Ops::lanes > 1) {
    if (period == 4 * kLanes) {
      i = register_pattern_runs<4, Ops, kResidual, kClamp, kStream>(io, epilogue, scale, shift,
                                                                    period, pos, i, end);
    } else if (period == 8 * kLanes && Ops::is_avx512) {  // 16 registers of pattern
      i = register_pattern_runs<8, Ops, kResidual, kClamp, kStream>(io, epilogue, scale, shift,
                                                                    period, pos, i, end);
    } else if (Ops::is_avx512 && period % kLanes == 0 && period > kHeldVectors * kLanes &&
               period <= kHeldPatternMaxVectors * kLanes) {
      i = held_pattern_runs<Ops, kResidual, kClamp, kStream>(io, epilogue, scale, shift, period,
                                                             pos, i, end);
    }
  }
  for (; kLanes <= end - i; i += kLanes) {
    transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, Ops::load(scale + pos),
                                                    Ops::load(shift + pos));
    pos = wrap(pos + kLanes);
  }
  if (i < end) {
    transform_partial(io, epilogue, i, end - i, Ops::load(scale + pos), Ops::load(shift + pos));
  }
  if constexpr (kStream) Ops::stream_fence();
}

/// The same map walked from `end` down to `begin` (whole vectors aligned to dst as above, the
/// partial vectors at either end): see walks_backward for when. Every element gets the same
/// arithmetic as in the forward walk.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void channels_last_walk_backward(const AffineArgs& args, std::size_t begin,
                                 std::size_t end) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t period = args.period;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  const std::size_t head = min_size<Ops>(end - begin, Ops::elements_to_alignment(io.dst + begin));
  const std::size_t body_begin = begin + head;
  const std::size_t body_end = body_begin + (end - body_begin) / kLanes * kLanes;
  std::size_t pos = body_end % period;
  if (body_end < end) {
    transform_partial(io, epilogue, body_end, end - body_end, Ops::load(scale + pos),
                      Ops::load(shift + pos));
  }
  std::size_t i = body_end;
  // Whole runs of a short pattern, as in the forward walk (they leave pos where it was):
  // without them a destination just past its source cost NHWC 1x14x14x256 38% and
  // 1x56x56x64 23% over the forward walk.
  if constexpr (Ops::lanes > 1) {
    if (period == 4 * kLanes) {
      i = register_pattern_runs_backward<4, Ops, kResidual, kClamp, kStream>(
          io, epilogue, scale, shift, period, pos, body_begin, i);
    } else if (period == 8 * kLanes && Ops::is_avx512) {
      i = register_pattern_runs_backward<8, Ops, kResidual, kClamp, kStream>(
          io, epilogue, scale, shift, period, pos, body_begin, i);
    } else if (Ops::is_avx512 && period % kLanes == 0 && period > kHeldVectors * kLanes &&
               period <= kHeldPatternMaxVectors * kLanes) {
      i = held_pattern_runs_backward<Ops, kResidual, kClamp, kStream>(io, epilogue, scale, shift,
                                                                      period, pos, body_begin, i);
    }
  }
  while (i > body_begin) {
    i -= kLanes;
    pos = pos >= kLanes ? pos - kLanes : pos + period - kLanes;
    transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, Ops::load(scale + pos),
                                                    Ops::load(shift + pos));
  }
  if (head > 0) {
    pos = begin % period;
    transform_partial(io, epilogue, begin, head, Ops::load(scale + pos), Ops::load(shift + pos));
  }
  if constexpr (kStream) Ops::stream_fence();
}

}  // namespace bnrt::kernels
