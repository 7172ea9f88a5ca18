// The fast moments kernels used by the training-mode forward: the same blocks, shifts and
// outputs as the exact kernels, but d = x - K and its square are accumulated in float for runs
// of kFloatRun values per lane and only then widened into double accumulators. That is
// 3 float ops per vector instead of 4 double ops per half vector: 2.5x faster, faster than
// memcpy reads (dev machine), so the statistics pass no longer dominates a training step.
//
// Precision: K comes from the block's first values (see kShiftSample), so d is of the order of the
// spread (and x - K is exact in float whenever x is within a factor 2 of K, which covers any large
// common offset); a run of 16 float terms is accurate to ~16 * 2^-24 of its terms; the runs then
// add exactly enough in double. Statistics come out within ~1e-6 relative of the exact ones, far
// below what a float output or a float running statistic can show; batch_moments and the
// recalibration accumulator use the exact kernels instead.
//
// This file: channels-first blocks; moments_fast_rows_impl.hpp: channels-last ones.
#pragma once

#include <cstddef>

#include "moments_exact_planes_impl.hpp"
#include "narrow_planes.hpp"

namespace bnrt::kernels {

/// Values per float accumulator lane before it is widened into double.
inline constexpr std::size_t kFloatRun = 16;

/// The shift is the average of the block's first (up to) kShiftSample values: still inside the
/// data (so x - K stays exact in float for offset data), but within about sigma / sqrt(8) of
/// the mean instead of anywhere in the distribution. A first value 2 sigma out would make
/// M2 = q - s^2 / n cancel and magnify the float runs' rounding about 5x.
inline constexpr std::size_t kShiftSample = 8;

/// How far ahead a block's first walk prefetches its own tile (see tile_moments_fast).
inline constexpr std::size_t kPrefetchRows = 32;

/// The float shift of a run of values: the mean of its first (up to) kShiftSample values.
inline float sample_shift(const float* x, std::size_t n) noexcept {
  const std::size_t sample = n < kShiftSample ? n : kShiftSample;
  float sum = 0.0f;
  for (std::size_t k = 0; k < sample; ++k) sum += x[k];
  return sum / static_cast<float>(sample);
}

/// The double totals of a tile of kChannels channels-first blocks: per channel its float shift
/// and the widened sums and sums of squares of its float runs.
template <class Ops, std::size_t kChannels>
struct TileTotals {
  using vec = typename Ops::vec;
  using vecd = typename Ops::vecd;
  float shift[kChannels] = {};  // set by the walk from each channel's first plane
  vecd s_lo[kChannels], s_hi[kChannels], q_lo[kChannels], q_hi[kChannels];

  TileTotals() noexcept {
    for (std::size_t t = 0; t < kChannels; ++t) {
      s_lo[t] = s_hi[t] = q_lo[t] = q_hi[t] = Ops::broadcast_d(0.0);
    }
  }
  void add(std::size_t t, const vec& sums, const vec& squares) noexcept {
    Ops::widen_add(sums, s_lo[t], s_hi[t]);
    Ops::widen_add(squares, q_lo[t], q_hi[t]);
  }
  /// Block first_block + t * block_step gets channel t's mean and M2 over `count` values.
  void finish(const MomentsArgs& args, std::size_t first_block, std::size_t block_step,
              double count) const noexcept {
    for (std::size_t t = 0; t < kChannels; ++t) {
      const std::size_t block = first_block + t * block_step;
      finish_block<Ops>(shift[t], Ops::sum(s_lo[t] + s_hi[t]), Ops::sum(q_lo[t] + q_hi[t]), count,
                        args.mean + block, args.m2 + block);
    }
  }
};

/// kChannels consecutive blocks of long planes (at least one float run of whole vectors each):
/// sample by sample, each channel's plane in runs of up to kFloatRun vectors per lane (two
/// accumulator pairs, for latency), each run widened into the channel's double totals. With
/// one channel it reduces the one-plane blocks of large planes; tiles serve grouped planes on
/// narrow ISAs, where 64 values already make a long plane (SSE2, scalar), and walk the tile's
/// planes side by side in each sample so the reads stay in memory order. A channel's
/// arithmetic does not depend on kChannels.
template <class Ops, std::size_t kChannels>
void long_planes_moments_fast(const MomentsArgs& args, std::size_t first_block) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  const ChannelsFirstBlock block = channels_first_block(args, first_block);
  const std::size_t n = block.length;
  const std::size_t plane_stride = args.inner;  // next channel, same sample
  TileTotals<Ops, kChannels> totals;
  for (std::size_t plane = 0; plane < block.planes; ++plane) {
    for (std::size_t t = 0; t < kChannels; ++t) {
      const float* x = block.first + plane * block.stride + t * plane_stride;
      if (plane == 0) totals.shift[t] = sample_shift(x, n);  // in walk order
      const vec shift = Ops::broadcast(totals.shift[t]);
      std::size_t i = 0;
      while (i + kLanes <= n) {
        // One run: at most kFloatRun / 2 vectors into each of two accumulator pairs.
        const std::size_t run =
            n - i < kFloatRun * kLanes ? (n - i) / kLanes * kLanes : kFloatRun * kLanes;
        const std::size_t run_end = i + run;
        vec s0 = Ops::broadcast(0.0f), s1 = s0, q0 = s0, q1 = s0;
        for (; i + 2 * kLanes <= run_end; i += 2 * kLanes) {
          const vec a = Ops::load(x + i) - shift;
          const vec b = Ops::load(x + i + kLanes) - shift;
          s0 = s0 + a;
          s1 = s1 + b;
          q0 = Ops::fma(a, a, q0);
          q1 = Ops::fma(b, b, q1);
        }
        if (i < run_end) {
          const vec a = Ops::load(x + i) - shift;
          s0 = s0 + a;
          q0 = Ops::fma(a, a, q0);
          i += kLanes;
        }
        totals.add(t, s0 + s1, q0 + q1);
      }
      if (i < n) {
        const vec d = Ops::sub_first(Ops::load_partial(x + i, n - i), shift, n - i);
        totals.add(t, d, d * d);
      }
    }
  }
  totals.finish(args, first_block, args.segments, static_cast<double>(block.planes * n));
}

/// kChannels consecutive blocks of one group of short planes (fewer than kFloatRun vectors):
/// in each sample their planes lie side by side, so the walk reads kChannels * inner
/// contiguous values per sample. Each channel keeps one float pair per tile slot and widens
/// it after as many whole planes as fill a run. The arithmetic of a channel does not depend on
/// kChannels, so results do not depend on how blocks were split between threads.
template <class Ops, std::size_t kChannels>
void short_planes_moments_fast(const MomentsArgs& args, std::size_t first_block) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  const ChannelsFirstBlock block = channels_first_block(args, first_block);
  const std::size_t inner = block.length;
  const std::size_t whole = inner / kLanes;
  const std::size_t tail = inner % kLanes;
  const std::size_t vectors = whole + (tail != 0 ? 1 : 0);
  const std::size_t planes_per_run = kFloatRun / vectors;  // >= 1 for short planes
  TileTotals<Ops, kChannels> totals;
  vec shift[kChannels];
  for (std::size_t t = 0; t < kChannels; ++t) shift[t] = Ops::broadcast(0.0f);
  for (std::size_t run = 0; run < block.planes; run += planes_per_run) {
    const std::size_t run_end =
        block.planes - run < planes_per_run ? block.planes : run + planes_per_run;
    vec s[kChannels], q[kChannels];
    for (std::size_t t = 0; t < kChannels; ++t) s[t] = q[t] = Ops::broadcast(0.0f);
    for (std::size_t plane = run; plane < run_end; ++plane) {
      const float* x = block.first + plane * block.stride;
#pragma GCC unroll 8
      for (std::size_t t = 0; t < kChannels; ++t) {
        const float* channel = x + t * inner;
        if (plane == 0) {  // in walk order: reads ahead of the walk mislead the prefetchers
          totals.shift[t] = sample_shift(channel, inner);
          shift[t] = Ops::broadcast(totals.shift[t]);
        }
        for (std::size_t i = 0; i < whole; ++i) {
          const vec d = Ops::load(channel + i * kLanes) - shift[t];
          s[t] = s[t] + d;
          q[t] = Ops::fma(d, d, q[t]);
        }
        if (tail != 0) {
          const vec d =
              Ops::sub_first(Ops::load_partial(channel + whole * kLanes, tail), shift[t], tail);
          s[t] = s[t] + d;
          q[t] = Ops::fma(d, d, q[t]);
        }
      }
    }
    for (std::size_t t = 0; t < kChannels; ++t) totals.add(t, s[t], q[t]);
  }
  totals.finish(args, first_block, 1, static_cast<double>(block.planes * inner));
}

/// Small planes (a few vectors each) are reduced a group of `lanes` at a time (sixteen on
/// AVX-512), one plane per lane: each plane in one float run, then the whole group summed
/// together with a transpose-sum. A 7x7 plane otherwise spends more on its two horizontal sums
/// and its finish than on its 49 values. This rounds differently from
/// short_planes_moments_fast, so compute_moments cuts the blocks between threads at multiples
/// of kChannelsFirstBlockAlign only.
///
/// kWhole is the plane's count of whole vectors when fixed at compile time (see
/// with_fixed_whole), or kAnyWhole. Fixed, the group's planes unroll completely and the first
/// vector starts the sums instead of adding to zeros (0 + d and 0 + d * d round to d and
/// d * d: the same bits): 1x2048x7x7 fast pass 9.8 -> 8.3 us (dev machine, one thread,
/// harness, with the same shift). Only then: sixteen copies of a run-time loop ran slower.
inline constexpr std::size_t kAnyWhole = ~std::size_t{0};

/// A one-sample small plane's shift: the mean of its first four values, summed as a tree and
/// scaled by a product (a third of the time of sample_shift's loop). The first value alone
/// left M2 3.2e-6 off the exact value in 65536 planes of normal data (a first value 2-3 sigma
/// out makes M2 = q - s^2 / n cancel and magnifies the float rounding of q up to ~25x); the
/// mean of four, 8.2e-7 (eight: 5.4e-7). Dev machine, 7x7, 3x3 and 10x10 planes with offsets
/// 0, 3 and 1000. Correct first: four cost 10-25% of the fast pass over one (harness, one
/// thread: 32x256x14x14 92 -> 102 us, 1x2048x7x7 8.3 -> 10.4 us). Planes of two or three values
/// take the first: with a term or two per lane there is nothing for the cancellation to
/// magnify.
inline float four_value_shift(const float* x) noexcept {
  return ((x[0] + x[1]) + (x[2] + x[3])) * 0.25f;
}
inline float small_plane_shift(const float* x, std::size_t n) noexcept {
  return n >= 4 ? four_value_shift(x) : x[0];
}

/// One small plane's float sums of d = x - shift and of d * d over `whole` values in whole
/// vectors (kWhole of them when fixed, see plane_group_sums) and a partial vector of `tail`.
template <class Ops, std::size_t kWhole>
[[gnu::always_inline]] inline void small_plane_sums(const float* x, float shift_value,
                                                    std::size_t whole, std::size_t tail,
                                                    typename Ops::vec& sums,
                                                    typename Ops::vec& squares) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  const vec shift = Ops::broadcast(shift_value);
  vec s, q;
  std::size_t i = 0;
  if constexpr (kWhole != kAnyWhole) {
    s = Ops::load(x) - shift;
    q = s * s;
    i = kLanes;
  } else {
    s = q = Ops::broadcast(0.0f);
  }
  for (; i < whole; i += kLanes) {
    const vec d = Ops::load(x + i) - shift;
    s = s + d;
    q = Ops::fma(d, d, q);
  }
  if (tail != 0) {
    const vec d = Ops::sub_first(Ops::load_partial(x + whole, tail), shift, tail);
    s = s + d;
    q = Ops::fma(d, d, q);
  }
  sums = s;
  squares = q;
}

/// The per-plane part of plane_group_sums: each plane's shift (with kOwnShifts) and its float
/// sums of d and d * d in one vector each. With kLastApart the plane's one value past its
/// whole vectors is left out of them and kept in lane p of `last` instead.
template <class Ops, std::size_t kWhole, bool kOwnShifts, bool kLastApart>
[[gnu::always_inline]] inline void plane_sums_each(const float* planes, std::size_t inner,
                                                   std::size_t whole, std::size_t tail,
                                                   float* shifts, typename Ops::vec* plane_sums,
                                                   typename Ops::vec* plane_squares,
                                                   float* last) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const std::size_t vector_tail = kLastApart ? 0 : tail;
  if constexpr (kWhole != kAnyWhole) {
#pragma GCC unroll 16
    for (std::size_t p = 0; p < kLanes; ++p) {
      const float* x = planes + p * inner;
      // A whole vector or more: at least four values (a branch per plane otherwise).
      if constexpr (kOwnShifts) shifts[p] = four_value_shift(x);
      small_plane_sums<Ops, kWhole>(x, shifts[p], whole, vector_tail, plane_sums[p],
                                    plane_squares[p]);
      if constexpr (kLastApart) last[p] = x[whole];
    }
  } else {
    // Not unrolled: sixteen copies of the run-time loop, with the shift, ran out of registers
    // and kept the loop index on the stack (32x256x14x14 40% slower).
    for (std::size_t p = 0; p < kLanes; ++p) {
      const float* x = planes + p * inner;
      if constexpr (kOwnShifts) shifts[p] = small_plane_shift(x, inner);
      small_plane_sums<Ops, kWhole>(x, shifts[p], whole, vector_tail, plane_sums[p],
                                    plane_squares[p]);
      if constexpr (kLastApart) last[p] = x[whole];
    }
  }
}

/// A group of `lanes` consecutive planes of args.inner values from `planes`, each shifted by
/// its lane of `shifts`: lane p of `sums` / `squares` gets plane p's float sum of d and d * d. With
/// kOwnShifts each plane's shift is first set from the plane itself (small_plane_shift), in walk
/// order: reading every plane's head before the walk misled the hardware prefetchers
/// (32x1024x14x14 from DRAM: 1.0 -> 1.5 ms).
/// A plane one value longer than its whole vectors (7x7: 49 = 3 x 16 + 1, or 6 x 8 + 1) leaves
/// that value out of its vectors: the group's last values are gathered into one vector and
/// added after the transpose-sums, one subtract, add and multiply-add for the group instead
/// of a masked vector of each per plane (fast pass, one thread, harness: 1x2048x7x7 9.6 ->
/// 8.3 us).
template <class Ops, std::size_t kWhole, bool kOwnShifts>
inline void plane_group_sums(const MomentsArgs& args, const float* planes, float* shifts,
                             typename Ops::vec& sums, typename Ops::vec& squares) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  static_assert(kWhole == kAnyWhole || kWhole >= 1, "the first vector starts the sums");
  const std::size_t inner = args.inner;
  vec plane_sums[kLanes];
  vec plane_squares[kLanes];
  // Loop-invariant split of a plane into whole vectors and a masked tail.
  const std::size_t whole = (kWhole != kAnyWhole ? kWhole : inner / kLanes) * kLanes;
  const std::size_t tail = inner - whole;
  if (tail == 1) {
    alignas(64) float last[kLanes];
    plane_sums_each<Ops, kWhole, kOwnShifts, true>(planes, inner, whole, tail, shifts, plane_sums,
                                                   plane_squares, last);
    const vec d = Ops::load(last) - Ops::load(shifts);
    sums = Ops::transpose_sum(plane_sums) + d;
    squares = Ops::fma(d, d, Ops::transpose_sum(plane_squares));
  } else {
    plane_sums_each<Ops, kWhole, kOwnShifts, false>(planes, inner, whole, tail, shifts, plane_sums,
                                                    plane_squares, nullptr);
    sums = Ops::transpose_sum(plane_sums);
    squares = Ops::transpose_sum(plane_squares);
  }
}

/// Mean and M2 of the `lanes` channels from `first` on, from their shifts and the double sums
/// of d and d * d over `count` values each (two halves of dlanes).
template <class Ops>
inline void finish_plane_group(const MomentsArgs& args, std::size_t first, const float* shifts,
                               const typename Ops::vecd (&sums)[2],
                               const typename Ops::vecd (&squares)[2], double count) noexcept {
  using vecd = typename Ops::vecd;
  const vecd inverse_count = Ops::broadcast_d(1.0 / count);
  const vecd zero = Ops::broadcast_d(0.0);
  const typename Ops::vec shift = Ops::load(shifts);
  const vecd halves_shift[2] = {Ops::widen_lo(shift), Ops::widen_hi(shift)};
  for (std::size_t half = 0; half < 2; ++half) {
    const std::size_t at = first + half * Ops::dlanes;
    Ops::store_d(args.mean + at, Ops::fma_d(sums[half], inverse_count, halves_shift[half]));
    Ops::store_d(args.m2 + at,
                 Ops::max_d(squares[half] - sums[half] * sums[half] * inverse_count, zero));
  }
}

/// The same from float sums over one plane each (blocks of args.inner values): widened, then
/// finished.
template <class Ops>
inline void finish_plane_group(const MomentsArgs& args, std::size_t first, const float* shifts,
                               const typename Ops::vec& s, const typename Ops::vec& q) noexcept {
  const typename Ops::vecd sums[2] = {Ops::widen_lo(s), Ops::widen_hi(s)};
  const typename Ops::vecd squares[2] = {Ops::widen_lo(q), Ops::widen_hi(q)};
  finish_plane_group<Ops>(args, first, shifts, sums, squares, static_cast<double>(args.inner));
}

/// A group of `lanes` blocks of one plane each (a single sample's small planes) from `first`.
template <class Ops, std::size_t kWhole = kAnyWhole>
void small_planes_moments_fast(const MomentsArgs& args, std::size_t first) noexcept {
  const float* planes = args.src + first * args.inner;
  alignas(64) float shifts[Ops::lanes];
  typename Ops::vec s, q;
  plane_group_sums<Ops, kWhole, true>(args, planes, shifts, s, q);
  finish_plane_group<Ops>(args, first, shifts, s, q);
}

/// Planes of up to this many float runs (kFloatRun vectors each) go to
/// medium_planes_moments_fast on eight or sixteen lanes.
inline constexpr std::size_t kMediumPlaneRuns = 4;

/// One plane's float sums of d = x - shift and d * d in kMediumPlaneRuns chains taking the
/// vectors in turn (each chain gets at most kFloatRun of them, as a float run would), added
/// pairwise at the end: the rounding of one float run plus two additions, and four
/// independent dependency chains.
template <class Ops>
[[gnu::always_inline]] inline void chained_plane_sums(const float* x, float shift_value,
                                                      std::size_t whole, std::size_t tail,
                                                      typename Ops::vec& sums,
                                                      typename Ops::vec& squares) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kChains = kMediumPlaneRuns;
  static_assert(kChains == 4, "the chains are added pairwise below");
  const vec shift = Ops::broadcast(shift_value);
  vec s[kChains], q[kChains];
  for (std::size_t c = 0; c < kChains; ++c) s[c] = q[c] = Ops::broadcast(0.0f);
  std::size_t i = 0;
  for (; i + kChains * kLanes <= whole; i += kChains * kLanes) {
    for (std::size_t c = 0; c < kChains; ++c) {
      const vec d = Ops::load(x + i + c * kLanes) - shift;
      s[c] = s[c] + d;
      q[c] = Ops::fma(d, d, q[c]);
    }
  }
  std::size_t c = 0;
  for (; i < whole; i += kLanes, ++c) {
    const vec d = Ops::load(x + i) - shift;
    s[c] = s[c] + d;
    q[c] = Ops::fma(d, d, q[c]);
  }
  if (tail != 0) {
    const vec d = Ops::sub_first(Ops::load_partial(x + whole, tail), shift, tail);
    s[c] = s[c] + d;
    q[c] = Ops::fma(d, d, q[c]);
  }
  sums = (s[0] + s[1]) + (s[2] + s[3]);
  squares = (q[0] + q[1]) + (q[2] + q[3]);
}

/// A group of `lanes` blocks of one plane each, planes of one to kMediumPlaneRuns float runs
/// (16x16 to 31x31 on AVX-512, 12x12 to 22x22 on AVX2): as small_planes_moments_fast, each
/// plane summed in float (chained_plane_sums) and the group reduced by transpose-sums, read in
/// memory order. The per-plane walk (long_planes_moments_fast) pays two horizontal double sums
/// and a scalar finish per plane, which cost more than the values below a few hundred.
template <class Ops>
void medium_planes_moments_fast(const MomentsArgs& args, std::size_t first) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  const std::size_t inner = args.inner;
  const std::size_t whole = inner / kLanes * kLanes;
  const float* planes = args.src + first * inner;
  alignas(64) float shifts[kLanes];
  vec plane_sums[kLanes];
  vec plane_squares[kLanes];
  for (std::size_t p = 0; p < kLanes; ++p) {
    const float* x = planes + p * inner;
    shifts[p] = sample_shift(x, inner);
    chained_plane_sums<Ops>(x, shifts[p], whole, inner - whole, plane_sums[p], plane_squares[p]);
  }
  const vec s = Ops::transpose_sum(plane_sums);
  const vec q = Ops::transpose_sum(plane_squares);
  finish_plane_group<Ops>(args, first, shifts, s, q);
}

/// One block of one plane (or segment) on eight or sixteen lanes: pieces of kMediumPlaneRuns
/// float runs, each summed by four chains (chained_plane_sums) and widened. Four independent
/// chains instead of two, and a widening per four runs instead of per run: dev machine, one
/// thread, fast pass in L2 / L3, 1x64x56x56 12.0 -> 11.1 us, 1x256x56x56 46.8 -> 43.6,
/// 1x64x112x112 43.6 -> 39.4 (AVX2: 14.8 -> 13.2, 57.9 -> 51.2, 54.1 -> 48.1); the same from
/// DRAM.
template <class Ops>
void chained_plane_moments_fast(const MomentsArgs& args, std::size_t block_index) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kPiece = kMediumPlaneRuns * kFloatRun * kLanes;
  const ChannelsFirstBlock block = channels_first_block(args, block_index);
  const float* x = block.first;
  const std::size_t n = block.length;
  TileTotals<Ops, 1> totals;
  totals.shift[0] = sample_shift(x, n);
  for (std::size_t begin = 0; begin < n; begin += kPiece) {
    const std::size_t length = n - begin < kPiece ? n - begin : kPiece;
    const std::size_t whole = length / kLanes * kLanes;
    vec s, q;
    chained_plane_sums<Ops>(x + begin, totals.shift[0], whole, length - whole, s, q);
    totals.add(0, s, q);
  }
  totals.finish(args, block_index, 1, static_cast<double>(n));
}

/// Channels per sample-major chunk: the chunk's double totals (4 KiB) stay in L1.
inline constexpr std::size_t kSampleMajorChannels = 256;

/// Blocks [first, end) of small planes grouped over all samples (one group: block b is channel
/// b), whole groups of `lanes` only, walked in memory order: sample by sample through a chunk
/// of channels, each group of planes reduced as in small_planes_moments_fast and widened into the
/// channels' double totals. The strided walk of short_planes_moments_fast (a tile of channels
/// down all samples, a sample apart) read 32x512x7x7 at 62-73% of memcpy's rate; this walk
/// took its fast pass from 94 to 63 us (one thread, harness). Each channel's shift is the
/// mean of its first plane's first values (see sample_shift), and its arithmetic does not
/// depend on the chunk, so neither does the result.
template <class Ops, std::size_t kWhole>
void sample_major_planes_moments_fast(const MomentsArgs& args, std::size_t first,
                                      std::size_t end) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::lanes;
  const std::size_t inner = args.inner;
  const std::size_t sample_stride = args.channels * inner;
  alignas(64) float shifts[kSampleMajorChannels];
  vecd sums[kSampleMajorChannels / kLanes][2];
  vecd squares[kSampleMajorChannels / kLanes][2];
  for (std::size_t c0 = first; c0 < end; c0 += kSampleMajorChannels) {
    const std::size_t groups =
        (end - c0 < kSampleMajorChannels ? end - c0 : kSampleMajorChannels) / kLanes;
    for (std::size_t c = 0; c < groups * kLanes; ++c) {
      shifts[c] = sample_shift(args.src + (c0 + c) * inner, inner);
    }
    for (std::size_t n = 0; n < args.samples; ++n) {
      const float* planes = args.src + n * sample_stride + c0 * inner;
      for (std::size_t g = 0; g < groups; ++g) {
        typename Ops::vec s, q;
        plane_group_sums<Ops, kWhole, false>(args, planes + g * kLanes * inner, shifts + g * kLanes,
                                             s, q);
        if (n == 0) {
          sums[g][0] = Ops::widen_lo(s);
          sums[g][1] = Ops::widen_hi(s);
          squares[g][0] = Ops::widen_lo(q);
          squares[g][1] = Ops::widen_hi(q);
        } else {
          Ops::widen_add(s, sums[g][0], sums[g][1]);
          Ops::widen_add(q, squares[g][0], squares[g][1]);
        }
      }
    }
    const double count = static_cast<double>(args.samples * inner);
    for (std::size_t g = 0; g < groups; ++g) {
      finish_plane_group<Ops>(args, c0 + g * kLanes, shifts + g * kLanes, sums[g], squares[g],
                              count);
    }
  }
}

/// One group of `lanes` channels [c0, c0 + lanes) whose planes are narrower than a vector
/// (kInner values, see narrow_planes.hpp), over all samples: the group's planes in one sample
/// are kInner whole vectors, whose lanes are summed down the samples as they lie (each lane
/// shifted by its plane's channel shift, permuted into place once), in float runs of
/// kFloatRun samples widened into double lane totals; each channel's kInner lane totals are
/// then added in lane order. A masked vector per plane and two transpose-sums per sixteen
/// planes cost about as much as 16x16 planes for 3x3 ones (NCHW 32x512x3x3 fast pass 46 us,
/// 28% of memcpy's rate, against 13 us for the eval).
template <class Ops, std::size_t kInner>
void narrow_plane_group_moments_fast(const MomentsArgs& args, std::size_t c0) noexcept {
  using vec = typename Ops::vec;
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::lanes;
  constexpr std::size_t kHalf = Ops::dlanes;
  const auto& index = kNarrowPlaneIndex<kLanes>.at[kInner];
  const std::size_t sample_stride = args.channels * kInner;
  const float* const group = args.src + c0 * kInner;
  alignas(64) float shifts[kLanes];
  for (std::size_t p = 0; p < kLanes; ++p) shifts[p] = sample_shift(group + p * kInner, kInner);
  const vec channel_shifts = Ops::load(shifts);
  vec shift[kInner];
  for (std::size_t j = 0; j < kInner; ++j) shift[j] = Ops::permute_lanes(channel_shifts, index[j]);
  alignas(64) double total_s[kInner * kLanes];
  alignas(64) double total_q[kInner * kLanes];
  for (std::size_t n = 0; n < args.samples; n += kFloatRun) {
    const std::size_t run_end = args.samples - n < kFloatRun ? args.samples : n + kFloatRun;
    vec s[kInner], q[kInner];
    for (std::size_t j = 0; j < kInner; ++j) s[j] = q[j] = Ops::broadcast(0.0f);
    for (std::size_t m = n; m < run_end; ++m) {
      const float* x = group + m * sample_stride;
#pragma GCC unroll 16
      for (std::size_t j = 0; j < kInner; ++j) {
        const vec d = Ops::load(x + j * kLanes) - shift[j];
        s[j] = s[j] + d;
        q[j] = Ops::fma(d, d, q[j]);
      }
    }
    for (std::size_t j = 0; j < kInner; ++j) {
      double* const at_s = total_s + j * kLanes;
      double* const at_q = total_q + j * kLanes;
      if (n == 0) {
        Ops::store_d(at_s, Ops::widen_lo(s[j]));
        Ops::store_d(at_s + kHalf, Ops::widen_hi(s[j]));
        Ops::store_d(at_q, Ops::widen_lo(q[j]));
        Ops::store_d(at_q + kHalf, Ops::widen_hi(q[j]));
      } else {
        vecd s_lo = Ops::load_d(at_s), s_hi = Ops::load_d(at_s + kHalf);
        vecd q_lo = Ops::load_d(at_q), q_hi = Ops::load_d(at_q + kHalf);
        Ops::widen_add(s[j], s_lo, s_hi);
        Ops::widen_add(q[j], q_lo, q_hi);
        Ops::store_d(at_s, s_lo);
        Ops::store_d(at_s + kHalf, s_hi);
        Ops::store_d(at_q, q_lo);
        Ops::store_d(at_q + kHalf, q_hi);
      }
    }
  }
  finish_narrow_plane_group<kLanes, kInner>(args, c0, shifts, total_s, total_q);
}

/// Blocks [first, end) (channels; one group of all samples, whole groups of `lanes` channels)
/// of planes narrower than a vector.
template <class Ops>
void narrow_planes_moments_fast(const MomentsArgs& args, std::size_t first,
                                std::size_t end) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  with_inner_count<kLanes>(args.inner, [&]<std::size_t kInner>() {
    for (std::size_t c0 = first; c0 < end; c0 += kLanes) {
      narrow_plane_group_moments_fast<Ops, kInner>(args, c0);
    }
  });
}

/// Calls kernel.template operator()<kWhole>() with the count of whole vectors of args.inner
/// fixed at compile time for planes of one to four whole vectors and a partial one (16 to 79
/// values on AVX-512: 4x4 to 8x8, 7x7 among them), where the per-plane loop is most of the
/// cost, and kAnyWhole otherwise.
template <class Ops, class Kernel>
inline void with_fixed_whole(const MomentsArgs& args, const Kernel& kernel) noexcept {
  switch (args.inner / Ops::lanes) {
    case 1:
      kernel.template operator()<1>();
      break;
    case 2:
      kernel.template operator()<2>();
      break;
    case 3:
      kernel.template operator()<3>();
      break;
    case 4:
      kernel.template operator()<4>();
      break;
    default:
      kernel.template operator()<kAnyWhole>();
      break;
  }
}

template <class Ops>
void channels_first_moments_fast(const MomentsArgs& args, std::size_t first,
                                 std::size_t end) noexcept {
  constexpr std::size_t kTile = Ops::fast_tile_vectors;
  const bool short_planes = args.inner < kFloatRun * Ops::lanes;
  if (args.group == 1) {
    // One plane (or segment) per block, walked in memory order.
    if constexpr (Ops::has_transpose_sum) {
      static_assert(kChannelsFirstBlockAlign % Ops::lanes == 0);
      if (short_planes) {
        with_fixed_whole<Ops>(args, [&]<std::size_t kWhole>() {
          for (; first + Ops::lanes <= end; first += Ops::lanes) {
            small_planes_moments_fast<Ops, kWhole>(args, first);
          }
        });
      } else if (Ops::lanes >= 8 && args.inner <= kMediumPlaneRuns * kFloatRun * Ops::lanes) {
        for (; first + Ops::lanes <= end; first += Ops::lanes) {
          medium_planes_moments_fast<Ops>(args, first);
        }
      }
    }
    for (std::size_t block = first; block < end; ++block) {
      if constexpr (Ops::lanes >= 8) {
        chained_plane_moments_fast<Ops>(args, block);
      } else {
        long_planes_moments_fast<Ops, 1>(args, block);
      }
    }
  } else if (short_planes) {
    if constexpr (Ops::has_lane_permute) {
      if (args.inner < Ops::lanes && args.group == args.samples) {
        const std::size_t whole_end = first + (end - first) / Ops::lanes * Ops::lanes;
        narrow_planes_moments_fast<Ops>(args, first, whole_end);
        first = whole_end;
      }
    }
    // With four lanes (SSE2) the tiles' strided walk stayed 7% faster (32x512x7x7).
    if constexpr (Ops::has_transpose_sum && Ops::lanes >= 8) {
      if (args.group == args.samples) {  // one group of all samples: block b is channel b
        const std::size_t whole_end = first + (end - first) / Ops::lanes * Ops::lanes;
        with_fixed_whole<Ops>(args, [&]<std::size_t kWhole>() {
          sample_major_planes_moments_fast<Ops, kWhole>(args, first, whole_end);
        });
        first = whole_end;
      }
    }
    walk_channel_tiles<kTile>(
        args, first, end, [&](std::size_t b) { short_planes_moments_fast<Ops, kTile>(args, b); },
        [&](std::size_t b) { short_planes_moments_fast<Ops, 1>(args, b); });
  } else {
    walk_channel_tiles<kTile>(
        args, first, end, [&](std::size_t b) { long_planes_moments_fast<Ops, kTile>(args, b); },
        [&](std::size_t b) { long_planes_moments_fast<Ops, 1>(args, b); });
  }
}

}  // namespace bnrt::kernels
