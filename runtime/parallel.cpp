// oneTBB behind parallel.hpp. Work always runs in the caller's current arena, so an app that
// wraps calls in its own tbb::task_arena controls bnrt's threads; we never create a
// global_control or an arena of our own.
#include "parallel.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

namespace bnrt::detail {

int usable_threads(int max_threads) noexcept {
  const int arena = tbb::this_task_arena::max_concurrency();
  return max_threads > 0 && max_threads < arena ? max_threads : arena;
}

std::size_t tasks_for_bytes(std::size_t bytes, int max_threads) noexcept {
  const std::size_t by_size = bytes / kMinBytesPerTask;
  if (by_size < 2) return 1;
  const auto threads = static_cast<std::size_t>(usable_threads(max_threads));
  return by_size < threads ? by_size : threads;
}

std::size_t chunk_boundary(std::size_t total, std::size_t chunks, std::size_t k, std::size_t align,
                           std::size_t phase) noexcept {
  if (k == 0) return 0;
  if (k >= chunks) return total;
  // total * k / chunks, without overflowing for huge totals (k < chunks, both small).
  const std::size_t even = total / chunks * k + total % chunks * k / chunks;
  const std::size_t misalignment = (even + phase) % align;
  return even - (misalignment <= even ? misalignment : even);
}

void parallel_ranges(std::size_t total, std::size_t chunks, std::size_t align, std::size_t phase,
                     RangeBody body) {
  if (total == 0) return;
  if (chunks <= 1) {
    body(0, total);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, chunks, 1),
      [&](const tbb::blocked_range<std::size_t>& range) {
        for (std::size_t k = range.begin(); k != range.end(); ++k) {
          const std::size_t begin = chunk_boundary(total, chunks, k, align, phase);
          const std::size_t end = chunk_boundary(total, chunks, k + 1, align, phase);
          if (begin < end) body(begin, end);
        }
      },
      tbb::static_partitioner{});
}

}  // namespace bnrt::detail
