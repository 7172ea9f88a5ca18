// Round-robin median timing (see interleaved_timer.hpp).
#include "interleaved_timer.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "bnrt/threads.hpp"

namespace bnrt::bench {
namespace {

using Clock = std::chrono::steady_clock;

bool same_group(const BatchNormCase& a, const BatchNormCase& b) {
  return a.dims == b.dims && a.layout == b.layout && a.threads == b.threads;
}

/// Seconds per call over `calls` back-to-back calls.
double time_calls(Runner& runner, long calls) {
  const auto start = Clock::now();
  for (long k = 0; k < calls; ++k) runner.run();
  return std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(calls);
}

/// Returns once every thread of the current `threads`-thread arena is running a task (or after
/// 20 ms): each waits, spinning, for all the others to arrive. A parked TBB worker took 1-5 ms
/// to wake on the dev VMs, so a sample started right after another implementation's (oneDNN's
/// OpenMP one, or a one-thread memcpy) could run its first milliseconds on one thread.
void wake_workers(int threads) {
  if (threads < 2) return;
  const auto deadline = Clock::now() + std::chrono::milliseconds(20);
  std::atomic<int> arrived{0};
  tbb::parallel_for(
      0, threads,
      [&](int) {
        arrived.fetch_add(1);
        while (arrived.load() < threads && Clock::now() < deadline) std::this_thread::yield();
      },
      tbb::static_partitioner{});
}

}  // namespace

void settle_task_threshold(int threads) {
  if (threads >= 2) settle_min_task_bytes();
}

std::vector<std::optional<double>> measure_round_robin(
    const std::vector<std::unique_ptr<Runner>>& runners, int threads, const TimingOptions& options,
    std::vector<std::vector<double>>* samples_us) {
  std::vector<std::optional<double>> medians(runners.size());
  settle_task_threshold(threads);
  tbb::task_arena arena(threads);
  arena.execute([&] {
    // Warm up (page faults, lazy init), then size each sample to ~sample_seconds.
    std::vector<long> calls(runners.size(), 1);
    for (std::size_t k = 0; k < runners.size(); ++k) {
      if (!runners[k]) continue;
      const double once = time_calls(*runners[k], 1);
      const double again = time_calls(*runners[k], 1);
      const double per_call = std::max(std::min(once, again), 1e-9);
      calls[k] = std::max(1L, static_cast<long>(options.sample_seconds / per_call));
      runners[k]->settle();
    }
    std::vector<std::vector<double>> samples(runners.size());
    for (int round = 0; round < options.rounds; ++round) {
      for (std::size_t j = 0; j < runners.size(); ++j) {
        const std::size_t k = (j + static_cast<std::size_t>(round)) % runners.size();
        if (!runners[k]) continue;
        // Every worker awake, then an untimed warm-up for about a millisecond: a single short
        // call would finish before a parked worker had rejoined, leaving the start of the
        // timed sample on one thread (seen as 2-thread rows at 1-thread speed).
        if (runners[k]->uses_tbb_threads()) wake_workers(threads);
        time_calls(*runners[k], std::max(1L, calls[k] / 5));
        samples[k].push_back(time_calls(*runners[k], calls[k]));
        runners[k]->settle();
      }
    }
    for (auto& runner_samples : samples) {
      for (double& seconds : runner_samples) seconds *= 1e6;
    }
    if (samples_us) *samples_us = samples;
    for (std::size_t k = 0; k < runners.size(); ++k) {
      auto& s = samples[k];
      if (s.empty()) continue;
      std::nth_element(s.begin(), s.begin() + static_cast<long>(s.size() / 2), s.end());
      medians[k] = s[s.size() / 2];
    }
  });
  return medians;
}

std::optional<double> paired_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n == 0) return std::nullopt;
  std::vector<double> ratios(n);
  for (std::size_t r = 0; r < n; ++r) ratios[r] = a[r] / b[r];
  std::nth_element(ratios.begin(), ratios.begin() + static_cast<long>(n / 2), ratios.end());
  return ratios[n / 2];
}

std::vector<Measurement> measure_interleaved(
    const std::vector<BatchNormCase>& cases, const TimingOptions& options,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  std::vector<Measurement> out;
  std::size_t begin = 0;
  while (begin < cases.size()) {
    std::size_t end = begin + 1;
    while (end < cases.size() && same_group(cases[begin], cases[end])) ++end;
    const auto data = make_case_data(cases[begin]);
    std::vector<std::unique_ptr<Runner>> runners;
    for (std::size_t k = begin; k < end; ++k) runners.push_back(make_runner(cases[k], data));
    std::vector<std::vector<double>> samples;
    const auto medians = measure_round_robin(runners, cases[begin].threads, options, &samples);
    for (std::size_t k = begin; k < end; ++k) {
      if (medians[k - begin]) out.push_back({cases[k], *medians[k - begin], samples[k - begin]});
    }
    begin = end;
    if (progress) progress(begin, cases.size());
  }
  return out;
}

}  // namespace bnrt::bench
