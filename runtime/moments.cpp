// Per-channel moments: fixed blocks, kernel pass, ordered merge (see moments.hpp).
//
// Determinism: blocks depend only on the tensor's shape, each block is reduced by one call on
// one thread, and blocks are merged in index order on the calling thread; so the result is the
// same bit for bit whatever the thread count.
#include "moments.hpp"

#include "kernels/moments_kernels.hpp"
#include "parallel.hpp"

namespace bnrt::detail {
namespace {

/// Elements per block: large enough that merging (a few flops per block and channel) is noise
/// next to the pass over the data, small enough that there are blocks to share between threads
/// and that sums stay short (at most 2^15 terms per accumulator lane).
constexpr std::size_t kBlockElements = 65536;

/// Bytes read per task below which a second thread does not pay (as for the affine pass).
constexpr std::size_t kMinBytesPerTask = 192 * 1024;

}  // namespace

ChannelMoments compute_moments(const ConstTensor& x, const TensorGeometry& geometry,
                               int max_threads, MomentsScratch& scratch) {
  const std::size_t channels = geometry.channels;
  kernels::MomentsArgs args;
  args.src = x.data;
  args.channels = channels;
  // Channels-first with one spatial position is rows of C; channels-last with one channel is
  // one long plane. Each runs better as the other shape (as in the affine pass).
  const bool rows = (geometry.channels_last && channels > 1) || geometry.inner == 1;
  std::size_t blocks = 0;
  if (rows) {
    args.rows = geometry.elements / channels;
    args.block_rows = kBlockElements / channels > 0 ? kBlockElements / channels : 1;
    blocks = (args.rows + args.block_rows - 1) / args.block_rows;
    scratch.mean.resize(blocks * channels);
    scratch.m2.resize(blocks * channels);
  } else {
    args.inner = geometry.channels_last ? geometry.elements : geometry.inner;
    args.segment = args.inner < kBlockElements ? args.inner : kBlockElements;
    args.segments = (args.inner + args.segment - 1) / args.segment;
    blocks = geometry.elements / args.inner * args.segments;
    scratch.mean.resize(blocks);
    scratch.m2.resize(blocks);
  }
  args.mean = scratch.mean.data();
  args.m2 = scratch.m2.data();

  const kernels::MomentsKernelTable& table = kernels::moments_kernels(active_isa());
  const kernels::MomentsBlocksFn kernel = rows ? table.channels_last : table.channels_first;
  const std::size_t by_size = geometry.elements * sizeof(float) / kMinBytesPerTask;
  const std::size_t threads =
      by_size < 2 ? 1 : static_cast<std::size_t>(usable_threads(max_threads));
  std::size_t chunks = by_size < threads ? by_size : threads;
  if (chunks > blocks) chunks = blocks;
  parallel_ranges(blocks, chunks, 1, 0,
                  [&](std::size_t first, std::size_t end) { kernel(args, first, end); });

  ChannelMoments result;
  result.count = static_cast<std::int64_t>(geometry.elements / channels);
  result.mean.assign(channels, 0.0);
  result.m2.assign(channels, 0.0);
  std::vector<double> count(channels, 0.0);
  if (rows) {
    for (std::size_t block = 0; block < blocks; ++block) {
      const std::size_t first_row = block * args.block_rows;
      const double n = static_cast<double>(
          args.rows - first_row < args.block_rows ? args.rows - first_row : args.block_rows);
      const double* mean = args.mean + block * channels;
      const double* m2 = args.m2 + block * channels;
      for (std::size_t c = 0; c < channels; ++c) {
        merge_moments(count[c], result.mean[c], result.m2[c], n, mean[c], m2[c]);
      }
    }
  } else {
    // Block b covers plane b / segments; plane p holds channel p % channels (channels-last
    // with one channel: a single plane of channel 0).
    for (std::size_t block = 0; block < blocks; ++block) {
      const std::size_t plane = block / args.segments;
      const std::size_t c = plane % channels;
      const std::size_t begin = block % args.segments * args.segment;
      const double n = static_cast<double>(args.inner - begin < args.segment ? args.inner - begin
                                                                             : args.segment);
      merge_moments(count[c], result.mean[c], result.m2[c], n, args.mean[block], args.m2[block]);
    }
  }
  return result;
}

}  // namespace bnrt::detail
