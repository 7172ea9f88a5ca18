// ConvBnAct::create: validate the description, fold the batch norm into the weights with the
// fold library (double arithmetic, one rounding), choose the algorithm and pack the weights
// for its kernel. Running lives in conv_run.cpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "affine_run.hpp"
#include "bnrt/conv_bn_act.hpp"
#include "bnrt/fold.hpp"
#include "conv_state.hpp"
#include "errors.hpp"
#include "kernels/affine_kernels.hpp"

namespace bnrt {
namespace {

constexpr std::string_view kOp = "conv_bn_act";

void require_positive(std::string_view name, std::int64_t value) {
  if (value <= 0) {
    detail::fail(ErrorCode::invalid_argument, kOp,
                 std::string(name) + " = " + std::to_string(value) + " must be positive");
  }
}

void require_non_negative(std::string_view name, std::int64_t value) {
  if (value < 0) {
    detail::fail(ErrorCode::invalid_argument, kOp,
                 std::string(name) + " = " + std::to_string(value) + " is negative");
  }
}

/// Keeps every size product used later far from overflow: each dim below 2^24, and the
/// weight / image element counts below 2^40.
void require_reasonable(std::string_view name, std::int64_t value) {
  if (value >= (std::int64_t{1} << 24)) {
    detail::fail(ErrorCode::overflow, kOp,
                 std::string(name) + " = " + std::to_string(value) + " is too large");
  }
}

void validate_desc(const Conv2dDesc& d) {
  const std::pair<std::string_view, std::int64_t> positive[] = {{"in_channels", d.in_channels},
                                                                {"out_channels", d.out_channels},
                                                                {"input_h", d.input_h},
                                                                {"input_w", d.input_w},
                                                                {"kernel_h", d.kernel_h},
                                                                {"kernel_w", d.kernel_w},
                                                                {"stride_h", d.stride_h},
                                                                {"stride_w", d.stride_w},
                                                                {"dilation_h", d.dilation_h},
                                                                {"dilation_w", d.dilation_w},
                                                                {"groups", d.groups}};
  for (const auto& [name, value] : positive) {
    require_positive(name, value);
    require_reasonable(name, value);
  }
  const std::pair<std::string_view, std::int64_t> pads[] = {{"pad_top", d.pad_top},
                                                            {"pad_left", d.pad_left},
                                                            {"pad_bottom", d.pad_bottom},
                                                            {"pad_right", d.pad_right}};
  for (const auto& [name, value] : pads) {
    require_non_negative(name, value);
    require_reasonable(name, value);
  }
  if (d.in_channels % d.groups != 0 || d.out_channels % d.groups != 0) {
    detail::fail(ErrorCode::channel_mismatch, kOp,
                 "groups = " + std::to_string(d.groups) +
                     " does not divide in_channels = " + std::to_string(d.in_channels) +
                     " and out_channels = " + std::to_string(d.out_channels));
  }
  const std::int64_t span_h = d.dilation_h * (d.kernel_h - 1) + 1;
  const std::int64_t span_w = d.dilation_w * (d.kernel_w - 1) + 1;
  if (span_h > d.input_h + d.pad_top + d.pad_bottom ||
      span_w > d.input_w + d.pad_left + d.pad_right) {
    detail::fail(ErrorCode::shape_mismatch, kOp,
                 "kernel " + std::to_string(span_h) + "x" + std::to_string(span_w) +
                     " (with dilation) is larger than the padded input " +
                     std::to_string(d.input_h + d.pad_top + d.pad_bottom) + "x" +
                     std::to_string(d.input_w + d.pad_left + d.pad_right));
  }
  const double image = static_cast<double>(d.in_channels) * static_cast<double>(d.input_h) *
                       static_cast<double>(d.input_w);
  const double weights = static_cast<double>(d.out_channels) *
                         static_cast<double>(d.in_channels / d.groups) *
                         static_cast<double>(d.kernel_h) * static_cast<double>(d.kernel_w);
  if (image >= 0x1p40 || weights >= 0x1p40) {
    detail::fail(ErrorCode::overflow, kOp, "image or weight element count is too large");
  }
}

kernels::ConvEpilogue make_epilogue(const ConvBnActOptions& options) {
  kernels::ConvEpilogue e;
  const ConvActivation& a = options.activation;
  switch (a.kind) {
    case ConvActivation::Kind::clamp: {
      // Shares the batch-norm op's checks (NaN bound, lo > hi, negative max_threads).
      const auto config =
          detail::make_affine_run_config(kOp, a.bounds, options.max_threads, StorePolicy::cached);
      e.kind = kernels::ConvEpilogue::Kind::clamp;
      e.clamp = static_cast<int>(config.clamp);
      e.lo = a.bounds.lo;
      e.hi = a.bounds.hi;
      return e;
    }
    case ConvActivation::Kind::leaky_relu:
      if (!std::isfinite(a.negative_slope)) {
        detail::fail(ErrorCode::invalid_argument, kOp,
                     "leaky_relu negative_slope = " + detail::format_value(a.negative_slope) +
                         " is not finite");
      }
      e.kind = kernels::ConvEpilogue::Kind::leaky_relu;
      e.negative_slope = a.negative_slope;
      break;
    case ConvActivation::Kind::silu:
      e.kind = kernels::ConvEpilogue::Kind::silu;
      break;
    default:
      detail::fail(ErrorCode::invalid_argument, kOp, "unknown activation kind");
  }
  if (options.max_threads < 0) {
    detail::fail(
        ErrorCode::invalid_argument, kOp,
        "max_threads = " + std::to_string(options.max_threads) + " is negative (0 means no cap)");
  }
  return e;
}

/// Folds bn (if any) into copies of weight and bias with the fold library.
void fold_weights(detail::ConvBnActState& s, std::span<const float> weight,
                  std::span<const float> bias, const BatchNormParams* bn) {
  const Conv2dDesc& d = s.desc;
  const std::vector<std::int64_t> weight_dims = {d.out_channels, d.in_channels / d.groups,
                                                 d.kernel_h, d.kernel_w};
  s.folded_weight.assign(weight.begin(), weight.end());
  s.folded_bias.assign(static_cast<std::size_t>(d.out_channels), 0.0f);
  if (!bias.empty()) s.folded_bias.assign(bias.begin(), bias.end());
  if (bn == nullptr) return;

  const ChannelAffine affine = fold_batch_norm(*bn, kOp);
  if (affine.channels() != static_cast<std::size_t>(d.out_channels)) {
    detail::fail(ErrorCode::channel_mismatch, kOp,
                 "batch norm has " + std::to_string(affine.channels()) +
                     " channels but out_channels = " + std::to_string(d.out_channels));
  }
  const Layer layer{LayerKind::conv, d.groups, {}};
  const ConstWeights w_in{weight.data(), WeightType::f32, weight_dims};
  const ConstWeights b_in{bias.data(), WeightType::f32, {d.out_channels}};
  const MutableWeights w_out{s.folded_weight.data(), WeightType::f32, weight_dims};
  const MutableWeights b_out{s.folded_bias.data(), WeightType::f32, {d.out_channels}};
  const FoldReport report =
      fold_bn_after(layer, w_in, bias.empty() ? nullptr : &b_in, affine, w_out, b_out);
  if (!report.folded) detail::fail(ErrorCode::overflow, kOp, report.refusal);
}

void pack_gemm(detail::ConvBnActState& s) {
  const std::size_t lanes = s.kernels->lanes, widest = s.kernels->gemm_vectors;
  const std::size_t icg = s.in_per_group, ocg = s.out_per_group, taps = s.taps;
  // As few blocks as the widest tile allows, with the vectors shared out evenly (144 channels
  // on AVX-512: 3 x 48 rather than 64 + 64 + 16, whose narrow tile does 6 FMAs per 7 loads
  // and leaves two threads with unequal halves); only the last block has unused lanes.
  const std::size_t total_vectors = (ocg + lanes - 1) / lanes;
  const std::size_t block_count = (total_vectors + widest - 1) / widest;
  std::size_t weight_offset = 0, bias_offset = 0;
  std::size_t block = 0;
  for (std::size_t first = 0; first < ocg; ++block) {
    const std::size_t vectors =
        total_vectors / block_count + (block < total_vectors % block_count ? 1 : 0);
    const std::size_t cols = std::min(vectors * lanes, ocg - first);
    s.gemm_blocks.push_back({first, cols, vectors, weight_offset, bias_offset});
    weight_offset += taps * icg * vectors * lanes;
    bias_offset += vectors * lanes;
    first += cols;
  }
  s.group_weight_floats = weight_offset;
  s.group_bias_floats = bias_offset;
  // Block-major order keeps one block of weights in cache while the pixels stream past, but
  // splits the units between threads by block, unevenly when the blocks differ in width, and
  // writes each output pixel's channels in pieces, one block pass at a time. Tile-major order
  // splits the pixels evenly and writes each pixel whole; worth it while all of a group's
  // weights stay in L2 for every tile (1x1 24->144 NHWC on two threads: 282 -> 115 us, with
  // the store fast path).
  constexpr std::size_t kTileMajorMaxWeightBytes = 256 * 1024;
  s.gemm_tile_major =
      s.gemm_blocks.size() > 1 && weight_offset * sizeof(float) <= kTileMajorMaxWeightBytes;
  const std::size_t groups = static_cast<std::size_t>(s.desc.groups);
  s.packed_weights = detail::AlignedBuffer<float>(groups * weight_offset);
  s.packed_bias = detail::AlignedBuffer<float>(groups * bias_offset);
  for (std::size_t g = 0; g < groups; ++g) {
    for (const auto& block : s.gemm_blocks) {
      const std::size_t nr = block.vectors * lanes;
      float* packed = s.packed_weights.data() + g * s.group_weight_floats + block.weight_offset;
      float* bias = s.packed_bias.data() + g * s.group_bias_floats + block.bias_offset;
      for (std::size_t j = 0; j < block.cols; ++j) {
        const std::size_t oc = g * ocg + block.first_channel + j;
        bias[j] = s.folded_bias[oc];
        // Source [oc][ic][tap] -> packed [tap][ic][j].
        for (std::size_t ic = 0; ic < icg; ++ic) {
          for (std::size_t t = 0; t < taps; ++t) {
            packed[(t * icg + ic) * nr + j] = s.folded_weight[(oc * icg + ic) * taps + t];
          }
        }
      }
    }
  }
}

void pack_depthwise(detail::ConvBnActState& s) {
  const std::size_t channels = static_cast<std::size_t>(s.desc.out_channels);
  s.padded_channels = (channels + kernels::kMaxLanes - 1) / kernels::kMaxLanes * kernels::kMaxLanes;
  s.packed_weights = detail::AlignedBuffer<float>(s.taps * s.padded_channels);
  s.packed_bias = detail::AlignedBuffer<float>(s.padded_channels);
  for (std::size_t c = 0; c < channels; ++c) {
    s.packed_bias[c] = s.folded_bias[c];
    for (std::size_t t = 0; t < s.taps; ++t) {
      s.packed_weights[t * s.padded_channels + c] = s.folded_weight[c * s.taps + t];
    }
  }
}

/// The pixel stride of the channels-last scratch image NCHW input is transposed into: the
/// channel count, plus a cache line when that is a multiple of 512 floats (2 KiB). At such a
/// power-of-two stride the rows a GEMM tile reads all share the same few L1 sets and page
/// offsets, and 1x1 1024->256 on 14x14 ran 25% slower on two threads in some processes,
/// depending on where the heap put the scratch (502 or 630 us, reproducible by shifting it).
std::size_t scratch_pixel_stride(std::size_t channels) {
  constexpr std::size_t kLineFloats = kernels::kMaxLanes;
  return channels % 512 == 0 ? channels + kLineFloats : channels;
}

/// Small planes (ResNet-50's 14x14 and below) make few pixel tiles, one of them mostly
/// padding, each re-reading all the input channels per channel tile: measured slower there
/// (1024->256 on 14x14: 1.7x) than the transpose + channels-last kernel, which is used instead.
constexpr std::size_t kMinPlanarGemmTiles = 8;

/// 1x1 on channels-first tensors: per group, tiles of gemm_rows output channels packed
/// [k][row] (one contiguous run of weights per k; rows past the group's last channel repeat
/// it), bias [tile][row] likewise.
void pack_planar_gemm(detail::ConvBnActState& s) {
  const std::size_t mr = s.kernels->gemm_rows, k_count = s.in_per_group;
  const std::size_t tiles = (s.out_per_group + mr - 1) / mr;
  const std::size_t groups = static_cast<std::size_t>(s.desc.groups);
  s.planar_gemm = true;
  s.packed_weights = detail::AlignedBuffer<float>(groups * tiles * mr * k_count);
  s.packed_bias = detail::AlignedBuffer<float>(groups * tiles * mr);
  for (std::size_t g = 0; g < groups; ++g) {
    for (std::size_t t = 0; t < tiles; ++t) {
      const std::size_t tile = g * tiles + t;
      for (std::size_t m = 0; m < mr; ++m) {
        const std::size_t oc = g * s.out_per_group + std::min(t * mr + m, s.out_per_group - 1);
        s.packed_bias[tile * mr + m] = s.folded_bias[oc];
        for (std::size_t k = 0; k < k_count; ++k) {
          s.packed_weights[(tile * k_count + k) * mr + m] = s.folded_weight[oc * k_count + k];
        }
      }
    }
  }
}

/// Scratch plane geometry for depthwise on channels-first tensors: the padded input split
/// into stride_w phases; each phase row long enough for the widest tile at the last column plus
/// the furthest tap, and for every input column the copy writes.
void plan_planar_depthwise(detail::ConvBnActState& s) {
  const kernels::ConvGeometry& g = s.geometry;
  const std::size_t width = s.kernels->depthwise_plane_width;
  const std::size_t tiled_w = (s.out_w + width - 1) / width * width;
  const std::size_t reach = tiled_w + (g.kernel_w - 1) * g.dilation_w / g.stride_w;
  const std::size_t copied = (g.in_w + g.pad_left - 1) / g.stride_w + 1;
  s.planar_depthwise = true;
  s.plane_phase_cols = std::max(reach, copied);
  s.plane_rows = static_cast<std::size_t>(s.desc.input_h + s.desc.pad_top + s.desc.pad_bottom);
}

}  // namespace

std::string_view conv_activation_name(const ConvActivation& activation) noexcept {
  switch (activation.kind) {
    case ConvActivation::Kind::leaky_relu:
      return "leaky_relu";
    case ConvActivation::Kind::silu:
      return "silu";
    case ConvActivation::Kind::clamp:
      break;
  }
  const Activation& b = activation.bounds;
  if (b.is_identity()) return "identity";
  if (b.lo == 0.0f && b.hi == std::numeric_limits<float>::infinity()) return "relu";
  if (b.lo == 0.0f && b.hi == 6.0f) return "relu6";
  return "clamp";
}

std::string_view conv_algorithm_name(ConvAlgorithm algorithm) noexcept {
  return algorithm == ConvAlgorithm::depthwise ? "depthwise" : "gemm";
}

ConvBnAct ConvBnAct::create(const Conv2dDesc& desc, std::span<const float> weight,
                            std::span<const float> bias, const BatchNormParams* bn,
                            const ConvBnActOptions& options) {
  validate_desc(desc);
  if (options.layout != Layout::nhwc && options.layout != Layout::nchw) {
    detail::fail(ErrorCode::invalid_argument, kOp,
                 "layout " + std::string(layout_name(options.layout)) +
                     " is not supported (use nhwc or nchw)");
  }
  const std::size_t expected_weights = static_cast<std::size_t>(
      desc.out_channels * (desc.in_channels / desc.groups) * desc.kernel_h * desc.kernel_w);
  if (weight.size() != expected_weights) {
    detail::fail(ErrorCode::shape_mismatch, kOp,
                 "weight has " + std::to_string(weight.size()) + " elements but [" +
                     std::to_string(desc.out_channels) + ", " +
                     std::to_string(desc.in_channels / desc.groups) + ", " +
                     std::to_string(desc.kernel_h) + ", " + std::to_string(desc.kernel_w) +
                     "] needs " + std::to_string(expected_weights));
  }
  if (weight.data() == nullptr) detail::fail(ErrorCode::null_pointer, kOp, "weight data is null");
  if (!bias.empty() && bias.size() != static_cast<std::size_t>(desc.out_channels)) {
    detail::fail(ErrorCode::channel_mismatch, kOp,
                 "bias has " + std::to_string(bias.size()) +
                     " entries but out_channels = " + std::to_string(desc.out_channels));
  }

  auto state = std::make_shared<detail::ConvBnActState>();
  detail::ConvBnActState& s = *state;
  s.desc = desc;
  s.options = options;
  s.epilogue = make_epilogue(options);
  fold_weights(s, weight, bias, bn);

  s.isa = active_isa();
  s.kernels = &kernels::conv_kernels(s.isa);
  s.out_h = static_cast<std::size_t>(desc.output_h());
  s.out_w = static_cast<std::size_t>(desc.output_w());
  s.in_per_group = static_cast<std::size_t>(desc.in_channels / desc.groups);
  s.out_per_group = static_cast<std::size_t>(desc.out_channels / desc.groups);
  s.taps = static_cast<std::size_t>(desc.kernel_h * desc.kernel_w);
  s.geometry = {
      static_cast<std::size_t>(desc.input_h),     static_cast<std::size_t>(desc.input_w),
      static_cast<std::size_t>(desc.in_channels), static_cast<std::size_t>(desc.kernel_h),
      static_cast<std::size_t>(desc.kernel_w),    static_cast<std::size_t>(desc.stride_h),
      static_cast<std::size_t>(desc.stride_w),    static_cast<std::size_t>(desc.pad_top),
      static_cast<std::size_t>(desc.pad_left),    static_cast<std::size_t>(desc.dilation_h),
      static_cast<std::size_t>(desc.dilation_w),  s.out_w};
  s.macs_per_image = desc.out_channels * static_cast<std::int64_t>(s.out_h * s.out_w) *
                     static_cast<std::int64_t>(s.in_per_group * s.taps);

  const bool depthwise = s.in_per_group == 1 && s.out_per_group == 1;
  s.algorithm = depthwise ? ConvAlgorithm::depthwise : ConvAlgorithm::gemm;
  const bool pointwise = desc.kernel_h == 1 && desc.kernel_w == 1 && desc.stride_h == 1 &&
                         desc.stride_w == 1 && desc.pad_top == 0 && desc.pad_left == 0 &&
                         desc.pad_bottom == 0 && desc.pad_right == 0;
  if (depthwise && options.layout == Layout::nchw) {
    plan_planar_depthwise(s);
  } else if (pointwise && options.layout == Layout::nchw &&
             s.out_h * s.out_w >=
                 kMinPlanarGemmTiles * s.kernels->planar_gemm_vectors * s.kernels->lanes) {
    pack_planar_gemm(s);
  } else if (depthwise) {
    pack_depthwise(s);
  } else {
    // NCHW input on the GEMM is first transposed into a scratch image whose pixel stride is
    // ours to choose.
    if (options.layout == Layout::nchw) {
      s.geometry.in_pixel_stride = scratch_pixel_stride(s.geometry.in_pixel_stride);
    }
    pack_gemm(s);
    // Padding reads whole rows of zeros, plus a vector of slack for any over-read.
    s.zero_row = detail::AlignedBuffer<float>(s.in_per_group + kernels::kMaxLanes);
  }
  return ConvBnAct(std::move(state));
}

ConvBnAct::ConvBnAct(std::shared_ptr<const detail::ConvBnActState> state)
    : state_(std::move(state)), scratch_(std::make_unique<detail::ConvScratch>()) {
  if (state_->planar_depthwise) {
    // One plane per thread that may run; capped by max_threads when set.
    const int max_threads = state_->options.max_threads;
    const auto hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    scratch_->plane_slots =
        static_cast<std::size_t>(max_threads > 0 ? std::min(max_threads, hardware) : hardware);
    // Layers the kernel reads straight from the input never touch a padded plane.
    if (!state_->kernels->depthwise_plane_direct(state_->geometry)) {
      scratch_->padded_planes =
          detail::AlignedBuffer<float>(scratch_->plane_slots * state_->plane_floats());
    }
  } else if (state_->options.layout == Layout::nchw && !state_->planar_gemm) {
    const Conv2dDesc& d = state_->desc;
    scratch_->nhwc_image = detail::AlignedBuffer<float>(
        state_->geometry.in_pixel_stride * static_cast<std::size_t>(d.input_h * d.input_w));
  }
}

ConvBnAct::ConvBnAct(const ConvBnAct& other) : ConvBnAct(other.state_) {}
ConvBnAct& ConvBnAct::operator=(const ConvBnAct& other) {
  if (this != &other) *this = ConvBnAct(other);
  return *this;
}
ConvBnAct::ConvBnAct(ConvBnAct&&) noexcept = default;
ConvBnAct& ConvBnAct::operator=(ConvBnAct&&) noexcept = default;
ConvBnAct::~ConvBnAct() = default;

const Conv2dDesc& ConvBnAct::desc() const noexcept { return state_->desc; }
ConvAlgorithm ConvBnAct::algorithm() const noexcept { return state_->algorithm; }
Isa ConvBnAct::isa() const noexcept { return state_->isa; }
Layout ConvBnAct::layout() const noexcept { return state_->options.layout; }
std::span<const float> ConvBnAct::folded_weight() const noexcept { return state_->folded_weight; }
std::span<const float> ConvBnAct::folded_bias() const noexcept { return state_->folded_bias; }
std::int64_t ConvBnAct::macs_per_image() const noexcept { return state_->macs_per_image; }

}  // namespace bnrt
