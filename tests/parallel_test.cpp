// White-box tests of parallel_two_phases (runtime/parallel.hpp): every chunk of each phase runs
// exactly once, the second phase only after the first and between(), and the run finishes when
// the arena has fewer threads than tasks (one thread takes every chunk; nobody waits for a
// task that never started). And the task threshold (bnrt/threads.hpp): measured within its
// bounds or fixed by BNRT_TASK_BYTES (CTest runs this binary again with it set), and
// tasks_for_bytes splits exactly at it.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bnrt/threads.hpp"
#include "parallel.hpp"
#include "task_split.hpp"

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

constexpr std::size_t kCeiling = 384 * 1024;

/// min_task_bytes() once final (a new arena's worker may take milliseconds to join; until then
/// the answer is the ceiling, and failed attempts are retried 10 ms apart, eight at most).
std::size_t settled_task_bytes() {
  const std::size_t bytes = settle_min_task_bytes();
  EXPECT_TRUE(min_task_bytes_final()) << "eight attempts 10 ms apart take about 80 ms";
  EXPECT_EQ(bytes, min_task_bytes());
  return bytes;
}

TEST(TaskThreshold, MeasuredWithinBoundsOrFixedByTheEnvironment) {
  const std::size_t bytes = settled_task_bytes();
  if (const char* fixed = std::getenv("BNRT_TASK_BYTES")) {
    const std::size_t expected =
        std::max<std::size_t>(std::strtoull(fixed, nullptr, 10), detail::kLeastTaskBytes);
    EXPECT_EQ(bytes, expected) << "BNRT_TASK_BYTES=" << fixed;
  } else {
    EXPECT_GE(bytes, detail::kLeastTaskBytes);
    EXPECT_LE(bytes, kCeiling);
  }
  // Once measured it stays: every later run of the process splits alike.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(min_task_bytes(), bytes);
}

TEST(TaskThreshold, TasksForBytesSplitsExactlyAtIt) {
  const std::size_t per_task = settled_task_bytes();
  EXPECT_EQ(tasks_in_arena(2 * per_task - 1, 2), 1u);
  EXPECT_EQ(tasks_in_arena(2 * per_task, 2), 2u);
  EXPECT_EQ(tasks_in_arena(3 * per_task - 1, 3), 2u);
  EXPECT_EQ(tasks_in_arena(3 * per_task, 3), 3u);
  EXPECT_EQ(tasks_in_arena(100 * per_task, 3), 3u);  // never more than the threads
  EXPECT_EQ(tasks_in_arena(100 * per_task, 1), 1u);
}

// A first attempt made while the arena's other thread is busy fails (its split never runs on
// a second thread): the answer is the ceiling, not final, and a later attempt, once the thread
// is free, measures. Needs a fresh process (CTest entry task_bytes_retried_after_busy_arena).
TEST(TaskThreshold, FailedAttemptIsRetriedOnceAThreadIsFree) {
  if (std::getenv("BNRT_TASK_BYTES") != nullptr || min_task_bytes_final()) {
    GTEST_SKIP() << "the threshold is already final in this process";
  }
  // Of two tasks, the first to start holds its thread until the second, necessarily on the
  // other thread, has asked. (With no second thread at all, the hold times out and the same
  // thread then asks: still no split can be shared.)
  std::atomic<bool> holding{false};
  std::atomic<bool> asked{false};
  std::size_t while_busy = 0;
  bool final_while_busy = true;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  tbb::task_arena arena(2);
  arena.execute([&] {
    tbb::parallel_for(
        0, 2,
        [&](int) {
          if (!holding.exchange(true)) {
            while (!asked.load() && std::chrono::steady_clock::now() < give_up) {
              std::this_thread::yield();
            }
            return;
          }
          while_busy = min_task_bytes();
          final_while_busy = min_task_bytes_final();
          asked = true;
        },
        tbb::simple_partitioner{});
  });
  EXPECT_EQ(while_busy, kCeiling);
  EXPECT_FALSE(final_while_busy);
  const std::size_t bytes = settled_task_bytes();
  EXPECT_GE(bytes, detail::kLeastTaskBytes);
  EXPECT_LE(bytes, kCeiling);
}

TEST(TaskThreshold, AskedFromManyTasksAtOnceEveryAnswerIsInBounds) {
  // Concurrent first asks: one measures, the others get the ceiling meanwhile, none waits.
  std::atomic<int> out_of_bounds{0};
  tbb::task_arena(2).execute([&] {
    tbb::parallel_for(0, 64, [&](int) {
      const std::size_t bytes = min_task_bytes();
      if (bytes < detail::kLeastTaskBytes ||
          (std::getenv("BNRT_TASK_BYTES") == nullptr && bytes > kCeiling)) {
        ++out_of_bounds;
      }
    });
  });
  EXPECT_EQ(out_of_bounds.load(), 0);
}

}  // namespace
}  // namespace bnrt::testing
