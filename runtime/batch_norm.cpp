// The BatchNorm op: create validates, folds and packs; run checks shapes in O(rank), picks the
// layout's kernel from the table chosen at create, and splits the work across threads.
#include "bnrt/batch_norm.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "cache_info.hpp"
#include "channel_tables.hpp"
#include "errors.hpp"
#include "kernels/affine_kernels.hpp"
#include "parallel.hpp"
#include "tensor_checks.hpp"

namespace bnrt {
namespace detail {

struct BatchNormState {
  ChannelTables tables;
  Activation activation;
  kernels::ClampKind clamp = kernels::ClampKind::none;
  int max_threads = 0;
  StorePolicy store_policy = StorePolicy::automatic;
  Isa isa = Isa::scalar;
  const kernels::AffineKernelTable* kernels = nullptr;
};

}  // namespace detail

namespace {

using detail::fail;
using detail::format_value;

constexpr std::string_view kOp = "batch_norm";

/// Below this many bytes (read + written) per task, splitting costs more than it saves: waking
/// a TBB worker costs a few microseconds. Measured on the dev machine (NCHW, 2 threads against
/// 1): 196 KiB of traffic runs 0.97x, 392 KiB 1.2x, 784 KiB 1.5x; so two tasks from 384 KiB.
constexpr std::size_t kMinBytesPerTask = 192 * 1024;

/// Outputs at least this large are written with non-temporal stores (StorePolicy::automatic,
/// not in place): they skip the read-for-ownership of each destination line, cutting DRAM
/// traffic from 3 to 2 bytes per byte written, but leave the output out of the cache. Worth it
/// once input and output no longer stay in the shared last-level cache: on one thread from a
/// quarter of it, on two or more from half, as several cores pull from L3 faster than DRAM
/// absorbs streamed writes. Measured on the dev machine (32 MiB L3), % of memcpy, cached vs
/// streamed: 12.8 MB NCHW 1 thread 104 vs 141, 2 threads 105 vs 79; 6.4 MB 2 threads 99 vs 33;
/// 19-26 MB 2 threads 96-114 vs 112-126.
std::size_t streaming_min_bytes(std::size_t threads) {
  constexpr std::size_t kFloor = std::size_t{4} << 20;
  const std::size_t share = detail::last_level_cache_bytes() / (threads > 1 ? 2 : 4);
  return share > kFloor ? share : kFloor;
}

/// Chunk boundaries fall on destination cache lines so two threads never share one.
constexpr std::size_t kFloatsPerCacheLine = detail::kCacheLineBytes / sizeof(float);

void check_activation(const Activation& activation) {
  if (std::isnan(activation.lo) || std::isnan(activation.hi)) {
    fail(ErrorCode::invalid_argument, kOp,
         "activation bounds [" + format_value(activation.lo) + ", " + format_value(activation.hi) +
             "] contain NaN");
  }
  if (activation.lo > activation.hi) {
    fail(ErrorCode::invalid_argument, kOp,
         "activation lo = " + format_value(activation.lo) +
             " is above hi = " + format_value(activation.hi));
  }
}

kernels::ClampKind clamp_kind(const Activation& activation) {
  if (activation.is_identity()) return kernels::ClampKind::none;
  if (activation.hi == std::numeric_limits<float>::infinity()) return kernels::ClampKind::lower;
  return kernels::ClampKind::both;
}

/// Rounds a folded value to float once, rejecting what float cannot hold.
float to_float(double value, std::string_view name, std::size_t channel) {
  const float rounded = static_cast<float>(value);
  if (!std::isfinite(rounded)) {
    fail(ErrorCode::overflow, kOp,
         detail::indexed(name, channel) + " = " + format_value(value) +
             " does not fit in float (check for a tiny var + eps with a large gamma)");
  }
  return rounded;
}

}  // namespace

BatchNorm::BatchNorm(std::shared_ptr<const detail::BatchNormState> state) noexcept
    : state_(std::move(state)) {}

BatchNorm BatchNorm::create(const BatchNormParams& params, const BatchNormOptions& options) {
  return from_affine(fold_batch_norm(params, kOp), options);
}

BatchNorm BatchNorm::from_affine(const ChannelAffine& affine, const BatchNormOptions& options) {
  const std::size_t channels = affine.scale.size();
  if (channels == 0) fail(ErrorCode::channel_mismatch, kOp, "affine map has no channels");
  if (affine.shift.size() != channels) {
    fail(ErrorCode::channel_mismatch, kOp,
         "shift has " + std::to_string(affine.shift.size()) + " entries but scale has " +
             std::to_string(channels));
  }
  check_activation(options.activation);
  if (options.max_threads < 0) {
    fail(ErrorCode::invalid_argument, kOp,
         "max_threads = " + std::to_string(options.max_threads) + " is negative (0 means no cap)");
  }

  std::vector<float> scale(channels);
  std::vector<float> shift(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    scale[c] = to_float(affine.scale[c], "scale", c);
    shift[c] = to_float(affine.shift[c], "shift", c);
  }
  auto state = std::make_shared<detail::BatchNormState>();
  state->tables = detail::ChannelTables(scale, shift);
  state->activation = options.activation;
  state->clamp = clamp_kind(options.activation);
  state->max_threads = options.max_threads;
  state->store_policy = options.store_policy;
  state->isa = active_isa();
  state->kernels = &kernels::affine_kernels(state->isa);
  return BatchNorm(std::move(state));
}

std::size_t BatchNorm::channels() const noexcept { return state_->tables.channels(); }
std::span<const float> BatchNorm::scale() const noexcept { return state_->tables.scale(); }
std::span<const float> BatchNorm::shift() const noexcept { return state_->tables.shift(); }
const Activation& BatchNorm::activation() const noexcept { return state_->activation; }
Isa BatchNorm::isa() const noexcept { return state_->isa; }

void BatchNorm::run(ConstTensor src, MutableTensor dst) const { run_checked(src, nullptr, dst); }

void BatchNorm::run(ConstTensor src, ConstTensor residual, MutableTensor dst) const {
  run_checked(src, &residual, dst);
}

void BatchNorm::run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst) const {
  const detail::BatchNormState& state = *state_;
  const detail::TensorGeometry geometry =
      detail::check_tensor(kOp, "src", src, state.tables.channels());
  detail::check_same_shape(kOp, "src", src, "dst", dst);
  detail::check_tensor(kOp, "dst", dst, state.tables.channels());
  if (residual != nullptr) {
    detail::check_same_shape(kOp, "src", src, "residual", *residual);
    detail::check_tensor(kOp, "residual", *residual, state.tables.channels());
  }
  const std::size_t bytes = geometry.elements * sizeof(float);
  detail::check_no_partial_overlap(kOp, "src", src.data, "dst", dst.data, bytes);
  if (residual != nullptr) {
    detail::check_no_partial_overlap(kOp, "residual", residual->data, "dst", dst.data, bytes);
  }
  if (geometry.elements == 0) return;

  kernels::AffineArgs args;
  args.src = src.data;
  args.residual = residual != nullptr ? residual->data : nullptr;
  args.dst = dst.data;
  std::tie(args.scale, args.shift) = state.tables.for_destination(dst.data);
  args.channels = state.tables.channels();
  args.period = state.tables.period();
  args.lo = state.activation.lo;
  args.hi = state.activation.hi;
  // Channels-first with one spatial position is the (N, C) row layout; with one channel it is
  // a single plane. Both run better as the other shape.
  const bool rows = geometry.channels_last || geometry.inner == 1;
  args.inner = state.tables.channels() == 1 ? geometry.elements : geometry.inner;
  const int has_residual = residual != nullptr ? 1 : 0;
  const int clamp = static_cast<int>(state.clamp);
  const kernels::AffineRangeFn kernel = rows ? state.kernels->channels_last[has_residual][clamp]
                                             : state.kernels->channels_first[has_residual][clamp];

  const std::size_t traffic = bytes * (residual != nullptr ? 3 : 2);
  const std::size_t by_size = traffic / kMinBytesPerTask;
  // Asking TBB for the arena's concurrency costs more than a tiny tensor's whole run.
  const std::size_t threads =
      by_size < 2 ? 1 : static_cast<std::size_t>(detail::usable_threads(state.max_threads));
  const std::size_t chunks = by_size < threads ? by_size : threads;
  const bool in_place = dst.data == src.data || (residual != nullptr && dst.data == residual->data);
  switch (state.store_policy) {
    case StorePolicy::automatic:
      args.stream = !in_place && bytes >= streaming_min_bytes(chunks);
      break;
    case StorePolicy::cached:
      args.stream = false;
      break;
    case StorePolicy::streaming:
      args.stream = true;
      break;
  }
  const std::size_t phase =
      (reinterpret_cast<std::uintptr_t>(dst.data) / sizeof(float)) % kFloatsPerCacheLine;
  detail::parallel_ranges(geometry.elements, chunks, kFloatsPerCacheLine, phase,
                          [&](std::size_t begin, std::size_t end) { kernel(args, begin, end); });
}

}  // namespace bnrt
