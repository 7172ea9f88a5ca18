// Per-channel moments kernels (sum and sum of squares around a shift, in double), as tables of
// plain function pointers per ISA. Baseline header: no xsimd or -m flags.
#pragma once

#include <cstddef>

#include "bnrt/isa.hpp"

namespace bnrt::kernels {

/// A tensor cut into fixed blocks; each kernel call reduces a range of blocks to one
/// (mean, M2) pair per channel per block. Block geometry never depends on thread count.
struct MomentsArgs {
  const float* src = nullptr;
  std::size_t channels = 1;
  // channels-first: planes of `inner` elements, one per (sample, channel). Small planes are
  // grouped: block b covers channel c of samples [g * group, g * group + group) (the last
  // group may be shorter), large ones are cut into segments of `segment` elements (then
  // group = 1); b = (g * channels + c) * segments + piece. See channels_first_block.
  std::size_t samples = 1;
  std::size_t group = 1;
  std::size_t inner = 1;
  std::size_t segment = 1;
  std::size_t segments = 1;
  // channels-last: block b is rows [r * block_rows, min((r + 1) * block_rows, rows)) of
  // channels [s * slice_channels, min((s + 1) * slice_channels, channels)), with
  // r = b / slices and s = b % slices (slice_channels a multiple of 16).
  std::size_t rows = 0;
  std::size_t block_rows = 1;
  std::size_t slices = 1;
  std::size_t slice_channels = 0;
  /// Channels-last: the tensor streams from memory. Rows of several tiles are walked a few
  /// rows at a time across the tiles with the next rows requested ahead (NextRowsPrefetch);
  /// blocks cut into channel slices tile by tile, the first tile requesting the rest of each
  /// row (prefetch_rest_of_row). Off when the tensor is small enough to be in cache already,
  /// where requests are only extra instructions (NHWC 1x7x7x2048 fast: 11.3 -> 9.6 us); there
  /// the fast kernel goes run by run across its tiles and the exact one tile by tile.
  bool prefetch = true;
  /// Outputs: channels-first one pair per block (index b); channels-last one per row block and
  /// channel (index r * channels + c). M2 is the sum of squared deviations from the mean.
  double* mean = nullptr;
  double* m2 = nullptr;
};

/// Where a channels-first block's values are: `planes` runs of `length` values, the first at
/// `first`, each next one `stride` floats further (the same channel of the next sample).
struct ChannelsFirstBlock {
  const float* first;
  std::size_t planes;
  std::size_t stride;
  std::size_t length;
};

inline ChannelsFirstBlock channels_first_block(const MomentsArgs& args,
                                               std::size_t block) noexcept {
  const std::size_t piece = block % args.segments;
  const std::size_t plane = block / args.segments;  // g * channels + c
  const std::size_t channel = plane % args.channels;
  const std::size_t first_sample = plane / args.channels * args.group;
  const std::size_t begin = piece * args.segment;
  const std::size_t stride = args.channels * args.inner;
  return {args.src + first_sample * stride + channel * args.inner + begin,
          args.samples - first_sample < args.group ? args.samples - first_sample : args.group,
          stride, args.inner - begin < args.segment ? args.inner - begin : args.segment};
}

/// Channels-first blocks are cut between threads only at multiples of this: the AVX-512 fast
/// kernels reduce sixteen one-plane blocks, or sixteen channels of small planes grouped over
/// all samples, at a time (rounding differently from one at a time), so the groups must not
/// depend on the thread count. (The exact kernels' groups of
/// dlanes blocks round each block alike in any group, so they need no such care.)
inline constexpr std::size_t kChannelsFirstBlockAlign = 16;

using MomentsBlocksFn = void (*)(const MomentsArgs& args, std::size_t first_block,
                                 std::size_t end_block) noexcept;

/// Training-mode fold of batch moments into the affine map, per channel, in double:
///   scale = gamma / sqrt(m2 * inverse_count + eps),  shift = beta - mean * scale
/// each rounded once to float, the shift computed from the rounded scale (as the eval op's
/// fold, see detail::ShiftFrom). gamma / beta null means 1 / 0. Vectorized per ISA: with thousands
/// of channels the square roots and divisions otherwise cost as much as a small tensor's pass.
struct FoldArgs {
  const double* mean = nullptr;
  const double* m2 = nullptr;
  double inverse_count = 1.0;
  double eps = 0.0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float* scale = nullptr;
  float* shift = nullptr;
  std::size_t channels = 0;
};
using FoldFn = void (*)(const FoldArgs& args) noexcept;

/// Running-statistics update, per channel, in double and rounded once to float (PyTorch's
/// order of terms, no fused multiply-add, so every ISA gives the scalar loop's bits):
///   mean = w * batch_mean + (1 - w) * mean,  var = w * (m2 * inverse_bessel) + (1 - w) * var
struct RunningUpdateArgs {
  const double* batch_mean = nullptr;
  const double* batch_m2 = nullptr;
  float* mean = nullptr;
  float* var = nullptr;
  double batch_weight = 0.0;
  double inverse_bessel = 1.0;  ///< 1 / (count - 1): m2 to the unbiased variance
  std::size_t channels = 0;
};
using RunningUpdateFn = void (*)(const RunningUpdateArgs& args) noexcept;

/// Chan's merge of one channels-last block's moments into the running result, per channel
/// (see merge_moments in moments.hpp; the same terms, no fused multiply-add, so every ISA
/// gives the scalar formula's bits): delta = b_mean - mean, mean += delta * weight_mean,
/// m2 += b_m2 + delta * delta * weight_m2.
struct MergeArgs {
  double* mean = nullptr;
  double* m2 = nullptr;
  const double* block_mean = nullptr;
  const double* block_m2 = nullptr;
  double weight_mean = 0.0;
  double weight_m2 = 0.0;
  std::size_t channels = 0;
};
using MergeFn = void (*)(const MergeArgs& args) noexcept;

struct MomentsKernelTable {
  // Exact: every value widened to double before it is summed (batch_moments, accumulators).
  MomentsBlocksFn channels_first;
  MomentsBlocksFn channels_last;
  // Fast: float runs widened into double (training forward; see moments_fast_planes_impl.hpp).
  MomentsBlocksFn channels_first_fast;
  MomentsBlocksFn channels_last_fast;
  FoldFn fold;
  RunningUpdateFn update_running;
  MergeFn merge;
};

/// The table for `isa`; the caller guarantees the CPU supports it.
const MomentsKernelTable& moments_kernels(Isa isa) noexcept;

const MomentsKernelTable& moments_kernels_scalar() noexcept;
const MomentsKernelTable& moments_kernels_sse2() noexcept;
const MomentsKernelTable& moments_kernels_avx2() noexcept;
const MomentsKernelTable& moments_kernels_avx512() noexcept;

}  // namespace bnrt::kernels
