// Per-channel moments: fixed blocks, kernel pass, ordered merge (see moments.hpp).
//
// Determinism: blocks depend only on the tensor's shape, each block is reduced by one call on
// one thread, and blocks are merged in index order on the calling thread; so the result is the
// same bit for bit whatever the thread count.
#include "moments.hpp"

#include <algorithm>
#include <utility>

#include "cache_info.hpp"
#include "kernels/moments_kernels.hpp"
#include "parallel.hpp"

namespace bnrt::detail {
namespace {

/// Elements per block: large enough that merging (a few flops per block and channel) is noise
/// next to the pass over the data, small enough that there are blocks to share between threads
/// and that sums stay short (at most 2^15 terms per accumulator lane).
constexpr std::size_t kBlockElements = 65536;

/// Channels-last blocks span at least this many rows: with thousands of channels and few rows
/// (7x7x2048), per-channel bookkeeping (one result per block and channel, then the merge)
/// otherwise costs as much as the pass over the data.
constexpr std::size_t kMinBlockRows = 256;

/// Channels-last row blocks come in multiples of this (when there are several) and are cut
/// evenly, so that two or four threads get equal shares: blocks of a fixed size left one
/// thread with twice the other's rows on 784-row tensors (1x28x28x512: three blocks of 256
/// and one of 16).
constexpr std::size_t kRowBlocksMultiple = 4;

/// Channels-first planes shorter than this are grouped across samples. A group's block reads
/// one channel's planes a sample apart; the kernels walk a few channels side by side, but
/// per-plane blocks, read in memory order, are faster once a plane can carry its own finish
/// (dev machine, batch 32, one thread: fast statistics of 512x7x7 89 us grouped vs 160 per
/// plane, of 256x10x10 97 vs 80; tensors streamed from DRAM suffer most from the strided
/// walk: exact statistics of 32x1024x14x14 2.4 ms grouped vs 1.3 per plane).
constexpr std::size_t kGroupPlanesBelow = 65;

/// Channels-last tensors up to this share of the last-level cache are taken to be in cache:
/// their walks do not prefetch, and the fast kernel takes them run by run across all tiles
/// rather than tile by tile down all rows (the exact one tile by tile). Dev machine (32 MiB
/// L3), fast statistics, one thread, run-major vs tile-major: 1x14x14x1024 14 vs 18 us,
/// 1x28x28x512 31 vs 36, 4x28x28x512 151 vs 169-228, 32x14x14x256 164-210 vs 171-239.
/// The fast pass takes half: a 12.8 MB tensor (NHWC 32x14x14x512, harness, statistics alone)
/// took 324-328 us on one thread and 245-248 on two in cache against 437-462 and 288-302 with
/// the requests, and in the training forward (`bnrt bench train`, four runs each, train /
/// eval on one thread, x oneDNN on two) 32x7x7x2048 1.53-1.62 / 0.92-1.12 against 1.77-1.82 /
/// 0.78-0.88, 32x14x14x512 1.53-1.79 / 1.11-1.51 against 1.71-1.80 / 0.90-1.21, although the
/// forward's 12.8 MB output shares the cache with it; 25.6 MB (32x14x14x1024) wants the
/// requests (one thread: 1.1-1.4 ms with, 2.0-2.2 without). The exact pass keeps a quarter:
/// its tile-by-tile walk re-reads every row once per tile, which a 12.8 MB tensor did not pay
/// for (32x7x7x2048, one thread: 0.9-1.2 ms against 0.5-0.8 with the requests).
/// The limits apply to each task's share of a tensor no larger than the cache; a larger one
/// always streams. On the Zen 5 VM, two threads read 25.7 MB channels-last tensors faster in
/// the cache walk than with the requests (fast pass, `bnrt bench train --threads 2
/// --layouts nhwc`, three alternating runs: 32x28x28x256
/// 395-435 -> 328-345 us, 32x14x14x1024 392-432 -> 301-359, training forward 907-1014 ->
/// 776-887 and 972-1096 -> 878-1005; 32x56x56x64 level), as did the exact pass on 12.8 MB
/// (32x14x14x512 239-256 -> 151-156 us, 32x7x7x2048 243-277 -> 150-160), while 51 MB and
/// larger (25.7 MB per task) still wanted the requests (32x28x28x512 fast 988-1120 against
/// 1155-1195, 32x56x56x256 2478-2623 against 3054-3149).
bool streams_from_memory(std::size_t bytes, std::size_t tasks, StatsPrecision precision) {
  const std::size_t cache = last_level_cache_bytes();
  const std::size_t share = precision == StatsPrecision::fast ? 2 : 4;
  return bytes > cache || bytes / std::max<std::size_t>(tasks, 1) > cache / share;
}

/// Channels-last slices: at least this many channels each (a 128-channel tile is one walk of
/// the rows), starting on multiples of kSliceAlign (whole vectors on every ISA).
constexpr std::size_t kMinSliceChannels = 128;
constexpr std::size_t kSliceAlign = 16;

}  // namespace

MomentsPlan plan_moments(const ConstTensor& x, const TensorGeometry& geometry, std::size_t tasks,
                         StatsPrecision precision) {
  const std::size_t channels = geometry.channels;
  const bool fast = precision == StatsPrecision::fast;
  MomentsPlan plan;
  kernels::MomentsArgs& args = plan.args;
  args.src = x.data;
  args.channels = channels;
  // Channels-first with one spatial position is rows of C; channels-last with one channel is
  // one long plane. Each runs better as the other shape (as in the affine pass).
  plan.rows = (geometry.channels_last && channels > 1) || geometry.inner == 1;

  if (plan.rows) {
    args.rows = geometry.elements / channels;
    const std::size_t most_rows =
        kBlockElements / channels > kMinBlockRows ? kBlockElements / channels : kMinBlockRows;
    std::size_t row_blocks = (args.rows + most_rows - 1) / most_rows;
    if (row_blocks > 1) {
      row_blocks = (row_blocks + kRowBlocksMultiple - 1) / kRowBlocksMultiple * kRowBlocksMultiple;
    }
    args.block_rows = (args.rows + row_blocks - 1) / row_blocks;
    plan.row_blocks = (args.rows + args.block_rows - 1) / args.block_rows;
    args.prefetch = streams_from_memory(geometry.elements * sizeof(float), tasks, precision);
    // Too few row blocks to go round (7x7x2048 is one): cut the channels into slices too. A
    // channel's arithmetic is the same in any slice, so this may follow the thread count.
    std::size_t slices = 1;
    if (plan.row_blocks < tasks) {
      const std::size_t wide = channels / kMinSliceChannels;
      slices = wide < tasks ? (wide > 0 ? wide : 1) : tasks;
    }
    const std::size_t per_slice = (channels + slices - 1) / slices;
    args.slice_channels = (per_slice + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
    args.slices = (channels + args.slice_channels - 1) / args.slice_channels;
    plan.blocks = plan.row_blocks * args.slices;
  } else {
    args.inner = geometry.channels_last ? geometry.elements : geometry.inner;
    args.samples = geometry.elements / args.inner / channels;
    args.segment = args.inner < kBlockElements ? args.inner : kBlockElements;
    args.segments = (args.inner + args.segment - 1) / args.segment;
    // Small planes: one block per channel spans the planes of several samples, so that
    // blocks stay large and few (N x C blocks of 49 values would make the merge below, not
    // the pass over the data, the cost of a 32x512x7x7 tensor). Larger planes stay one block
    // each, read in memory order (see kGroupPlanesBelow).
    const std::size_t group = args.inner < kGroupPlanesBelow ? kBlockElements / args.inner : 1;
    args.group = group < args.samples ? group : args.samples;
    const std::size_t groups = (args.samples + args.group - 1) / args.group;
    plan.blocks = groups * channels * args.segments;
  }
  const kernels::MomentsKernelTable& table = kernels::moments_kernels(active_isa());
  plan.kernel = plan.rows ? (fast ? table.channels_last_fast : table.channels_last)
                          : (fast ? table.channels_first_fast : table.channels_first);
  plan.chunks = tasks < plan.blocks ? tasks : plan.blocks;
  plan.align = plan.rows ? 1 : kernels::kChannelsFirstBlockAlign;
  return plan;
}

namespace {
MomentsScratch& thread_scratch() noexcept {
  thread_local MomentsScratch kept;
  return kept;
}
}  // namespace

BorrowedScratch::BorrowedScratch() noexcept : scratch_(std::move(thread_scratch())) {}

BorrowedScratch::~BorrowedScratch() { thread_scratch() = std::move(scratch_); }

ChannelMoments compute_moments(const ConstTensor& x, const TensorGeometry& geometry,
                               int max_threads, MomentsScratch& scratch, StatsPrecision precision) {
  ChannelMoments result;
  const std::size_t tasks = tasks_for_bytes(geometry.elements * sizeof(float), max_threads);
  compute_moments(plan_moments(x, geometry, tasks, precision), geometry, scratch, result);
  return result;
}

void compute_moments(MomentsPlan plan, const TensorGeometry& geometry, MomentsScratch& scratch,
                     ChannelMoments& result, ChannelsDone done) {
  const MomentsPass pass(plan, geometry, scratch, result, done);
  parallel_chunks(pass.chunks(), [&](std::size_t k) { pass.reduce_chunk(k); });
  pass.finish();
}

MomentsPass::MomentsPass(const MomentsPlan& plan, const TensorGeometry& geometry,
                         MomentsScratch& scratch, ChannelMoments& result, ChannelsDone done)
    : plan_(plan), result_(result), done_(done), channels_(geometry.channels) {
  kernels::MomentsArgs& args = plan_.args;
  result.count = static_cast<std::int64_t>(geometry.elements / channels_);
  result.mean.resize(channels_);
  result.m2.resize(channels_);
  // One block per channel (a single sample's planes, or rows fitting one block): the kernel's
  // per-block results are already the answer, so it writes them straight into the result.
  single_ = plan_.rows ? plan_.row_blocks == 1 : plan_.per_channel_blocks();
  if (single_) {
    args.mean = result.mean.data();
    args.m2 = result.m2.data();
  } else {
    const std::size_t partials = plan_.rows ? plan_.row_blocks * channels_ : plan_.blocks;
    scratch.mean.resize(partials);
    scratch.m2.resize(partials);
    args.mean = scratch.mean.data();
    args.m2 = scratch.m2.data();
  }
}

void MomentsPass::reduce_chunk(std::size_t k) const {
  const std::size_t first = chunk_boundary(plan_.blocks, plan_.chunks, k, plan_.align, 0);
  const std::size_t end = chunk_boundary(plan_.blocks, plan_.chunks, k + 1, plan_.align, 0);
  if (first < end) reduce(first, end);
}

void MomentsPass::reduce(std::size_t first, std::size_t end) const {
  plan_.kernel(plan_.args, first, end);
  if (single_ && done_.fn != nullptr) {
    // Rows in one row block: block b is channel slice b. Otherwise block b is channel b.
    const std::size_t per_block = plan_.rows ? plan_.args.slice_channels : 1;
    const std::size_t last = end * per_block;
    done_.fn(done_.context, first * per_block, last < channels_ ? last : channels_);
  }
}

void MomentsPass::finish() const {
  if (single_) return;
  const kernels::MomentsArgs& args = plan_.args;
  const std::size_t channels = channels_;
  const std::size_t blocks = plan_.blocks;
  ChannelMoments& result = result_;
  std::fill(result.mean.begin(), result.mean.end(), 0.0);
  std::fill(result.m2.begin(), result.m2.end(), 0.0);
  double merged = 0;  // values merged so far, the same for every channel
  // Every channel's next block, one per channel side by side from block_mean / block_m2, over
  // n values: vectorized, per channel as merge_moments.
  const auto merge_all_channels = [&](const double* block_mean, const double* block_m2, double n) {
    const MergeWeights w(merged, n);
    kernels::MergeArgs merge;
    merge.mean = result.mean.data();
    merge.m2 = result.m2.data();
    merge.block_mean = block_mean;
    merge.block_m2 = block_m2;
    merge.weight_mean = w.mean;
    merge.weight_m2 = w.m2;
    merge.channels = channels;
    kernels::moments_kernels(active_isa()).merge(merge);
    merged += n;
  };
  if (plan_.rows) {
    for (std::size_t block = 0; block < plan_.row_blocks; ++block) {
      const std::size_t first_row = block * args.block_rows;
      const double n = static_cast<double>(
          args.rows - first_row < args.block_rows ? args.rows - first_row : args.block_rows);
      merge_all_channels(args.mean + block * channels, args.m2 + block * channels, n);
    }
  } else if (args.segments == 1) {
    // Block (group * channels + c): a group's channels lie side by side, merged a vector at a
    // time (32x256x14x14: 32 calls instead of 8192 scalar merges, about 2 us of a 60 us pass).
    const std::size_t groups = blocks / channels;
    for (std::size_t group = 0; group < groups; ++group) {
      const std::size_t first_sample = group * args.group;
      const std::size_t samples =
          args.samples - first_sample < args.group ? args.samples - first_sample : args.group;
      merge_all_channels(args.mean + group * channels, args.m2 + group * channels,
                         static_cast<double>(samples * args.inner));
    }
  } else {
    // Block ((group * channels + c) * segments + piece): merging group by group and piece by
    // piece, every channel sees the same counts in the same order.
    const std::size_t groups = blocks / args.segments / channels;
    for (std::size_t group = 0; group < groups; ++group) {
      const std::size_t first_sample = group * args.group;
      const std::size_t samples =
          args.samples - first_sample < args.group ? args.samples - first_sample : args.group;
      for (std::size_t piece = 0; piece < args.segments; ++piece) {
        const std::size_t begin = piece * args.segment;
        const std::size_t length =
            args.inner - begin < args.segment ? args.inner - begin : args.segment;
        const double n = static_cast<double>(samples * length);
        const MergeWeights w(merged, n);
        const std::size_t first = group * channels * args.segments + piece;
        for (std::size_t c = 0; c < channels; ++c) {
          const std::size_t block = first + c * args.segments;
          merge_moments(w, result.mean[c], result.m2[c], args.mean[block], args.m2[block]);
        }
        merged += n;
      }
    }
  }
  if (done_.fn != nullptr) done_.fn(done_.context, 0, channels);
}

}  // namespace bnrt::detail
