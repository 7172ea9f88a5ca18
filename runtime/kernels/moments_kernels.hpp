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
  // channels-first: block b is segment (b % segments) of plane (b / segments), planes of
  // `inner` elements cut into segments of `segment` elements (the last one may be shorter).
  std::size_t inner = 1;
  std::size_t segment = 1;
  std::size_t segments = 1;
  // channels-last: block b is rows [b * block_rows, min((b + 1) * block_rows, rows)).
  std::size_t rows = 0;
  std::size_t block_rows = 1;
  /// Outputs: channels-first one pair per block (index b); channels-last one per block and
  /// channel (index b * channels + c). M2 is the sum of squared deviations from the mean.
  double* mean = nullptr;
  double* m2 = nullptr;
};

using MomentsBlocksFn = void (*)(const MomentsArgs& args, std::size_t first_block,
                                 std::size_t end_block) noexcept;

/// Training-mode fold of batch moments into the affine map, per channel, in double:
///   scale = gamma / sqrt(m2 * inverse_count + eps),  shift = beta - mean * scale
/// rounded once to float. gamma / beta null means 1 / 0. Vectorized per ISA: with thousands of
/// channels the square roots and divisions otherwise cost as much as a small tensor's pass.
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

struct MomentsKernelTable {
  // Exact: every value widened to double before it is summed (batch_moments, accumulators).
  MomentsBlocksFn channels_first;
  MomentsBlocksFn channels_last;
  // Fast: float runs widened into double (training forward; see moments_fast_impl.hpp).
  MomentsBlocksFn channels_first_fast;
  MomentsBlocksFn channels_last_fast;
  FoldFn fold;
};

/// The table for `isa`; the caller guarantees the CPU supports it.
const MomentsKernelTable& moments_kernels(Isa isa) noexcept;

const MomentsKernelTable& moments_kernels_scalar() noexcept;
const MomentsKernelTable& moments_kernels_sse2() noexcept;
const MomentsKernelTable& moments_kernels_avx2() noexcept;
const MomentsKernelTable& moments_kernels_avx512() noexcept;

}  // namespace bnrt::kernels
