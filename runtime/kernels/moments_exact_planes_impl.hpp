// Exact moments of channels-first blocks (planes), written once against the Ops vocabulary
// (SimdOps<Arch> or ScalarOps) and instantiated per ISA through moments_table_impl.hpp.
//
// Each block is summed around a shift K, the block's own first value of the channel: with
// d = x - K (exact in double for float x), s = sum d and q = sum d^2 give
//   mean = K + s / n,   M2 = q - s^2 / n.
// K sits inside the data, so d is of the order of the spread and the subtraction in M2 loses
// nothing to a large common offset (x = 1000 + noise), unlike E[x^2] - E[x]^2.
#pragma once

#include <cstddef>

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

}  // namespace bnrt::kernels
