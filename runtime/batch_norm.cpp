// The eval-mode BatchNorm op: create validates, folds (double) and packs the tables; run checks
// shapes in O(rank) and goes through the shared affine run path.
#include "bnrt/batch_norm.hpp"

#include "affine_run.hpp"
#include "errors.hpp"
#include "fold.hpp"

namespace bnrt {
namespace detail {

struct BatchNormState {
  ChannelTables tables;
  AffineRunConfig config;
  Isa isa = Isa::scalar;
};

}  // namespace detail

namespace {
constexpr std::string_view kOp = "batch_norm";
}  // namespace

BatchNorm::BatchNorm(std::shared_ptr<const detail::BatchNormState> state) noexcept
    : state_(std::move(state)) {}

BatchNorm BatchNorm::create(const BatchNormParams& params, const BatchNormOptions& options) {
  // The shift from the float scale the tables hold (see ShiftFrom).
  return from_affine(detail::fold_params(params, kOp, detail::ShiftFrom::float_scale), options);
}

BatchNorm BatchNorm::from_affine(const ChannelAffine& affine, const BatchNormOptions& options) {
  const std::size_t channels = affine.scale.size();
  if (channels == 0) detail::fail(ErrorCode::channel_mismatch, kOp, "affine map has no channels");
  if (affine.shift.size() != channels) {
    detail::fail(ErrorCode::channel_mismatch, kOp,
                 "shift has " + std::to_string(affine.shift.size()) + " entries but scale has " +
                     std::to_string(channels));
  }
  auto state = std::make_shared<detail::BatchNormState>();
  state->config = detail::make_affine_run_config(kOp, options.activation, options.max_threads,
                                                 options.store_policy);
  // Scale first: its overflow is the one to report (the shift follows from it).
  const std::vector<float> scale = detail::to_floats(kOp, "scale", affine.scale);
  const std::vector<float> shift = detail::to_floats(kOp, "shift", affine.shift);
  state->tables = detail::ChannelTables(scale, shift);
  state->isa = active_isa();
  return BatchNorm(std::move(state));
}

std::size_t BatchNorm::channels() const noexcept { return state_->tables.channels(); }
std::span<const float> BatchNorm::scale() const noexcept { return state_->tables.scale(); }
std::span<const float> BatchNorm::shift() const noexcept { return state_->tables.shift(); }
const Activation& BatchNorm::activation() const noexcept { return state_->config.activation; }
Isa BatchNorm::isa() const noexcept { return state_->isa; }

void BatchNorm::run(ConstTensor src, MutableTensor dst) const { run_checked(src, nullptr, dst); }

void BatchNorm::run(ConstTensor src, ConstTensor residual, MutableTensor dst) const {
  run_checked(src, &residual, dst);
}

void BatchNorm::run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst) const {
  const detail::BatchNormState& state = *state_;
  const detail::TensorGeometry geometry =
      detail::check_run_tensors(kOp, state.tables.channels(), src, residual, dst);
  detail::run_affine(state.config, state.tables, geometry, src, residual, dst);
}

}  // namespace bnrt
