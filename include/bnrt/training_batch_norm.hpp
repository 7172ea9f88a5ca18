// Training-mode batch norm (and eval of track_running_stats=False layers): normalize with the
// batch's own statistics, apply the affine parameters and the fused epilogue, and update the
// running statistics with PyTorch's semantics. Two passes over the data: statistics, then the
// same normalize kernel the eval-mode op uses.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "bnrt/activation.hpp"
#include "bnrt/batch_norm.hpp"
#include "bnrt/batch_stats.hpp"

namespace bnrt {

struct TrainingBatchNormOptions {
  double eps = 1e-5;
  Momentum momentum = Momentum::pytorch(0.1);
  /// false: like PyTorch's track_running_stats=False, batch statistics are used and nothing is
  /// tracked (running_stats() stays empty).
  bool track_running_stats = true;
  Activation activation = Activation::identity();  ///< after the residual add, as in BatchNorm
  int max_threads = 0;
  StorePolicy store_policy = StorePolicy::automatic;
};

namespace detail {
struct TrainingBatchNormState;
}

/// A batch-norm layer in training mode. Unlike BatchNorm it has state that every run changes
/// (the running statistics), so one object must not run on two threads at once; it is movable,
/// not copyable.
class TrainingBatchNorm {
 public:
  /// `gamma` / `beta`: the affine parameters, one per channel, or both empty for
  /// affine=false (then `channels` gives the count). `initial` running statistics default to
  /// PyTorch's (mean 0, var 1, 0 batches). Throws bnrt::Error on bad lengths or non-finite
  /// values, eps, or activation.
  static TrainingBatchNorm create(std::size_t channels, std::span<const float> gamma,
                                  std::span<const float> beta,
                                  const TrainingBatchNormOptions& options = {},
                                  std::optional<RunningStats> initial = std::nullopt);

  /// dst = act((src - batch_mean) / sqrt(batch_var + eps) * gamma + beta [+ residual]) with the
  /// biased batch variance; then updates the running statistics (when tracked). Returns the
  /// batch moments. Shapes and aliasing as in BatchNorm::run. Throws bnrt::Error when a
  /// channel has a single value (N * spatial == 1), as PyTorch does in training.
  ChannelMoments run(ConstTensor src, MutableTensor dst);
  ChannelMoments run(ConstTensor src, ConstTensor residual, MutableTensor dst);
  /// The same, writing the batch moments into `batch` and reusing its storage: a training
  /// loop that keeps one ChannelMoments per layer allocates nothing per step (two vectors
  /// allocated and zeroed cost ~4% of a 1x512x7x7 step, ~5% of a (16, 512) one).
  void run(ConstTensor src, MutableTensor dst, ChannelMoments& batch);
  void run(ConstTensor src, ConstTensor residual, MutableTensor dst, ChannelMoments& batch);

  std::size_t channels() const noexcept;
  /// Empty (no entries) when not tracking running statistics.
  const RunningStats& running_stats() const noexcept;
  /// An eval-mode op from the current running statistics (throws if they are not tracked).
  BatchNorm eval_op(const BatchNormOptions& options = {}) const;

  TrainingBatchNorm(TrainingBatchNorm&&) noexcept;
  TrainingBatchNorm& operator=(TrainingBatchNorm&&) noexcept;
  ~TrainingBatchNorm();

 private:
  explicit TrainingBatchNorm(std::unique_ptr<detail::TrainingBatchNormState> state) noexcept;
  void run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst,
                   ChannelMoments& batch);

  std::unique_ptr<detail::TrainingBatchNormState> state_;
};

}  // namespace bnrt
