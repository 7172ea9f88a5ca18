// Batch statistics API: moments, momentum conventions, running-stat updates with PyTorch's
// semantics, and the exact recalibration accumulator (see include/bnrt/batch_stats.hpp).
#include "bnrt/batch_stats.hpp"

#include <cmath>

#include "errors.hpp"
#include "fold.hpp"
#include "kernels/moments_kernels.hpp"
#include "moments.hpp"
#include "running_update.hpp"

namespace bnrt {
namespace {

using detail::fail;
using detail::format_value;

void check_weight(std::string_view what, double value) {
  if (!(value >= 0.0 && value <= 1.0)) {
    fail(ErrorCode::invalid_argument, "momentum",
         std::string(what) + " = " + format_value(value) + " is outside [0, 1]");
  }
}

void check_same_channels(std::string_view op, std::size_t expected, std::size_t got,
                         std::string_view what) {
  if (expected != got) {
    fail(ErrorCode::channel_mismatch, op,
         std::string(what) + " has " + std::to_string(got) + " channels, expected " +
             std::to_string(expected));
  }
}

}  // namespace

// ---- ChannelMoments ---------------------------------------------------------------------------

std::vector<double> ChannelMoments::biased_variance() const {
  std::vector<double> var(m2.size());
  for (std::size_t c = 0; c < m2.size(); ++c)
    var[c] = count > 0 ? m2[c] / static_cast<double>(count) : 0.0;
  return var;
}

std::vector<double> ChannelMoments::unbiased_variance() const {
  if (count < 2) {
    fail(ErrorCode::invalid_statistics, "moments",
         "unbiased variance needs at least 2 values per channel, have " + std::to_string(count));
  }
  std::vector<double> var(m2.size());
  for (std::size_t c = 0; c < m2.size(); ++c) var[c] = m2[c] / static_cast<double>(count - 1);
  return var;
}

void ChannelMoments::merge(const ChannelMoments& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  check_same_channels("moments", channels(), other.channels(), "merged moments");
  const detail::MergeWeights w(static_cast<double>(count), static_cast<double>(other.count));
  for (std::size_t c = 0; c < channels(); ++c) {
    detail::merge_moments(w, mean[c], m2[c], other.mean[c], other.m2[c]);
  }
  count += other.count;
}

ChannelMoments batch_moments(ConstTensor x, int max_threads, StatsPrecision precision) {
  constexpr std::string_view kOp = "batch_moments";
  const detail::TensorGeometry geometry = detail::check_tensor(kOp, "x", x, std::nullopt);
  if (geometry.elements == 0) {
    fail(ErrorCode::invalid_argument, kOp,
         "x " + detail::describe_shape(x) + " has no elements: its moments are undefined");
  }
  if (max_threads < 0) {
    fail(ErrorCode::invalid_argument, kOp,
         "max_threads = " + std::to_string(max_threads) + " is negative");
  }
  detail::BorrowedScratch scratch;
  return detail::compute_moments(x, geometry, max_threads, scratch.get(), precision);
}

// ---- Momentum ---------------------------------------------------------------------------------

Momentum Momentum::pytorch(double m) {
  check_weight("pytorch momentum", m);
  return Momentum(m, false);
}

Momentum Momentum::cumulative() { return Momentum(0.0, true); }

Momentum Momentum::keep_factor(double k) {
  check_weight("keep factor", k);
  return Momentum(1.0 - k, false);
}

double Momentum::batch_weight(std::int64_t num_batches_tracked) const {
  if (!cumulative_) return weight_;
  return 1.0 / static_cast<double>(num_batches_tracked > 0 ? num_batches_tracked : 1);
}

// ---- RunningStats -----------------------------------------------------------------------------

RunningStats RunningStats::initial(std::size_t channels) {
  return RunningStats{std::vector<float>(channels, 0.0f), std::vector<float>(channels, 1.0f), 0};
}

namespace detail {

kernels::RunningUpdateArgs start_running_update(RunningStats& stats, const ChannelMoments& batch,
                                                const Momentum& momentum) {
  constexpr std::string_view kOp = "running_stats";
  check_same_channels(kOp, stats.mean.size(), batch.channels(), "batch moments");
  check_same_channels(kOp, stats.mean.size(), stats.var.size(), "running var");
  if (batch.count < 2) batch.unbiased_variance();  // throws the explanatory error
  stats.num_batches_tracked += 1;
  // PyTorch's CPU update, term for term: computed in double, rounded once into the float
  // buffers: running = momentum * batch + (1 - momentum) * running, with the unbiased variance.
  // Vectorized (thousands of channels made the scalar loop 5% of a small training step).
  kernels::RunningUpdateArgs args;
  args.batch_mean = batch.mean.data();
  args.batch_m2 = batch.m2.data();
  args.mean = stats.mean.data();
  args.var = stats.var.data();
  args.batch_weight = momentum.batch_weight(stats.num_batches_tracked);
  args.inverse_bessel = 1.0 / static_cast<double>(batch.count - 1);
  args.channels = stats.mean.size();
  return args;
}

}  // namespace detail

void RunningStats::update(const ChannelMoments& batch, const Momentum& momentum) {
  const kernels::RunningUpdateArgs args = detail::start_running_update(*this, batch, momentum);
  kernels::moments_kernels(active_isa()).update_running(args);
}

BatchNormParams RunningStats::params(std::span<const float> gamma, std::span<const float> beta,
                                     double eps) const {
  return BatchNormParams{mean, var, gamma, beta, eps};
}

// ---- MomentsAccumulator -----------------------------------------------------------------------

MomentsAccumulator::MomentsAccumulator(std::size_t channels) {
  if (channels == 0) fail(ErrorCode::channel_mismatch, "moments_accumulator", "channels is 0");
  moments_.mean.assign(channels, 0.0);
  moments_.m2.assign(channels, 0.0);
}

void MomentsAccumulator::add(ConstTensor batch, int max_threads) {
  constexpr std::string_view kOp = "moments_accumulator";
  const detail::TensorGeometry geometry =
      detail::check_tensor(kOp, "batch", batch, moments_.channels());
  if (geometry.elements == 0) return;  // an empty batch adds nothing
  detail::BorrowedScratch scratch;
  moments_.merge(detail::compute_moments(batch, geometry, max_threads, scratch.get()));
  batches_ += 1;
}

void MomentsAccumulator::add(const ChannelMoments& moments) {
  check_same_channels("moments_accumulator", moments_.channels(), moments.channels(), "moments");
  if (moments.count == 0) return;
  moments_.merge(moments);
  batches_ += 1;
}

void MomentsAccumulator::merge(const MomentsAccumulator& other) {
  check_same_channels("moments_accumulator", moments_.channels(), other.moments_.channels(),
                      "merged accumulator");
  moments_.merge(other.moments_);
  batches_ += other.batches_;
}

RunningStats MomentsAccumulator::running_stats() const {
  const std::vector<double> var = moments_.unbiased_variance();
  RunningStats stats;
  stats.mean.resize(moments_.channels());
  stats.var.resize(moments_.channels());
  for (std::size_t c = 0; c < moments_.channels(); ++c) {
    stats.mean[c] = static_cast<float>(moments_.mean[c]);
    stats.var[c] = static_cast<float>(var[c]);
  }
  stats.num_batches_tracked = batches_;
  return stats;
}

ChannelAffine MomentsAccumulator::fold(std::span<const float> gamma, std::span<const float> beta,
                                       double eps) const {
  // Straight from the exact double statistics (no float running-stat rounding in between),
  // with the unbiased variance, as running_stats() would install it.
  return detail::fold_statistics("moments_accumulator", moments_.mean, moments_.unbiased_variance(),
                                 detail::widen(gamma), detail::widen(beta), eps);
}

}  // namespace bnrt
