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

struct MomentsKernelTable {
  MomentsBlocksFn channels_first;
  MomentsBlocksFn channels_last;
};

/// The table for `isa`; the caller guarantees the CPU supports it.
const MomentsKernelTable& moments_kernels(Isa isa) noexcept;

const MomentsKernelTable& moments_kernels_scalar() noexcept;
const MomentsKernelTable& moments_kernels_sse2() noexcept;
const MomentsKernelTable& moments_kernels_avx2() noexcept;
const MomentsKernelTable& moments_kernels_avx512() noexcept;

}  // namespace bnrt::kernels
