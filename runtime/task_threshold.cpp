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
constexpr int kMaxAttempts = 8;

/// 32768 floats in and out: 256 KiB of traffic, in L2 on any core with 512 KiB or more, as the
/// 0.4-1.6 MB tensors whose split this decides are.
constexpr std::size_t kFloats = 32768;
constexpr int kWarmRuns = 3;
constexpr int kTimedRuns = 9;

using Clock = std::chrono::steady_clock;

template <class Run>
double median_us(const Run& run) {
  for (int i = 0; i < kWarmRuns; ++i) run();
  std::array<double, kTimedRuns> us{};
  for (double& sample : us) {
    const auto start = Clock::now();
    run();
    sample = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  std::nth_element(us.begin(), us.begin() + kTimedRuns / 2, us.end());
  return us[kTimedRuns / 2];
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

  const double one_task_us = median_us([&] { kernel(args, 0, kFloats); });
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
  // TBB starts its workers on first use, and a worker joins a new or idle arena only after a
  // while (from 0.1 to over 5 ms here): run split passes, for up to 1 ms, until three in a row
  // have been shared, so the timing sees the worker a busy process has. When none comes, the
  // measurement fails and a later run tries again.
  const auto wake_deadline = Clock::now() + std::chrono::milliseconds(1);
  for (int in_a_row = 0; in_a_row < 3 && Clock::now() < wake_deadline;) {
    const int before = shared_runs;
    split_run();
    in_a_row = shared_runs > before ? in_a_row + 1 : 0;
  }
  shared_runs = 0;
  const double two_tasks_us = median_us(split_run);
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

}  // namespace

std::size_t min_task_bytes() noexcept {
  if (const std::size_t known = g_task_bytes.load(std::memory_order_relaxed)) return known;
  if (const std::size_t fixed = bytes_from_environment()) {
    // tasks_for_bytes never splits below the floor, so report what it really uses.
    const std::size_t used = std::max(fixed, kFloorBytes);
    g_task_bytes.store(used, std::memory_order_relaxed);
    return used;
  }
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
  if (measured == 0 && g_attempts.fetch_add(1, std::memory_order_relaxed) + 1 >= kMaxAttempts) {
    measured = kCeilingBytes;
  }
  if (measured != 0) g_task_bytes.store(measured, std::memory_order_relaxed);
  g_measuring.store(false, std::memory_order_release);
  return measured != 0 ? measured : kCeilingBytes;
}

}  // namespace bnrt
