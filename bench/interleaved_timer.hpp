// Round-robin timing for comparisons that must survive drift: the implementations of one group
// (same shape, layout, threads) are timed in short alternating samples, rotating the order every
// round, and each reports the median. Frequency changes, a noisy neighbour or cache state then
// hit every implementation alike, so the ratios between them hold even when absolute times move.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "batch_norm_runners.hpp"

namespace bnrt::bench {

struct TimingOptions {
  double sample_seconds = 0.005;  ///< each sample repeats a call until at least this long
  int rounds = 15;                ///< samples per implementation; the median is reported
};

struct Measurement {
  BatchNormCase c;
  double median_us = 0;            ///< per call
  std::vector<double> samples_us;  ///< per call, one per round, in round order (see paired_ratio)
};

/// Makes bnrt::min_task_bytes() final (bnrt::settle_min_task_bytes) before anything is timed:
/// a threshold still at its initial value for the first rows and measured for the later ones
/// would split the same tensor differently from row to row. Nothing to do for one thread,
/// which never splits.
void settle_task_threshold(int threads);

/// Median microseconds per call of each runner, timed round-robin inside one `threads`-thread
/// arena; a null runner gets nullopt. The building block of every table `bnrt bench` prints.
/// With `samples_us`, also every sample, [runner][round] (empty for a null runner).
std::vector<std::optional<double>> measure_round_robin(
    const std::vector<std::unique_ptr<Runner>>& runners, int threads, const TimingOptions& options,
    std::vector<std::vector<double>>* samples_us = nullptr);

/// The median over rounds of a[round] / b[round], for two runners timed in the same rounds: a
/// round's two samples are taken within milliseconds of each other, so drift slower than that
/// (a neighbour's load, the clock) cancels in every term, where a ratio of medians can pair a
/// fast stretch of one with a slow stretch of the other. nullopt if either is empty.
std::optional<double> paired_ratio(const std::vector<double>& a, const std::vector<double>& b);

/// Measures `cases`, interleaving consecutive cases that share dims, layout and threads.
/// `progress(done, total)` is called after each group.
std::vector<Measurement> measure_interleaved(
    const std::vector<BatchNormCase>& cases, const TimingOptions& options,
    const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace bnrt::bench
