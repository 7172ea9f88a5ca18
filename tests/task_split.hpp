// White-box check for the thread-count tests: how many tasks bnrt gives a run of a given
// traffic in an arena of a given size. Those tests assert their shapes are split, so that a
// change to the task threshold cannot leave them comparing one task with one task.
#pragma once

#include <tbb/task_arena.h>

#include <cstddef>

#include "parallel.hpp"

/// Tasks for `traffic_bytes` (bytes read + written) in an arena of `threads`.
inline std::size_t tasks_in_arena(std::size_t traffic_bytes, int threads) {
  std::size_t tasks = 0;
  tbb::task_arena(threads).execute(
      [&] { tasks = bnrt::detail::tasks_for_bytes(traffic_bytes, 0); });
  return tasks;
}
