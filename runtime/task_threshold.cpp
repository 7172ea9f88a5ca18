// min_task_bytes: how much traffic a task must move to pay for its fork-join, measured once.
//
// Why measured: the right size differs between machines more than any fixed value can cover.
// On the Zen 4 dev VM a two-task fork-join costs about 1.3 us and a core moves about 110 KB/us
// through L2, so splitting 400 KB of traffic already pays (NHWC 1x28x28x128 training forward
// on two threads: 13.4 us on one task, 8.5-8.8 on two); on the Zen 5 VM the fork-join costs
// about 2.3 us and a core moves about 210 KB/us, so the same split loses (NCHW 1x256x14x14
// eval: 1.9 us on one task, 4.0 on two). A split of `traffic` into two tasks saves
// traffic / (2 * bandwidth) and costs the fork-join's overhead F, so it pays from
// traffic = 2 * F * bandwidth: F * bandwidth per task.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "bnrt/isa.hpp"
#include "bnrt/threads.hpp"
#include "kernels/affine_kernels.hpp"
#include "parallel.hpp"

namespace bnrt {
namespace {

constexpr std::size_t kFloorBytes = detail::kLeastTaskBytes;  // Zen 4 VM's threshold
constexpr std::size_t kCeilingBytes = 384 * 1024;  // Zen 5 VM's, and the value until measured
// Failed attempts cost up to about 1 ms each (the wait for a worker), so a process whose
// arena never lends a second thread (all busy in an outer loop) pays at most about 9 ms, once.
// They are at least kRetryDelay apart (runs in between take the ceiling without waiting): a
// parked TBB worker took 1-5 ms to wake on the Zen 4 VM (standalone TBB program), so eight
// attempts back to back could all miss it and keep the ceiling for good (5 of 30 fresh
// processes asking in a loop did).
constexpr int kMaxAttempts = 8;
constexpr std::chrono::milliseconds kRetryDelay{10};

/// 32768 floats in and out: 256 KiB of traffic, in L2 on any core with 512 KiB or more, as the
/// 0.4-1.6 MB tensors whose split this decides are.
constexpr std::size_t kFloats = 32768;
constexpr int kWarmRuns = 3;
constexpr int kTimedRuns = 9;

using Clock = std::chrono::steady_clock;

/// Median microseconds of kTimedRuns calls of each of `first` and `second`, after kWarmRuns
/// of each, the two interleaved so that both see the same machine state.
template <class First, class Second>
std::array<double, 2> paired_median_us(const First& first, const Second& second) {
  for (int i = 0; i < kWarmRuns; ++i) {
    first();
    second();
  }
  std::array<std::array<double, kTimedRuns>, 2> us{};
  const auto time = [](const auto& run) {
    const auto start = Clock::now();
    run();
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  };
  for (int i = 0; i < kTimedRuns; ++i) {
    us[0][i] = time(first);
    us[1][i] = time(second);
  }
  for (auto& samples : us) {
    std::nth_element(samples.begin(), samples.begin() + kTimedRuns / 2, samples.end());
  }
  return {us[0][kTimedRuns / 2], us[1][kTimedRuns / 2]};
}

/// One measurement, or 0 when it says nothing: the second task seldom ran on another thread
/// (the arena's other threads were busy).
std::size_t measure_task_bytes() {
  Isa isa = Isa::scalar;
  try {
    isa = active_isa();
  } catch (...) {
    isa = best_supported_isa();  // a bad BNRT_ISA: the ops will report it, not this
  }
  const kernels::AffineKernelTable& table = kernels::affine_kernels(isa);
  std::vector<float> src(kFloats, 1.0f), dst(kFloats);
  std::array<float, kernels::kMaxLanes> scale{}, shift{};
  scale.fill(0.5f);
  kernels::AffineArgs args;
  args.src = src.data();
  args.dst = dst.data();
  args.scale = scale.data();
  args.shift = shift.data();
  args.inner = kFloats;
  const kernels::AffineRangeFn kernel = table.channels_first[0][0];

  const auto one_task = [&] { kernel(args, 0, kFloats); };
  // Counts the split runs whose second half ran on another thread than the first.
  int shared_runs = 0;
  const auto split_run = [&] {
    std::array<std::thread::id, 2> ran_on{};
    detail::parallel_ranges(kFloats, 2, kernels::kMaxLanes, 0, [&](std::size_t b, std::size_t e) {
      ran_on[b == 0 ? 0 : 1] = std::this_thread::get_id();
      kernel(args, b, e);
    });
    if (ran_on[0] != ran_on[1]) ++shared_runs;
  };
  // TBB starts its workers on first use, and a parked worker joins an arena only after a
  // while (0.1 to 5 ms here). Waiting for it: the first of two tasks to start spins, for up to
  // 1 ms in all, until the other has started too, which keeps the other within reach of a
  // joining worker (a split pass of a few microseconds would be over, run by this thread alone,
  // before the worker came). Three rendezvous in a row on two threads, and the timing sees
  // the worker a busy process has; none, and the measurement fails and a later run retries.
  const auto wake_deadline = Clock::now() + std::chrono::milliseconds(1);
  const auto rendezvous = [&] {
    std::atomic<int> arrived{0};
    std::array<std::thread::id, 2> ran_on{};
    detail::parallel_ranges(2, 2, 1, 0, [&](std::size_t b, std::size_t) {
      ran_on[b] = std::this_thread::get_id();
      if (arrived.fetch_add(1) == 0) {
        while (arrived.load() < 2 && Clock::now() < wake_deadline) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        }
      }
    });
    return ran_on[0] != ran_on[1];
  };
  for (int in_a_row = 0; in_a_row < 3 && Clock::now() < wake_deadline;) {
    in_a_row = rendezvous() ? in_a_row + 1 : 0;
  }
  // The one-task runs interleaved with the split ones, after the worker has joined: a core
  // whose sibling thread spins (or sleeps) runs the one-task pass at another speed, and the
  // two timed apart gave 192 to 384 KiB from one process to the next on the Zen 4 VM.
  shared_runs = 0;
  const auto [one_task_us, two_tasks_us] = paired_median_us(one_task, split_run);
  if (shared_runs < kWarmRuns + kTimedRuns - 2 || one_task_us <= 0) return 0;
  const double overhead_us = std::max(0.0, two_tasks_us - one_task_us / 2);
  const double traffic = 2.0 * sizeof(float) * kFloats;
  const double bytes = overhead_us / one_task_us * traffic;
  return std::clamp(static_cast<std::size_t>(bytes), kFloorBytes, kCeilingBytes);
}

/// BNRT_TASK_BYTES as a positive byte count, or 0 when unset or not one.
std::size_t bytes_from_environment() noexcept {
  const char* text = std::getenv("BNRT_TASK_BYTES");
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  return *end == '\0' ? static_cast<std::size_t>(value) : 0;
}

std::atomic<std::size_t> g_task_bytes{0};  // 0: not known yet
std::atomic<int> g_attempts{0};
std::atomic<bool> g_measuring{false};
std::atomic<Clock::rep> g_next_attempt{0};  // steady-clock ticks; no attempt before this

Clock::rep now_ticks() noexcept { return Clock::now().time_since_epoch().count(); }

}  // namespace

std::size_t min_task_bytes() noexcept {
  if (const std::size_t known = g_task_bytes.load(std::memory_order_relaxed)) return known;
  if (const std::size_t fixed = bytes_from_environment()) {
    // tasks_for_bytes never splits below the floor, so report what it really uses.
    const std::size_t used = std::max(fixed, kFloorBytes);
    g_task_bytes.store(used, std::memory_order_relaxed);
    return used;
  }
  if (now_ticks() < g_next_attempt.load(std::memory_order_relaxed)) return kCeilingBytes;
  // One thread measures; any other asking meanwhile gets the ceiling rather than waiting.
  if (g_measuring.exchange(true, std::memory_order_acquire)) return kCeilingBytes;
  std::size_t measured = 0;
  try {
    // Isolated, so that while it waits for its tasks this thread cannot pick up an outer
    // task that asks for the threshold again (it would get the ceiling, but also stall us).
    tbb::this_task_arena::isolate([&] { measured = measure_task_bytes(); });
  } catch (...) {
    measured = 0;  // out of memory: keep the ceiling
  }
  if (measured == 0) {
    if (g_attempts.fetch_add(1, std::memory_order_relaxed) + 1 >= kMaxAttempts) {
      measured = kCeilingBytes;
    } else {
      g_next_attempt.store(now_ticks() + Clock::duration(kRetryDelay).count(),
                           std::memory_order_relaxed);
    }
  }
  if (measured != 0) g_task_bytes.store(measured, std::memory_order_relaxed);
  g_measuring.store(false, std::memory_order_release);
  return measured != 0 ? measured : kCeilingBytes;
}

bool min_task_bytes_final() noexcept {
  return g_task_bytes.load(std::memory_order_relaxed) != 0 || bytes_from_environment() != 0;
}

std::size_t settle_min_task_bytes() noexcept {
  if (min_task_bytes_final()) return min_task_bytes();
  try {
    tbb::task_arena(2).execute([] {
      const auto deadline = Clock::now() + std::chrono::seconds(1);
      while (!min_task_bytes_final() && Clock::now() < deadline) {
        // Busy rather than asleep between attempts, so the worker is awake for the next one.
        const auto busy_until = Clock::now() + std::chrono::milliseconds(2);
        tbb::parallel_for(0, 2, [&](int) {
          while (Clock::now() < busy_until) std::this_thread::yield();
        });
        min_task_bytes();
      }
    });
  } catch (...) {
    // No arena (out of resources): min_task_bytes() keeps its current answer.
  }
  return min_task_bytes();
}

}  // namespace bnrt
