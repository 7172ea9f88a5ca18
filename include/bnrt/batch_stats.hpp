// Batch statistics: per-channel moments of a tensor, running statistics with PyTorch's (or
// ONNX's) momentum semantics, and an exact, mergeable accumulator for re-estimating BN
// statistics on calibration data.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bnrt/batch_norm_params.hpp"
#include "bnrt/tensor.hpp"

namespace bnrt {

/// Per-channel moments of some set of values: how many per channel, their mean, and M2, the sum
/// of squared deviations from that mean. All in double. Biased (population) variance is
/// M2 / count; unbiased (sample) variance is M2 / (count - 1).
struct ChannelMoments {
  std::int64_t count = 0;  ///< values per channel (the same for every channel)
  std::vector<double> mean;
  std::vector<double> m2;

  std::size_t channels() const noexcept { return mean.size(); }
  /// M2 / count, per channel: what batch norm normalizes with in training mode.
  std::vector<double> biased_variance() const;
  /// M2 / (count - 1), per channel: what PyTorch folds into running_var. Throws bnrt::Error
  /// (invalid_statistics) when count < 2.
  std::vector<double> unbiased_variance() const;
  /// Replaces *this with the moments of the union of both value sets (Chan et al.'s pairwise
  /// update, in double). Either side may be empty (count 0). Throws bnrt::Error
  /// (channel_mismatch) when both are non-empty with different channel counts.
  void merge(const ChannelMoments& other);
};

/// How batch_moments sums.
enum class StatsPrecision {
  /// Every value widened to double before it is summed: within ~1e-15 relative of the exact
  /// moments, so batches merge into the same result as one pass (recalibration). Bound by FP
  /// throughput: 62-92% of memcpy's read rate on L3-resident tensors (dev machine).
  exact,
  /// Float runs of 16 values per lane widened into double: typically within ~1e-7 relative,
  /// 1e-6 at worst (tested, with large offsets), far below what float outputs show; faster
  /// than memcpy reads. What the training forward uses.
  fast,
};

/// Per-channel moments of `x` over every dim but the channel dim, in one pass. Each block of
/// the tensor is summed around a shift taken from its own first values (so a large common
/// offset, x = 1000 + noise, costs no precision), and blocks are combined with
/// ChannelMoments::merge in a fixed order: the result is bitwise identical for any thread
/// count, and differs between ISAs only by summation order.
/// `max_threads` caps threads as in BatchNormOptions (0: the current arena's concurrency).
/// Throws bnrt::Error on an invalid tensor (see BatchNorm::run), including zero elements.
ChannelMoments batch_moments(ConstTensor x, int max_threads = 0,
                             StatsPrecision precision = StatsPrecision::exact);

/// How a running statistic follows the batch statistic: running = (1 - w) * running + w * batch,
/// with w the batch weight below.
class Momentum {
 public:
  /// PyTorch's `momentum=m` (default 0.1): w = m.
  static Momentum pytorch(double m = 0.1);
  /// PyTorch's `momentum=None`: the cumulative average, w = 1 / num_batches_tracked (counted
  /// after incrementing for this batch).
  static Momentum cumulative();
  /// The keep-factor convention of ONNX BatchNormalization, TensorFlow and Keras
  /// (`running = k * running + (1 - k) * batch`, default 0.9): w = 1 - k.
  static Momentum keep_factor(double k = 0.9);

  /// The batch's weight when this is the `num_batches_tracked`-th batch (>= 1).
  double batch_weight(std::int64_t num_batches_tracked) const;
  bool is_cumulative() const noexcept { return cumulative_; }

 private:
  Momentum(double weight, bool cumulative) noexcept : weight_(weight), cumulative_(cumulative) {}
  double weight_;
  bool cumulative_;
};

/// A layer's running statistics, as PyTorch keeps them (float buffers plus a batch counter).
struct RunningStats {
  std::vector<float> mean;  ///< running_mean, starts at 0 in PyTorch
  std::vector<float> var;   ///< running_var, starts at 1 in PyTorch
  std::int64_t num_batches_tracked = 0;

  /// PyTorch's initial state for `channels` channels: mean 0, var 1, no batches.
  static RunningStats initial(std::size_t channels);

  /// One training step's update, exactly as PyTorch does it: num_batches_tracked += 1, then
  /// with w = momentum.batch_weight(num_batches_tracked), in double and rounded once to float:
  ///   mean = (1 - w) * mean + w * batch.mean
  ///   var  = (1 - w) * var  + w * batch.unbiased_variance()   (unbiased, although the batch was
  ///                                                            normalized with the biased one)
  /// Throws bnrt::Error on a channel-count mismatch or batch.count < 2.
  void update(const ChannelMoments& batch, const Momentum& momentum);

  /// The eval-mode parameters these statistics make, with the layer's affine parameters
  /// (empty spans: affine=false). The spans point into *this and `gamma` / `beta`.
  BatchNormParams params(std::span<const float> gamma = {}, std::span<const float> beta = {},
                         double eps = 1e-5) const;
};

/// Re-estimating statistics on calibration data: feed any number of batches of any size and
/// get the exact mean and variance of everything seen (not an exponential average). Two
/// accumulators (other threads, other processes via their moments()) merge exactly.
class MomentsAccumulator {
 public:
  explicit MomentsAccumulator(std::size_t channels);

  /// Adds one batch (any layout, channel count as constructed).
  void add(ConstTensor batch, int max_threads = 0);
  /// Adds precomputed moments (e.g. from another process).
  void add(const ChannelMoments& moments);
  /// Adds everything `other` has seen (its batches count too).
  void merge(const MomentsAccumulator& other);

  const ChannelMoments& moments() const noexcept { return moments_; }
  std::int64_t batches() const noexcept { return batches_; }

  /// Statistics to install as running stats: the exact mean and the unbiased variance of
  /// everything seen (PyTorch's convention for running_var), num_batches_tracked = batches().
  RunningStats running_stats() const;
  /// The folded per-channel affine map for eval with these statistics and the given affine
  /// parameters (empty: affine=false), straight from the exact double mean and unbiased
  /// variance (no float rounding in between): ready for BatchNorm::from_affine or conv folding.
  ChannelAffine fold(std::span<const float> gamma = {}, std::span<const float> beta = {},
                     double eps = 1e-5) const;

 private:
  ChannelMoments moments_;
  std::int64_t batches_ = 0;
};

}  // namespace bnrt
