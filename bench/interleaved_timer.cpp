// Round-robin median timing (see interleaved_timer.hpp).
#include "interleaved_timer.hpp"

#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <memory>

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

void measure_group(const std::vector<BatchNormCase>& group, const TimingOptions& options,
                   std::vector<Measurement>& out) {
  const auto data = make_case_data(group.front());
  std::vector<std::unique_ptr<Runner>> runners;
  for (const auto& c : group) runners.push_back(make_runner(c, data));
  tbb::task_arena arena(group.front().threads);
  arena.execute([&] {
    // Warm up (page faults, lazy init), then size each sample to ~sample_seconds.
    std::vector<long> calls(group.size(), 1);
    for (std::size_t k = 0; k < group.size(); ++k) {
      if (!runners[k]) continue;
      const double once = time_calls(*runners[k], 1);
      const double again = time_calls(*runners[k], 1);
      const double per_call = std::max(std::min(once, again), 1e-9);
      calls[k] = std::max(1L, static_cast<long>(options.sample_seconds / per_call));
    }
    std::vector<std::vector<double>> samples(group.size());
    for (int round = 0; round < options.rounds; ++round) {
      for (std::size_t j = 0; j < group.size(); ++j) {
        const std::size_t k = (j + static_cast<std::size_t>(round)) % group.size();
        if (!runners[k]) continue;
        // Untimed warm-up for about a millisecond: a parked TBB worker takes tens of
        // microseconds to rejoin, and a single short call would finish before it had, leaving
        // the start of the timed sample on one thread (seen as 2-thread rows at 1-thread speed).
        time_calls(*runners[k], std::max(1L, calls[k] / 5));
        samples[k].push_back(time_calls(*runners[k], calls[k]));
        runners[k]->settle();
      }
    }
    for (std::size_t k = 0; k < group.size(); ++k) {
      if (samples[k].empty()) continue;
      auto& s = samples[k];
      std::nth_element(s.begin(), s.begin() + static_cast<long>(s.size() / 2), s.end());
      out.push_back({group[k], s[s.size() / 2] * 1e6});
    }
  });
}

}  // namespace

std::vector<Measurement> measure_interleaved(
    const std::vector<BatchNormCase>& cases, const TimingOptions& options,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  std::vector<Measurement> out;
  std::size_t begin = 0;
  while (begin < cases.size()) {
    std::size_t end = begin + 1;
    while (end < cases.size() && same_group(cases[begin], cases[end])) ++end;
    measure_group(
        {cases.begin() + static_cast<long>(begin), cases.begin() + static_cast<long>(end)}, options,
        out);
    begin = end;
    if (progress) progress(begin, cases.size());
  }
  return out;
}

}  // namespace bnrt::bench
