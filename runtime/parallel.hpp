// The one wrapper around oneTBB: split a flat range into a few contiguous chunks and run them
// in the caller's task arena. Everything else in bnrt stays free of TBB types.
#pragma once

#include <cstddef>

namespace bnrt::detail {

/// No task has less traffic than this (bytes read + written): the floor of min_task_bytes()
/// (include/bnrt/threads.hpp), which measures how much traffic pays for a fork-join on this
/// machine (about 1.3 us on the Zen 4 dev VM, 2.3 us on the Zen 5 one; see task_threshold.cpp).
inline constexpr std::size_t kLeastTaskBytes = 192 * 1024;

/// How many tasks `bytes` of memory traffic are worth: at most `max_threads` (as in
/// usable_threads), one per min_task_bytes(), at least 1. Asks TBB for the arena's concurrency
/// only when there could be two (that query costs more than a tiny tensor's whole run), and
/// measures the threshold the first time a run could split.
std::size_t tasks_for_bytes(std::size_t bytes, int max_threads) noexcept;

/// Threads a run may use: the current tbb::task_arena's concurrency, lowered to
/// `max_threads` when that is positive.
int usable_threads(int max_threads) noexcept;

/// A non-owning callable `void(begin, end)`; cheap to pass, never allocates.
class RangeBody {
 public:
  template <class F>
  RangeBody(const F& f) noexcept  // NOLINT(google-explicit-constructor)
      : object_(&f), call_([](const void* object, std::size_t begin, std::size_t end) {
          (*static_cast<const F*>(object))(begin, end);
        }) {}
  void operator()(std::size_t begin, std::size_t end) const { call_(object_, begin, end); }

 private:
  const void* object_;
  void (*call_)(const void*, std::size_t, std::size_t);
};

/// Runs body over [0, total) as `chunks` contiguous pieces, one TBB task each (static
/// partitioner), or directly on the calling thread when chunks <= 1. Inner chunk boundaries
/// are placed where (boundary + phase) is a multiple of `align`, so that with phase = the
/// destination's element offset from a cache line, no two chunks write the same line.
/// body must not throw.
void parallel_ranges(std::size_t total, std::size_t chunks, std::size_t align, std::size_t phase,
                     RangeBody body);

/// A non-owning callable `void(k)` for chunk k; cheap to pass, never allocates.
class ChunkBody {
 public:
  template <class F>
  ChunkBody(const F& f) noexcept  // NOLINT(google-explicit-constructor)
      : object_(&f),
        call_([](const void* object, std::size_t k) { (*static_cast<const F*>(object))(k); }) {}
  void operator()(std::size_t k) const { call_(object_, k); }

 private:
  const void* object_;
  void (*call_)(const void*, std::size_t);
};

/// Runs body(k) for every k < chunks, one TBB task each (directly when chunks <= 1).
void parallel_chunks(std::size_t chunks, ChunkBody body);

/// Two dependent passes in one fork-join: first(k) for every k < first_chunks, then between(0)
/// once, then second(k) for every k < second_chunks, shared by max(first_chunks,
/// second_chunks) tasks. A fork-join costs 1-3 us (see min_task_bytes); this pays it
/// once where two parallel_ranges calls pay it twice.
///
/// Task t takes chunk t of each phase first (so a thread tends to reread in the second phase
/// what it read in the first), then any chunk not yet taken; between the phases it waits,
/// spinning, until every first-phase chunk is done and between() has run (on the task that
/// finished the last of them). A task only ever waits for chunks that a running task has
/// taken, so the run cannot deadlock when the arena has fewer threads than tasks or runs them
/// one after another: the first task then takes every chunk. Bodies must not throw. With
/// more than kMaxTwoPhaseChunks chunks it falls back to two parallel_ranges-style fork-joins.
inline constexpr std::size_t kMaxTwoPhaseChunks = 64;
void parallel_two_phases(std::size_t first_chunks, ChunkBody first, ChunkBody between,
                         std::size_t second_chunks, ChunkBody second);

/// Where parallel_ranges' chunk k of `chunks` starts (k = chunks: total), for callers that
/// run chunks themselves.
std::size_t chunk_boundary(std::size_t total, std::size_t chunks, std::size_t k, std::size_t align,
                           std::size_t phase) noexcept;

}  // namespace bnrt::detail
