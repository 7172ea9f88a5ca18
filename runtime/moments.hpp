// Per-channel moments of a validated tensor: the fixed block geometry, the parallel kernel pass
// and the ordered merge. Shared by batch_moments, MomentsAccumulator and the training op.
#pragma once

#include <vector>

#include "bnrt/batch_stats.hpp"
#include "kernels/moments_kernels.hpp"
#include "tensor_checks.hpp"

namespace bnrt::detail {

/// Reusable buffers for the per-block partial results (sized by the tensor's block count).
struct MomentsScratch {
  std::vector<double> mean;
  std::vector<double> m2;
};

/// Scratch kept by the calling thread for entry points with no state of their own to keep one
/// in (batch_moments, MomentsAccumulator::add), borrowed for one call: a fresh one per call paid
/// for its pages each time (256 KiB of partial results for NHWC 32x7x7x2048 are above malloc's
/// mmap threshold; on the dev VM the page faults took most of a call, see moments.cpp). Moved
/// out while borrowed, so a nested call on the same thread (a TBB thread waiting for a
/// parallel pass may pick up another task that computes moments) gets its own buffers rather
/// than resizing the ones in use. Holds the largest size seen until the thread exits.
class BorrowedScratch {
 public:
  BorrowedScratch() noexcept;
  ~BorrowedScratch();
  BorrowedScratch(const BorrowedScratch&) = delete;
  BorrowedScratch& operator=(const BorrowedScratch&) = delete;
  MomentsScratch& get() noexcept { return scratch_; }

 private:
  MomentsScratch scratch_;
};

/// How a tensor's moments are computed: the fixed block geometry (kernel arguments without
/// the outputs), the kernel, and how many chunks of blocks the threads take.
struct MomentsPlan {
  kernels::MomentsArgs args;
  kernels::MomentsBlocksFn kernel = nullptr;
  bool rows = false;           ///< channels-last (row blocks) rather than channels-first
  std::size_t blocks = 0;      ///< kernel blocks in all
  std::size_t row_blocks = 0;  ///< rows: blocks of rows (each cut into args.slices)
  std::size_t chunks = 1;      ///< contiguous ranges of blocks run as tasks
  std::size_t align = 1;       ///< chunk edges fall on multiples of this block index

  /// Channels-first with block b = channel b (one group of samples, one segment): each
  /// channel's moments come from its own block, with no merge.
  bool per_channel_blocks() const noexcept { return !rows && blocks == args.channels; }
};

/// The blocks, kernel and split of a pass over `x` to be shared by `tasks` tasks (from
/// tasks_for_bytes: the pass's own read bytes, or the whole training forward's traffic, so
/// that its two passes split alike). The reduction (row blocks, groups, segments) never
/// depends on `tasks`; channel slices, chunks and the channels-last walk order do, which
/// changes no bit of the result.
MomentsPlan plan_moments(const ConstTensor& x, const TensorGeometry& geometry, std::size_t tasks,
                         StatsPrecision precision);

/// Moments of `x` (already validated, with `geometry` from check_tensor; at least one
/// element), reduced by the kernels of the active ISA.
ChannelMoments compute_moments(const ConstTensor& x, const TensorGeometry& geometry,
                               int max_threads, MomentsScratch& scratch,
                               StatsPrecision precision = StatsPrecision::exact);

/// Work to do on channels [begin, end) as soon as their moments are final (the training
/// forward folds them and updates their running statistics there).
struct ChannelsDone {
  void (*fn)(void* context, std::size_t begin, std::size_t end) = nullptr;
  void* context = nullptr;
};

/// The same with a plan already made (plan_moments for the same tensor), into `result`,
/// whose vectors are resized (their storage reused when the channel count is unchanged).
/// `done` (if set) runs once per channel: when each block is one channel range (a single row
/// block, or one block per channel) on the thread that reduced the range, right after it, so
/// the per-channel work is shared out with the blocks; otherwise once over all channels after
/// the merge.
void compute_moments(MomentsPlan plan, const TensorGeometry& geometry, MomentsScratch& scratch,
                     ChannelMoments& result, ChannelsDone done = {});

/// compute_moments in parts, for a caller that shares out the chunks itself (the training
/// forward runs them and its normalization in one fork-join): reduce() each chunk exactly
/// once, from any threads, then finish() once on a thread that sees all their writes. The
/// result is the same bit for bit as compute_moments'.
class MomentsPass {
 public:
  MomentsPass(const MomentsPlan& plan, const TensorGeometry& geometry, MomentsScratch& scratch,
              ChannelMoments& result, ChannelsDone done = {});
  std::size_t chunks() const noexcept { return plan_.chunks; }
  /// Chunk k's blocks (as compute_moments cuts them), and `done` on their channels when each
  /// block is one channel range.
  void reduce_chunk(std::size_t k) const;
  /// Merges the blocks' moments in block order (unless each block was one channel range) and
  /// runs `done` over all channels.
  void finish() const;

 private:
  void reduce(std::size_t first, std::size_t end) const;
  MomentsPlan plan_;
  ChannelMoments& result_;
  ChannelsDone done_;
  std::size_t channels_;
  bool single_;  ///< each block is one channel range: the kernel writes the result directly
};

/// Chan et al.'s combination of moments over count_a values with moments over count_b values
/// (count_b > 0): the union's mean is mean_a + delta * count_b / n and its M2 is
/// m2_a + m2_b + delta^2 * count_a * count_b / n, with delta = mean_b - mean_a and
/// n = count_a + count_b. Every channel of a block has the same counts, so the two weights are
/// computed once per block and the per-channel update has no division (and vectorizes).
struct MergeWeights {
  double mean;  ///< count_b / n
  double m2;    ///< count_a * count_b / n
  MergeWeights(double count_a, double count_b)
      : mean(count_b / (count_a + count_b)), m2(count_a * count_b / (count_a + count_b)) {}
};

inline void merge_moments(const MergeWeights& w, double& mean_a, double& m2_a, double mean_b,
                          double m2_b) {
  const double delta = mean_b - mean_a;
  mean_a += delta * w.mean;
  m2_a += m2_b + delta * delta * w.m2;
}

}  // namespace bnrt::detail
