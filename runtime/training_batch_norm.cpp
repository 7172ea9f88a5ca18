// Training-mode batch norm: a statistics pass, the batch statistics folded in double into the
// same tables the eval kernel reads, the shared affine pass, then the running-stat update.
#include "bnrt/training_batch_norm.hpp"

#include <cmath>

#include "affine_run.hpp"
#include "errors.hpp"
#include "kernels/moments_kernels.hpp"
#include "moments.hpp"

namespace bnrt {
namespace detail {

struct TrainingBatchNormState {
  std::size_t channels = 0;
  std::vector<float> gamma;  ///< empty: affine=false
  std::vector<float> beta;
  TrainingBatchNormOptions options;
  AffineRunConfig config;
  RunningStats running;  ///< empty when not tracking
  // Reused from run to run, so a run allocates little once shapes are stable.
  ChannelTables tables;
  MomentsScratch scratch;
  std::vector<float> scale;
  std::vector<float> shift;
  Isa isa = Isa::scalar;
};

}  // namespace detail

namespace {

using detail::fail;
using detail::format_value;

constexpr std::string_view kOp = "training_batch_norm";

void check_finite(std::string_view name, std::span<const float> values) {
  for (std::size_t c = 0; c < values.size(); ++c) {
    if (!std::isfinite(values[c])) {
      fail(ErrorCode::invalid_statistics, kOp,
           detail::indexed(name, c) + " = " + format_value(values[c]) + " is not finite");
    }
  }
}

void check_length(std::string_view name, std::size_t got, std::size_t channels) {
  if (got != channels) {
    fail(ErrorCode::channel_mismatch, kOp,
         std::string(name) + " has " + std::to_string(got) + " entries but channels is " +
             std::to_string(channels));
  }
}

/// scale = gamma / sqrt(biased_var + eps), shift = beta - mean * scale, in double, into the
/// state's reused buffers, by the active ISA's fold kernel. Unlike the eval fold this never
/// throws: the statistics come from the data, and data with NaN or infinities gives NaN
/// outputs, as in PyTorch (so does a constant channel with eps = 0).
void fold_batch_statistics(detail::TrainingBatchNormState& state, const ChannelMoments& moments) {
  state.scale.resize(state.channels);
  state.shift.resize(state.channels);
  kernels::FoldArgs args;
  args.mean = moments.mean.data();
  args.m2 = moments.m2.data();
  args.inverse_count = 1.0 / static_cast<double>(moments.count);
  args.eps = state.options.eps;
  args.gamma = state.gamma.empty() ? nullptr : state.gamma.data();
  args.beta = state.beta.empty() ? nullptr : state.beta.data();
  args.scale = state.scale.data();
  args.shift = state.shift.data();
  args.channels = state.channels;
  kernels::moments_kernels(state.isa).fold(args);
}

}  // namespace

TrainingBatchNorm::TrainingBatchNorm(std::unique_ptr<detail::TrainingBatchNormState> state) noexcept
    : state_(std::move(state)) {}
TrainingBatchNorm::TrainingBatchNorm(TrainingBatchNorm&&) noexcept = default;
TrainingBatchNorm& TrainingBatchNorm::operator=(TrainingBatchNorm&&) noexcept = default;
TrainingBatchNorm::~TrainingBatchNorm() = default;

TrainingBatchNorm TrainingBatchNorm::create(std::size_t channels, std::span<const float> gamma,
                                            std::span<const float> beta,
                                            const TrainingBatchNormOptions& options,
                                            std::optional<RunningStats> initial) {
  if (channels == 0) fail(ErrorCode::channel_mismatch, kOp, "channels is 0");
  if (gamma.empty() != beta.empty()) {
    fail(ErrorCode::channel_mismatch, kOp,
         "gamma and beta must both be given or both be empty (affine=false)");
  }
  if (!gamma.empty()) {
    check_length("gamma", gamma.size(), channels);
    check_length("beta", beta.size(), channels);
  }
  check_finite("gamma", gamma);
  check_finite("beta", beta);
  if (!(std::isfinite(options.eps) && options.eps >= 0)) {
    fail(ErrorCode::invalid_statistics, kOp,
         "eps = " + format_value(options.eps) + " must be finite and non-negative");
  }
  auto state = std::make_unique<detail::TrainingBatchNormState>();
  state->channels = channels;
  state->gamma.assign(gamma.begin(), gamma.end());
  state->beta.assign(beta.begin(), beta.end());
  state->options = options;
  state->config = detail::make_affine_run_config(kOp, options.activation, options.max_threads,
                                                 options.store_policy);
  state->isa = active_isa();
  if (options.track_running_stats) {
    state->running = initial ? std::move(*initial) : RunningStats::initial(channels);
    check_length("initial running mean", state->running.mean.size(), channels);
    check_length("initial running var", state->running.var.size(), channels);
    check_finite("initial running mean", state->running.mean);
    check_finite("initial running var", state->running.var);
  }
  return TrainingBatchNorm(std::move(state));
}

ChannelMoments TrainingBatchNorm::run(ConstTensor src, MutableTensor dst) {
  return run_checked(src, nullptr, dst);
}

ChannelMoments TrainingBatchNorm::run(ConstTensor src, ConstTensor residual, MutableTensor dst) {
  return run_checked(src, &residual, dst);
}

ChannelMoments TrainingBatchNorm::run_checked(ConstTensor src, const ConstTensor* residual,
                                              MutableTensor dst) {
  detail::TrainingBatchNormState& state = *state_;
  const detail::TensorGeometry geometry =
      detail::check_run_tensors(kOp, state.channels, src, residual, dst);
  const std::size_t per_channel = geometry.elements / state.channels;
  if (per_channel <= 1) {
    // As PyTorch: the variance of one value is 0 and its unbiased estimate undefined.
    fail(ErrorCode::invalid_argument, kOp,
         "expected more than 1 value per channel in training mode, got src " +
             detail::describe_shape(src) + " (" + std::to_string(per_channel) + " per channel)");
  }
  // Statistics first: dst may alias src.
  const ChannelMoments moments = detail::compute_moments(src, geometry, state.options.max_threads,
                                                         state.scratch, StatsPrecision::fast);
  fold_batch_statistics(state, moments);
  state.tables.assign(state.scale, state.shift);
  detail::run_affine(state.config, state.tables, geometry, src, residual, dst);
  if (state.options.track_running_stats) state.running.update(moments, state.options.momentum);
  return moments;
}

std::size_t TrainingBatchNorm::channels() const noexcept { return state_->channels; }

const RunningStats& TrainingBatchNorm::running_stats() const noexcept { return state_->running; }

BatchNorm TrainingBatchNorm::eval_op(const BatchNormOptions& options) const {
  if (!state_->options.track_running_stats) {
    fail(ErrorCode::invalid_argument, kOp,
         "no running statistics to evaluate with (track_running_stats is false)");
  }
  return BatchNorm::create(state_->running.params(state_->gamma, state_->beta, state_->options.eps),
                           options);
}

}  // namespace bnrt
