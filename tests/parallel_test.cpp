// White-box tests of parallel_two_phases (runtime/parallel.hpp): every chunk of each phase runs
// exactly once, the second phase only after the first and between(), and the run finishes when
// the arena has fewer threads than tasks (one thread takes every chunk; nobody waits for a
// task that never started).
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "parallel.hpp"

namespace bnrt::testing {
namespace {

struct PhaseLog {
  explicit PhaseLog(std::size_t first_chunks, std::size_t second_chunks)
      : first_runs(first_chunks), second_runs(second_chunks) {}
  std::vector<std::atomic<int>> first_runs;
  std::vector<std::atomic<int>> second_runs;
  std::atomic<int> between_runs{0};
  std::atomic<int> first_after_between{0};    ///< first-phase chunks that started late
  std::atomic<int> second_before_between{0};  ///< second-phase chunks that started early
  std::atomic<int> between_before_firsts{0};  ///< between() with first-phase chunks missing
};

void run_logged(PhaseLog& log) {
  const std::size_t first_chunks = log.first_runs.size();
  const std::size_t second_chunks = log.second_runs.size();
  detail::parallel_two_phases(
      first_chunks,
      [&](std::size_t k) {
        if (log.between_runs.load() != 0) ++log.first_after_between;
        ++log.first_runs[k];
      },
      [&](std::size_t) {
        for (const auto& runs : log.first_runs) {
          if (runs.load() != 1) ++log.between_before_firsts;
        }
        ++log.between_runs;
      },
      second_chunks,
      [&](std::size_t k) {
        if (log.between_runs.load() != 1) ++log.second_before_between;
        ++log.second_runs[k];
      });
}

void expect_ordered_once(const PhaseLog& log, const std::string& where) {
  for (std::size_t k = 0; k < log.first_runs.size(); ++k) {
    EXPECT_EQ(log.first_runs[k].load(), 1) << where << ", first-phase chunk " << k;
  }
  for (std::size_t k = 0; k < log.second_runs.size(); ++k) {
    EXPECT_EQ(log.second_runs[k].load(), 1) << where << ", second-phase chunk " << k;
  }
  EXPECT_EQ(log.between_runs.load(), 1) << where;
  EXPECT_EQ(log.first_after_between.load(), 0) << where;
  EXPECT_EQ(log.second_before_between.load(), 0) << where;
  EXPECT_EQ(log.between_before_firsts.load(), 0) << where;
}

TEST(ParallelTwoPhases, EveryChunkOnceAndInPhaseOrder) {
  const std::size_t counts[][2] = {{1, 1}, {2, 2}, {3, 2},   {2, 5},
                                   {5, 5}, {7, 1}, {64, 64}, {65, 3}};  // 65: two fork-joins
  for (const int threads : {1, 2, 3, 4}) {
    for (const auto& count : counts) {
      for (int repeat = 0; repeat < 20; ++repeat) {
        PhaseLog log(count[0], count[1]);
        tbb::task_arena(threads).execute([&] { run_logged(log); });
        expect_ordered_once(log, std::to_string(threads) + " threads, " + std::to_string(count[0]) +
                                     " then " + std::to_string(count[1]) + " chunks");
      }
    }
  }
}

TEST(ParallelTwoPhases, FinishesWhenTheOtherThreadsAreBusy) {
  // Inside an outer parallel loop every thread of the arena may be running an outer
  // iteration, so the inner run's tasks can only run one after another on the thread that
  // spawned them: its first task must take every chunk rather than wait for the others.
  std::atomic<int> failures{0};
  tbb::task_arena(2).execute([&] {
    tbb::parallel_for(0, 8, [&](int) {
      PhaseLog log(4, 4);
      run_logged(log);
      for (const auto& runs : log.second_runs) {
        if (runs.load() != 1) ++failures;
      }
    });
  });
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace bnrt::testing
