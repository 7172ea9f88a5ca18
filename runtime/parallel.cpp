// oneTBB behind parallel.hpp. Work always runs in the caller's current arena, so an app that
// wraps calls in its own tbb::task_arena controls bnrt's threads; we never create a
// global_control or an arena of our own.
#include "parallel.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <array>
#include <atomic>
#include <thread>

#include "bnrt/threads.hpp"

namespace bnrt::detail {

int usable_threads(int max_threads) noexcept {
  const int arena = tbb::this_task_arena::max_concurrency();
  return max_threads > 0 && max_threads < arena ? max_threads : arena;
}

std::size_t tasks_for_bytes(std::size_t bytes, int max_threads) noexcept {
  if (bytes < 2 * kLeastTaskBytes) return 1;  // below any threshold: skip the arena query
  const auto threads = static_cast<std::size_t>(usable_threads(max_threads));
  if (threads < 2) return 1;
  const std::size_t by_size = bytes / min_task_bytes();
  if (by_size < 2) return 1;
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

void parallel_chunks(std::size_t chunks, ChunkBody body) {
  parallel_ranges(chunks, chunks, 1, 0, [&](std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) body(k);
  });
}

namespace {

/// Waits for `done()`: a short spin (the other task is usually a few microseconds from it),
/// then yielding, in case the thread we wait for shares this core.
template <class Done>
void wait_until(const Done& done) {
  for (unsigned spins = 0; !done(); ++spins) {
    if (spins < 4096) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
}

/// One phase's chunks, each taken by exactly one task.
class ChunkClaims {
 public:
  explicit ChunkClaims(std::size_t chunks) noexcept : chunks_(chunks) {
    for (std::size_t k = 0; k < chunks; ++k) taken_[k].store(false, std::memory_order_relaxed);
  }
  /// Runs body on every chunk task t can still take, its own (t mod chunks) first.
  template <class Body>
  void take_all(std::size_t t, const Body& body) {
    for (std::size_t i = 0; i < chunks_; ++i) {
      const std::size_t k = (t + i) % chunks_;
      if (!taken_[k].load(std::memory_order_relaxed) &&
          !taken_[k].exchange(true, std::memory_order_acq_rel)) {
        body(k);
      }
    }
  }

 private:
  std::size_t chunks_;
  std::array<std::atomic<bool>, kMaxTwoPhaseChunks> taken_;
};

}  // namespace

void parallel_two_phases(std::size_t first_chunks, ChunkBody first, ChunkBody between,
                         std::size_t second_chunks, ChunkBody second) {
  const std::size_t tasks = first_chunks > second_chunks ? first_chunks : second_chunks;
  if (tasks <= 1 || tasks > kMaxTwoPhaseChunks || first_chunks == 0) {
    parallel_chunks(first_chunks, first);
    between(0);
    parallel_chunks(second_chunks, second);
    return;
  }
  ChunkClaims first_claims(first_chunks), second_claims(second_chunks);
  std::atomic<std::size_t> first_done{0};
  std::atomic<bool> between_done{false};
  parallel_chunks(tasks, [&](std::size_t t) {
    first_claims.take_all(t, [&](std::size_t k) {
      first(k);
      // Release this chunk's writes; the task that completes the count acquires them all.
      if (first_done.fetch_add(1, std::memory_order_acq_rel) + 1 == first_chunks) {
        between(0);
        between_done.store(true, std::memory_order_release);
      }
    });
    wait_until([&] { return between_done.load(std::memory_order_acquire); });
    second_claims.take_all(t, second);
  });
}

}  // namespace bnrt::detail
