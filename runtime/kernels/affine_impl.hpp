// Kernel bodies for y = clamp(x * scale[c] + shift[c] (+ r), lo, hi), written once against an
// "Ops" vocabulary (SimdOps<Arch> or ScalarOps) and instantiated per ISA by affine_<isa>.cpp.
//
// Both kernels walk a flat element range in whole vectors aligned to dst, so that every store
// but the first and last is aligned (and may be non-temporal), whatever the plane or row sizes:
// - channels-last: the scale/shift pattern repeats every `period` elements (a multiple of C;
//   the tables run kMaxLanes past it so vector loads never wrap mid-vector), so a vector just
//   loads scale and shift at its offset; very wide patterns go a column tile at a time across
//   a block of rows in cache-sized ranges, so the tables stay in L1, and four rows at a time
//   in large ranges, so each table vector is loaded once for four rows;
// - channels-first: all lanes usually sit in one (n, c) plane and share one broadcast scale;
//   a vector straddling two planes blends two broadcasts, and planes narrower than a vector
//   go a vector's width of planes at a time, each vector's lanes permuted out of the tables'
//   entries for those planes (lane by lane only at the ends of a range).
// Every element gets the same arithmetic whichever way it is reached (full vector, masked
// tail, straddle), so the output never depends on how the range was split across threads.
// Both kernels also walk backward, from the end of the range, when dst sits just past src or
// the residual modulo 4096 (see walks_backward); the output is the same.
#pragma once

#include <cstddef>
#include <cstdint>

#include "affine_kernels.hpp"
#include "narrow_planes.hpp"

namespace bnrt::kernels {

// No <algorithm> here: a std::min instantiated in an AVX-512 unit could be the copy the linker
// keeps for baseline code. Helpers are templates on Ops, so each ISA gets its own symbol.
template <class Ops>
constexpr std::size_t min_size(std::size_t a, std::size_t b) noexcept {
  return a < b ? a : b;
}

/// Streaming needs whole aligned vectors, which a pointer that is not float-aligned never has.
template <class Ops>
bool can_stream(const AffineArgs& args) noexcept {
  return args.stream && Ops::lanes > 1 &&
         reinterpret_cast<std::uintptr_t>(args.dst) % sizeof(float) == 0;
}

template <class Ops, bool kResidual, ClampKind kClamp>
struct Epilogue {
  using vec = typename Ops::vec;
  vec lo;
  vec hi;

  explicit Epilogue(const AffineArgs& args) noexcept
      : lo(Ops::broadcast(args.lo)), hi(Ops::broadcast(args.hi)) {}

  vec operator()(const vec& x, const vec& scale, const vec& shift,
                 const vec& residual) const noexcept {
    vec y = Ops::fma(x, scale, shift);
    if constexpr (kResidual) y = y + residual;
    if constexpr (kClamp != ClampKind::none) y = Ops::max_bound(lo, y);
    if constexpr (kClamp == ClampKind::both) y = Ops::min_bound(hi, y);
    return y;
  }
};

/// The tensors one kernel call touches, copied out of AffineArgs into locals: xsimd's stores
/// may alias anything, so pointers left in the args struct would be reloaded after every store.
struct Streams {
  const float* src;
  const float* residual;
  float* dst;
};

/// Loads, transforms and stores `n` elements at `i` (n < lanes: a masked or staged tail).
template <class Ops, bool kResidual, ClampKind kClamp>
inline void transform_partial(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                              std::size_t i, std::size_t n, const typename Ops::vec& scale,
                              const typename Ops::vec& shift) noexcept {
  using vec = typename Ops::vec;
  const vec x = Ops::load_partial(io.src + i, n);
  const vec residual = kResidual ? Ops::load_partial(io.residual + i, n) : vec{};
  Ops::store_partial(io.dst + i, epilogue(x, scale, shift, residual), n);
}

/// One whole vector at `i`; with kStream, dst + i must be vector-aligned.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
inline void transform_full(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                           std::size_t i, const typename Ops::vec& scale,
                           const typename Ops::vec& shift) noexcept {
  using vec = typename Ops::vec;
  const vec x = Ops::load(io.src + i);
  const vec residual = kResidual ? Ops::load(io.residual + i) : vec{};
  const vec y = epilogue(x, scale, shift, residual);
  if constexpr (kStream) {
    Ops::stream(io.dst + i, y);
  } else {
    Ops::store(io.dst + i, y);
  }
}

// ---- channels-last: the per-channel pattern repeats every `period` elements ----------------

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
  for (std::size_t v = 0; v < kVectors; ++v) {
    s[v] = Ops::load(scale + pos);
    b[v] = Ops::load(shift + pos);
    pos = pos + kLanes >= period ? pos + kLanes - period : pos + kLanes;
  }
  for (; kRun <= end - i; i += kRun) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < kVectors; ++v) {
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
  for (std::size_t i = body_end; i > body_begin;) {
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

// ---- channels-first: one scale per (n, c) plane of `inner` elements -------------------------

/// Position in the plane sequence: the current channel and how many elements of its plane
/// remain (>= 1).
struct PlaneCursor {
  std::size_t channel;
  std::size_t remaining;
};

template <class Ops>
struct PlaneLanes {
  using vec = typename Ops::vec;

  /// Scale and shift for the `n` lanes starting at `cursor` (does not move the cursor).
  static void gather(const AffineArgs& args, PlaneCursor cursor, std::size_t n, vec& scale,
                     vec& shift) noexcept {
    const std::size_t c0 = cursor.channel;
    if (cursor.remaining >= n) {
      scale = Ops::broadcast(args.scale[c0]);
      shift = Ops::broadcast(args.shift[c0]);
      return;
    }
    if (args.inner >= Ops::lanes) {
      // Lanes past `remaining` all fall in the next plane, since it is at least a vector long.
      const std::size_t c1 = c0 + 1 == args.channels ? 0 : c0 + 1;
      scale = Ops::select_first(cursor.remaining, Ops::broadcast(args.scale[c0]),
                                Ops::broadcast(args.scale[c1]));
      shift = Ops::select_first(cursor.remaining, Ops::broadcast(args.shift[c0]),
                                Ops::broadcast(args.shift[c1]));
      return;
    }
    // Planes narrower than a vector: fill lane by lane (only tiny spatial sizes get here).
    alignas(64) float lane_scale[kMaxLanes] = {};
    alignas(64) float lane_shift[kMaxLanes] = {};
    for (std::size_t lane = 0; lane < n; ++lane) {
      lane_scale[lane] = args.scale[cursor.channel];
      lane_shift[lane] = args.shift[cursor.channel];
      advance(args, cursor, 1);
    }
    scale = Ops::load(lane_scale);
    shift = Ops::load(lane_shift);
  }

  static void advance(const AffineArgs& args, PlaneCursor& cursor, std::size_t n) noexcept {
    while (n >= cursor.remaining) {
      n -= cursor.remaining;
      cursor.channel = cursor.channel + 1 == args.channels ? 0 : cursor.channel + 1;
      cursor.remaining = args.inner;
    }
    cursor.remaining -= n;
  }
};

template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void channels_first_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  using vec = typename Ops::vec;
  using Lanes = PlaneLanes<Ops>;
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t channels = args.channels;
  const std::size_t inner = args.inner;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  // A whole tensor on one thread starts at 0: skip the divisions there.
  const std::size_t plane = begin == 0 ? 0 : begin / inner;
  PlaneCursor cursor{plane < channels ? plane : plane % channels, (plane + 1) * inner - begin};
  std::size_t i = begin;
  vec s;
  vec b;

  const std::size_t head = min_size<Ops>(end - i, Ops::elements_to_alignment(io.dst + i));
  if (head > 0) {
    Lanes::gather(args, cursor, head, s, b);
    transform_partial(io, epilogue, i, head, s, b);
    i += head;
    Lanes::advance(args, cursor, head);
  }
  if (inner >= kLanes) {
    // Each plane: a run of whole vectors sharing one broadcast, then at most one vector that
    // straddles into the next plane (which is at least a vector long, so it cannot end there).
    std::size_t c = cursor.channel;
    std::size_t remaining = cursor.remaining;
    while (kLanes <= end - i) {
      s = Ops::broadcast(scale[c]);
      b = Ops::broadcast(shift[c]);
      const std::size_t run_end = i + min_size<Ops>(remaining, end - i) / kLanes * kLanes;
      remaining -= run_end - i;
      for (; i < run_end; i += kLanes) {
        transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s, b);
      }
      const std::size_t next = c + 1 == channels ? 0 : c + 1;
      if (remaining == 0) {
        c = next;
        remaining = inner;
        continue;
      }
      if (end - i < kLanes) break;  // the chunk ends inside this plane
      const vec s_mix = Ops::select_first(remaining, s, Ops::broadcast(scale[next]));
      const vec b_mix = Ops::select_first(remaining, b, Ops::broadcast(shift[next]));
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s_mix, b_mix);
      i += kLanes;
      remaining = inner - (kLanes - remaining);
      c = next;
    }
    cursor = {c, remaining};
  } else {
    // Planes narrower than a vector (tiny spatial sizes): gather lane by lane.
    for (; kLanes <= end - i; i += kLanes) {
      Lanes::gather(args, cursor, kLanes, s, b);
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s, b);
      Lanes::advance(args, cursor, kLanes);
    }
  }
  if (i < end) {
    Lanes::gather(args, cursor, end - i, s, b);
    transform_partial(io, epilogue, i, end - i, s, b);
  }
  if constexpr (kStream) Ops::stream_fence();
}

/// Whole groups of `lanes` narrow planes over [first, end) (see narrow_planes_walk), from the
/// group whose first plane is channel c0. kStream only when dst + first is vector-aligned.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void narrow_plane_groups(const AffineArgs& args, std::size_t first, std::size_t end,
                         std::size_t c0) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t inner = args.inner;
  const std::size_t channels = args.channels;
  const std::size_t step = kLanes % channels;  // channels from one group to the next
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  const auto& index = kNarrowPlaneIndex<kLanes>.at[inner];
  for (std::size_t i = first; i < end; i += kLanes * inner) {
    const vec s = Ops::load(scale + c0);
    const vec b = Ops::load(shift + c0);
    for (std::size_t j = 0; j < inner; ++j) {
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + j * kLanes,
                                                      Ops::permute_lanes(s, index[j]),
                                                      Ops::permute_lanes(b, index[j]));
    }
    c0 += step;
    c0 = c0 >= channels ? c0 - channels : c0;
  }
  if constexpr (kStream) Ops::stream_fence();
}

/// Planes narrower than a vector (2x2, 3x3, short NCL rows: inner < lanes), on ISAs with a
/// lane permute. From the first multiple of lanes * inner elements on, the range is groups of
/// `lanes` planes, each group exactly `inner` vectors: the group's scale and shift are the
/// `lanes` table entries from its first plane's channel on (the tables repeat the channel
/// pattern past its end; in a one-sample tensor a whole group's planes are those channels),
/// and lane l of the group's vector j belongs to plane (j * lanes + l) / inner, one permute of
/// each table per vector, the same indices for every group. The lane-by-lane gather took 20x
/// memcpy's time (NCHW 32x512x3x3, one thread: 323 vs 14 us). Partial groups at either end
/// take channels_first_walk; the arithmetic per element is the same either way.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void narrow_planes_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const std::size_t inner = args.inner;
  const std::size_t group = kLanes * inner;
  const std::size_t first = (begin + group - 1) / group * group;
  if (first >= end || end - first < group) {
    channels_first_walk<Ops, kResidual, kClamp, kStream>(args, begin, end);
    return;
  }
  const std::size_t groups_end = first + (end - first) / group * group;
  if (begin < first) channels_first_walk<Ops, kResidual, kClamp, kStream>(args, begin, first);
  const std::size_t c0 = first / inner % args.channels;
  if (kStream && Ops::elements_to_alignment(args.dst + first) == 0) {
    narrow_plane_groups<Ops, kResidual, kClamp, true>(args, first, groups_end, c0);
  } else {
    narrow_plane_groups<Ops, kResidual, kClamp, false>(args, first, groups_end, c0);
  }
  if (groups_end < end) channels_first_walk<Ops, kResidual, kClamp, kStream>(args, groups_end, end);
}

/// The same map walked from `end` down to `begin`, for planes of at least a vector (narrower
/// ones always walk forward): each whole vector takes its plane's broadcast, or a blend of two
/// when it straddles a plane boundary, exactly as in the forward walk.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void channels_first_walk_backward(const AffineArgs& args, std::size_t begin,
                                  std::size_t end) noexcept {
  using vec = typename Ops::vec;
  using Lanes = PlaneLanes<Ops>;
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t channels = args.channels;
  const std::size_t inner = args.inner;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  auto cursor_at = [&](std::size_t i) {
    const std::size_t plane = i / inner;
    return PlaneCursor{plane % channels, (plane + 1) * inner - i};
  };
  const std::size_t head = min_size<Ops>(end - begin, Ops::elements_to_alignment(io.dst + begin));
  const std::size_t body_begin = begin + head;
  const std::size_t body_end = body_begin + (end - body_begin) / kLanes * kLanes;
  vec s;
  vec b;
  if (body_end < end) {
    Lanes::gather(args, cursor_at(body_end), end - body_end, s, b);
    transform_partial(io, epilogue, body_end, end - body_end, s, b);
  }
  if (body_end > body_begin) {
    // Plane of the next vector down: its first element, channel and broadcasts, moved down a
    // plane at a time as the vectors cross into earlier planes.
    std::size_t plane_begin = (body_end - kLanes) / inner * inner;
    std::size_t c = (body_end - kLanes) / inner % channels;
    vec s_plane = Ops::broadcast(scale[c]);
    vec b_plane = Ops::broadcast(shift[c]);
    for (std::size_t i = body_end; i > body_begin;) {
      i -= kLanes;
      if (i < plane_begin) {
        plane_begin -= inner;  // planes are at least a vector long: one step back suffices
        c = c == 0 ? channels - 1 : c - 1;
        s_plane = Ops::broadcast(scale[c]);
        b_plane = Ops::broadcast(shift[c]);
      }
      const std::size_t in_plane = plane_begin + inner - i;  // lanes in plane c, >= 1
      if (in_plane >= kLanes) {
        transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s_plane, b_plane);
      } else {
        const std::size_t next = c + 1 == channels ? 0 : c + 1;
        transform_full<Ops, kResidual, kClamp, kStream>(
            io, epilogue, i, Ops::select_first(in_plane, s_plane, Ops::broadcast(scale[next])),
            Ops::select_first(in_plane, b_plane, Ops::broadcast(shift[next])));
      }
    }
  }
  if (head > 0) {
    Lanes::gather(args, cursor_at(begin), head, s, b);
    transform_partial(io, epilogue, begin, head, s, b);
  }
  if constexpr (kStream) Ops::stream_fence();
}

/// Bytes within which a destination just ahead of its source (or residual) is walked
/// backward. A forward walk loads src + 4i while the stores of the last few vectors are
/// pending; when dst sits 1 to 255 bytes past src modulo 4096, those stores match the load's
/// low 12 address bits and the load waits on them (4K aliasing). Dev machine, one thread,
/// NHWC 1x112x112x64, % of memcpy by (dst - src) mod 4096: 64 bytes 76, 128 bytes 90, 0 or
/// 256 and up 97-102; walking backward: 100 at 64 to 192 (and 78 at -64, hence only when dst
/// is ahead). glibc's memmove makes the same choice.
inline constexpr std::uintptr_t kBackwardGapBytes = 256;

inline bool walks_backward(const AffineArgs& args) noexcept {
  const auto ahead = [&](const float* from) {
    const std::uintptr_t gap =
        (reinterpret_cast<std::uintptr_t>(args.dst) - reinterpret_cast<std::uintptr_t>(from)) %
        4096;
    return gap > 0 && gap < kBackwardGapBytes;
  };
  return ahead(args.src) || (args.residual != nullptr && ahead(args.residual));
}

// ---- entry points and the table -----------------------------------------------------------

template <class Ops, bool kResidual, ClampKind kClamp>
void channels_last_range(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  // The column-tiled walk of wide patterns (cache-sized ranges) always goes forward.
  const bool backward =
      Ops::lanes > 1 && !walks_column_tiles<Ops>(args, begin, end) && walks_backward(args);
  if (can_stream<Ops>(args)) {
    if (backward) {
      channels_last_walk_backward<Ops, kResidual, kClamp, true>(args, begin, end);
    } else {
      channels_last_walk<Ops, kResidual, kClamp, true>(args, begin, end);
    }
  } else if (backward) {
    channels_last_walk_backward<Ops, kResidual, kClamp, false>(args, begin, end);
  } else {
    channels_last_walk<Ops, kResidual, kClamp, false>(args, begin, end);
  }
}

template <class Ops, bool kResidual, ClampKind kClamp>
void channels_first_range(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  if constexpr (Ops::has_lane_permute) {
    if (args.inner < Ops::lanes) {
      if (can_stream<Ops>(args)) {
        narrow_planes_walk<Ops, kResidual, kClamp, true>(args, begin, end);
      } else {
        narrow_planes_walk<Ops, kResidual, kClamp, false>(args, begin, end);
      }
      return;
    }
  }
  const bool backward = Ops::lanes > 1 && args.inner >= Ops::lanes && walks_backward(args);
  if (can_stream<Ops>(args)) {
    if (backward) {
      channels_first_walk_backward<Ops, kResidual, kClamp, true>(args, begin, end);
    } else {
      channels_first_walk<Ops, kResidual, kClamp, true>(args, begin, end);
    }
  } else if (backward) {
    channels_first_walk_backward<Ops, kResidual, kClamp, false>(args, begin, end);
  } else {
    channels_first_walk<Ops, kResidual, kClamp, false>(args, begin, end);
  }
}

template <class Ops>
constexpr AffineKernelTable make_affine_table() noexcept {
  constexpr auto none = ClampKind::none;
  constexpr auto lower = ClampKind::lower;
  constexpr auto both = ClampKind::both;
  return AffineKernelTable{
      .channels_first = {{&channels_first_range<Ops, false, none>,
                          &channels_first_range<Ops, false, lower>,
                          &channels_first_range<Ops, false, both>},
                         {&channels_first_range<Ops, true, none>,
                          &channels_first_range<Ops, true, lower>,
                          &channels_first_range<Ops, true, both>}},
      .channels_last = {{&channels_last_range<Ops, false, none>,
                         &channels_last_range<Ops, false, lower>,
                         &channels_last_range<Ops, false, both>},
                        {&channels_last_range<Ops, true, none>,
                         &channels_last_range<Ops, true, lower>,
                         &channels_last_range<Ops, true, both>}},
      .lanes = Ops::lanes,
  };
}

}  // namespace bnrt::kernels
