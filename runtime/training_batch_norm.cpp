// Training-mode batch norm: a statistics pass, during which each range of channels is folded in
// double into the same tables the eval kernel reads and its running statistics updated as soon
// as its moments are final, then the shared affine pass.
#include "bnrt/training_batch_norm.hpp"

#include <cmath>
#include <optional>

#include "affine_run.hpp"
#include "errors.hpp"
#include "kernels/moments_kernels.hpp"
#include "moments.hpp"
#include "parallel.hpp"
#include "running_update.hpp"

namespace bnrt {
namespace detail {

struct TrainingBatchNormState {
  std::size_t channels = 0;
  std::vector<float> gamma;  ///< empty: affine=false
  std::vector<float> beta;
  TrainingBatchNormOptions options;
  AffineRunConfig config;
  RunningStats running;  ///< empty when not tracking
  // Reused from run to run, so a run allocates little once shapes are stable. The fold
  // writes into `tables` (the copy the affine pass will read), or, for the one-sample
  // channel split, into `scale` / `shift`, which its plane kernel reads directly.
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

/// The fold of batch statistics into the state's reused scale / shift buffers (sized by the
/// caller): scale = gamma / sqrt(biased_var + eps), shift = beta - mean * scale, in double.
/// Unlike the eval fold this never throws: the statistics come from the data, and data with
/// NaN or infinities gives NaN outputs, as in PyTorch (so does a constant channel with eps = 0).
kernels::FoldArgs fold_args(detail::TrainingBatchNormState& state, const ChannelMoments& moments,
                            float* scale, float* shift) {
  kernels::FoldArgs args;
  args.mean = moments.mean.data();
  args.m2 = moments.m2.data();
  args.inverse_count = 1.0 / static_cast<double>(moments.count);
  args.eps = state.options.eps;
  args.gamma = state.gamma.empty() ? nullptr : state.gamma.data();
  args.beta = state.beta.empty() ? nullptr : state.beta.data();
  args.scale = scale;
  args.shift = shift;
  args.channels = state.channels;
  return args;
}

/// The fold of channels [c0, c1) of `all` (a channel's result does not depend on the range).
void fold_channels(const kernels::MomentsKernelTable& table, const kernels::FoldArgs& all,
                   std::size_t c0, std::size_t c1) {
  kernels::FoldArgs slice = all;
  slice.mean += c0;
  slice.m2 += c0;
  if (slice.gamma != nullptr) slice.gamma += c0;
  if (slice.beta != nullptr) slice.beta += c0;
  slice.scale += c0;
  slice.shift += c0;
  slice.channels = c1 - c0;
  table.fold(slice);
}

/// The running-statistics update of channels [c0, c1) of `all`.
void update_channels(const kernels::MomentsKernelTable& table,
                     const kernels::RunningUpdateArgs& all, std::size_t c0, std::size_t c1) {
  kernels::RunningUpdateArgs slice = all;
  slice.batch_mean += c0;
  slice.batch_m2 += c0;
  slice.mean += c0;
  slice.var += c0;
  slice.channels = c1 - c0;
  table.update_running(slice);
}

/// Sizes `batch` for this run's tensor and, when tracking, books the running update
/// (num_batches_tracked, the batch weight): the returned arguments cover every channel.
std::optional<kernels::RunningUpdateArgs> start_batch(detail::TrainingBatchNormState& state,
                                                      const detail::TensorGeometry& geometry,
                                                      ChannelMoments& batch) {
  batch.count = static_cast<std::int64_t>(geometry.elements / state.channels);
  batch.mean.resize(state.channels);
  batch.m2.resize(state.channels);
  if (!state.options.track_running_stats) return std::nullopt;
  return detail::start_running_update(state.running, batch, state.options.momentum);
}

/// Tasks for the whole forward, decided once from all of its traffic (src read twice, dst
/// written, a residual read) for both passes. The statistics pass and the normalization then
/// split the tensor the same way, so each thread normalizes what it has just read: two
/// decisions, each from its own pass's bytes, could put one pass on one thread and the other
/// on two, and half the data would move between cores. `passes` is 1 when statistics and
/// normalization go channel range by channel range in the same tasks (run_by_channel), 2 when
/// the tasks wait for each other between the passes (parallel_two_phases), which needs twice
/// the traffic to pay: on the Zen 5 VM the 392 KB tensors (NHWC 1x28x28x128, 1x14x14x512,
/// 1x7x7x2048) ran their training forward in 7.5, 10.3 and 14.1 us on one thread against
/// 12.4, 12.2 and 14.8 on two with a fork-join per pass, and 10.0-10.6, 11.3-11.6 and
/// 18.7-19.8 on two in one fork-join (against 7.8-8.6, 9.1-9.6 and 11.8-12.8 on one).
std::size_t forward_tasks(const detail::TrainingBatchNormState& state,
                          const detail::TensorGeometry& geometry, bool has_residual,
                          std::size_t passes) {
  const std::size_t bytes = geometry.elements * sizeof(float);
  const std::size_t traffic = bytes * (has_residual ? 4 : 3);
  return detail::tasks_for_bytes(traffic / passes, state.options.max_threads);
}

/// One-sample tensors larger than L1 are taken about this many bytes of src at a time (64
/// planes of 7x7, 16 of 14x14): statistics, fold and normalization per chunk, so that the
/// normalization reads planes the statistics have just brought into L1 and writes them while
/// a 32 KiB L1 (the Zen 4 dev machine's, as most x86 cores') still holds both. Zen 4, one
/// thread, train / eval (harness, medians of 11): 1x512x7x7 2.69 -> 2.50, 1x2048x7x7 2.56 ->
/// 2.32, 1x256x14x14 1.91 -> 1.69, 1x1024x14x14 1.79 -> 1.55; chunks of 16 or 20 KB gained
/// less (7x7: 2.57, 2.65), and a tensor that fits L1 whole (1x128x7x7) ran slower cut up.
/// Planes of 16x16 and up take no chunks (one group of 16 planes would not fit).
/// The whole-tensor limit stays at 32 KiB on larger L1s: on the Zen 5 VM (48 KiB L1), taking
/// tensors of 32-48 KiB whole instead was level or slower (1x224x7x7 1.33 -> 1.37 us, four
/// alternating runs of `bnrt bench train --shapes 1x192x7x7,1x224x7x7,1x40x16x16`).
constexpr std::size_t kChunkBytes = 12800;
constexpr std::size_t kL1Bytes = 32 * 1024;

/// Channels per chunk for planes of `plane` floats: a multiple of `align`, or 0 for no chunks.
std::size_t channels_per_chunk(std::size_t plane, std::size_t align, std::size_t channels) {
  const std::size_t plane_bytes = plane * sizeof(float);
  if (channels * plane_bytes <= kL1Bytes) return 0;
  return kChunkBytes / plane_bytes / align * align;
}

/// The whole step for one-sample channels-first tensors (each channel's statistics one block):
/// each task takes a range of channels through statistics, fold, normalization and running
/// update, so there is one fork-join instead of two and each thread normalizes the planes it
/// has just read (batch-1 NCHW on two threads spent as long between the two passes as in
/// either), a chunk at a time when the tensor is larger than L1. Results do not depend on the
/// split: a channel's arithmetic is the same in any range, and ranges start on multiples of
/// plan.align.
void run_by_channel(detail::TrainingBatchNormState& state, const detail::MomentsPlan& plan,
                    std::size_t tasks, const detail::TensorGeometry& geometry,
                    const ConstTensor& src, const ConstTensor* residual, const MutableTensor& dst,
                    ChannelMoments& moments) {
  const std::size_t channels = state.channels;
  const std::optional<kernels::RunningUpdateArgs> update = start_batch(state, geometry, moments);
  kernels::MomentsArgs stats = plan.args;
  stats.mean = moments.mean.data();
  stats.m2 = moments.m2.data();

  state.scale.resize(channels);
  state.shift.resize(channels);
  const kernels::FoldArgs fold = fold_args(state, moments, state.scale.data(), state.shift.data());
  const detail::PlaneAffine affine = detail::plane_affine(
      state.config, geometry, src, residual, dst, state.scale.data(), state.shift.data(), tasks);
  const kernels::MomentsKernelTable& table = kernels::moments_kernels(state.isa);
  const std::size_t plane = plan.args.inner;  // one sample: channel c is plane c
  const std::size_t chunk = channels_per_chunk(plane, plan.align, channels);
  const auto step = [&](std::size_t c0, std::size_t c1) {
    plan.kernel(stats, c0, c1);  // statistics first: dst may alias src
    fold_channels(table, fold, c0, c1);
    affine.run(c0 * plane, c1 * plane);
  };
  detail::parallel_ranges(channels, tasks, plan.align, 0, [&](std::size_t c0, std::size_t c1) {
    if (chunk == 0) {
      step(c0, c1);
    } else {
      for (std::size_t c = c0; c < c1; c += chunk) step(c, c1 - c < chunk ? c1 : c + chunk);
    }
    // The task's whole range at once: nothing reads it before the run ends.
    if (update) update_channels(table, *update, c0, c1);
  });
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
  const std::vector<float> unset(channels, 0.0f);  // every run writes the tables before use
  state->tables = detail::ChannelTables(unset, unset);
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
  ChannelMoments batch;
  run_checked(src, nullptr, dst, batch);
  return batch;
}

ChannelMoments TrainingBatchNorm::run(ConstTensor src, ConstTensor residual, MutableTensor dst) {
  ChannelMoments batch;
  run_checked(src, &residual, dst, batch);
  return batch;
}

void TrainingBatchNorm::run(ConstTensor src, MutableTensor dst, ChannelMoments& batch) {
  run_checked(src, nullptr, dst, batch);
}

void TrainingBatchNorm::run(ConstTensor src, ConstTensor residual, MutableTensor dst,
                            ChannelMoments& batch) {
  run_checked(src, &residual, dst, batch);
}

void TrainingBatchNorm::run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst,
                                    ChannelMoments& batch) {
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
  const bool has_residual = residual != nullptr;
  std::size_t tasks = forward_tasks(state, geometry, has_residual, 1);
  detail::MomentsPlan plan = detail::plan_moments(src, geometry, tasks, StatsPrecision::fast);
  // One sample only: with a group of samples per channel (32x512x7x7) the channel split ran
  // slower than the two passes on two threads (2.5 -> 3.5x eval). (Whether the blocks are
  // channels does not depend on the task count.)
  if (plan.per_channel_blocks() && plan.args.samples == 1) {
    run_by_channel(state, plan, tasks, geometry, src, residual, dst, batch);
    return;
  }
  if (const std::size_t two_phase_tasks = forward_tasks(state, geometry, has_residual, 2);
      two_phase_tasks != tasks) {
    tasks = two_phase_tasks;
    plan = detail::plan_moments(src, geometry, tasks, StatsPrecision::fast);
  }
  // Statistics first (dst may alias src); each range of channels is folded straight into the
  // copy of the tables the affine pass into dst reads, and its running statistics updated, as
  // soon as its moments are final: on the thread that computed them, when blocks are channel
  // ranges (NHWC 1x7x7x2048 on two threads: the fold and update of 2048 channels, 1.8 us, shared).
  struct Done {
    const kernels::MomentsKernelTable* table;
    kernels::FoldArgs fold;
    std::optional<kernels::RunningUpdateArgs> update;
    static void run(void* context, std::size_t c0, std::size_t c1) {
      const Done& done = *static_cast<const Done*>(context);
      fold_channels(*done.table, done.fold, c0, c1);
      if (done.update) update_channels(*done.table, *done.update, c0, c1);
    }
  };
  const std::optional<kernels::RunningUpdateArgs> update = start_batch(state, geometry, batch);
  const auto [scale, shift] = state.tables.write_for_destination(dst.data);
  Done done{&kernels::moments_kernels(state.isa), fold_args(state, batch, scale, shift), update};
  const detail::MomentsPass statistics(plan, geometry, state.scratch, batch, {&Done::run, &done});
  const detail::AffinePass normalization =
      detail::prepare_affine(state.config, state.tables, geometry, src, residual, dst, tasks);
  // Both passes in one fork-join instead of one each (two threads, `bnrt bench train`: NHWC
  // 1x28x28x512 42.4-43.3 -> 36.3-37.8 us, 4x28x28x256 84-85 -> 75-77).
  detail::parallel_two_phases(
      statistics.chunks(), [&](std::size_t k) { statistics.reduce_chunk(k); },
      [&](std::size_t) {
        statistics.finish();
        state.tables.complete_copy();
      },
      normalization.chunks, [&](std::size_t k) { normalization.run_chunk(k); });
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
