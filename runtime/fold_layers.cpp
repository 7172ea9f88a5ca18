// Folding batch norm into neighbouring layers' weights (see include/bnrt/fold.hpp).
//
// Every supported weight is walked as [A, B, K]: A x B runs of K contiguous kernel taps that
// share one (output channel, input channel) pair:
//   conv           [OC, IC/g, k...]: A = OC, B = IC/g; out = a, in = (a / (OC/g)) * (IC/g) + b
//   conv_transpose [IC, OC/g, k...]: A = IC, B = OC/g; in = a, out = (a / (IC/g)) * (OC/g) + b
//   linear         [out, in]:        A = out, B = in, K = 1
//   linear_in_out  [in, out]:        A = in, B = out, K = 1
// A fold after the layer scales every run by scale[out]; a fold before it by scale[in], and
// adds sum(run) * shift[in] to bias[out]. Everything is computed in double and rounded once.
// A first pass computes and checks every folded value without writing, so a refused fold (a
// value overflowing its type) leaves the outputs untouched and outputs may alias inputs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "bnrt/fold.hpp"
#include "errors.hpp"
#include "kernels/fold_row_kernels.hpp"
#include "weight_format.hpp"

namespace bnrt {
namespace {

using detail::fail;

/// The [A, B, K] view of a weight and where its runs' channels are.
struct WeightWalk {
  std::int64_t a = 0, b = 0, k = 1;
  std::int64_t in_channels = 0, out_channels = 0;
  LayerKind kind = LayerKind::conv;
  std::int64_t groups = 1;

  std::int64_t out_of(std::int64_t ai, std::int64_t bi) const {
    switch (kind) {
      case LayerKind::conv:
        return ai;
      case LayerKind::conv_transpose:
        return ai / (a / groups) * b + bi;
      case LayerKind::linear:
        return ai;
      case LayerKind::linear_in_out:
        return bi;
    }
    return 0;
  }
  std::int64_t in_of(std::int64_t ai, std::int64_t bi) const {
    switch (kind) {
      case LayerKind::conv:
        return ai / (a / groups) * b + bi;
      case LayerKind::conv_transpose:
        return ai;
      case LayerKind::linear:
        return bi;
      case LayerKind::linear_in_out:
        return ai;
    }
    return 0;
  }
};

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::string_view kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv:
      return "conv";
    case LayerKind::conv_transpose:
      return "conv_transpose";
    case LayerKind::linear:
      return "linear";
    case LayerKind::linear_in_out:
      return "linear_in_out";
  }
  return "?";
}

std::int64_t element_count(std::string_view op, std::string_view name,
                           const std::vector<std::int64_t>& dims) {
  std::int64_t count = 1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] <= 0) {
      fail(ErrorCode::invalid_argument, op,
           std::string(name) + ".dims[" + std::to_string(i) + "] = " + std::to_string(dims[i]) +
               " must be positive " + dims_text(dims));
    }
    if (__builtin_mul_overflow(count, dims[i], &count)) {
      fail(ErrorCode::overflow, op, std::string(name) + " " + dims_text(dims) + " is too large");
    }
  }
  return count;
}

WeightWalk describe(std::string_view op, const Layer& layer, const ConstWeights& weight) {
  WeightWalk walk;
  walk.kind = layer.kind;
  walk.groups = layer.groups;
  const auto& d = weight.dims;
  const bool is_conv = layer.kind == LayerKind::conv || layer.kind == LayerKind::conv_transpose;
  if (is_conv && (d.size() < 3 || d.size() > 5)) {
    fail(ErrorCode::shape_mismatch, op,
         std::string(kind_name(layer.kind)) + " weight " + dims_text(d) +
             " needs 3 to 5 dims (1 to 3 spatial)");
  }
  if (!is_conv && d.size() != 2) {
    fail(ErrorCode::shape_mismatch, op,
         std::string(kind_name(layer.kind)) + " weight " + dims_text(d) + " needs 2 dims");
  }
  element_count(op, "weight", d);
  if (layer.groups < 1 || (!is_conv && layer.groups != 1)) {
    fail(ErrorCode::invalid_argument, op,
         "groups = " + std::to_string(layer.groups) + " is invalid for a " +
             std::string(kind_name(layer.kind)));
  }
  walk.a = d[0];
  walk.b = d[1];
  for (std::size_t i = 2; i < d.size(); ++i) walk.k *= d[i];
  if (is_conv && walk.a % layer.groups != 0) {
    fail(ErrorCode::shape_mismatch, op,
         std::string(kind_name(layer.kind)) + " weight " + dims_text(d) +
             ": dims[0] = " + std::to_string(walk.a) +
             " is not a multiple of groups = " + std::to_string(layer.groups));
  }
  switch (layer.kind) {
    case LayerKind::conv:
      walk.out_channels = walk.a;
      walk.in_channels = walk.b * layer.groups;
      break;
    case LayerKind::conv_transpose:
      walk.in_channels = walk.a;
      walk.out_channels = walk.b * layer.groups;
      break;
    case LayerKind::linear:
      walk.out_channels = walk.a;
      walk.in_channels = walk.b;
      break;
    case LayerKind::linear_in_out:
      walk.in_channels = walk.a;
      walk.out_channels = walk.b;
      break;
  }
  return walk;
}

void check_data(std::string_view op, std::string_view name, const void* data) {
  if (data == nullptr) fail(ErrorCode::null_pointer, op, std::string(name) + ".data is null");
}

void check_dims(std::string_view op, std::string_view name, const std::vector<std::int64_t>& got,
                const std::vector<std::int64_t>& want) {
  if (got != want) {
    fail(ErrorCode::shape_mismatch, op,
         std::string(name) + " is " + dims_text(got) + " but must be " + dims_text(want));
  }
}

[[noreturn]] void report_non_finite(std::string_view op, const ConstWeights& weight,
                                    std::size_t first, std::size_t count) {
  for (std::size_t i = first; i < first + count; ++i) {
    const double w = detail::load_weight(weight.data, weight.type, i);
    if (!std::isfinite(w)) {
      fail(ErrorCode::invalid_argument, op,
           "weight element " + std::to_string(i) + " = " + detail::format_value(w) +
               " is not finite");
    }
  }
  fail(ErrorCode::invalid_argument, op, "weights are not finite");
}

enum class Side { after, before };

/// The batch-norm channels of weight row `a`: the whole row's (`per_run` false), or
/// `first + r` for run r (`per_run` true; a fold after a conv_transpose or linear_in_out, or
/// before a conv or linear).
struct RowChannels {
  bool per_run = false;
  std::int64_t first = 0;
};

RowChannels row_channels(Side side, const WeightWalk& walk, std::int64_t a) {
  if (side == Side::after) {
    return {walk.kind == LayerKind::conv_transpose || walk.kind == LayerKind::linear_in_out,
            walk.out_of(a, 0)};
  }
  return {walk.kind == LayerKind::conv || walk.kind == LayerKind::linear, walk.in_of(a, 0)};
}

bool overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  const auto a_begin = reinterpret_cast<std::uintptr_t>(a);
  const auto b_begin = reinterpret_cast<std::uintptr_t>(b);
  return a_begin < b_begin + b_bytes && b_begin < a_begin + a_bytes;
}

FoldReport fold(Side side, const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                const ChannelAffine& bn, const MutableWeights& weight_out,
                const MutableWeights& bias_out) {
  const std::string_view op = side == Side::after ? "fold_bn_after" : "fold_bn_before";
  const WeightWalk walk = describe(op, layer, weight);
  const std::int64_t bn_channels = side == Side::after ? walk.out_channels : walk.in_channels;
  if (bn.scale.size() != static_cast<std::size_t>(bn_channels) ||
      bn.shift.size() != bn.scale.size()) {
    fail(ErrorCode::channel_mismatch, op,
         "batch norm has " + std::to_string(bn.scale.size()) + " channels but the " +
             std::string(kind_name(layer.kind)) + " weight " + dims_text(weight.dims) + " has " +
             std::to_string(bn_channels) + (side == Side::after ? " output" : " input") +
             " channels");
  }
  const std::vector<std::int64_t> bias_dims{walk.out_channels};
  check_dims(op, "weight_out", weight_out.dims, weight.dims);
  check_dims(op, "bias_out", bias_out.dims, bias_dims);
  check_data(op, "weight", weight.data);
  check_data(op, "weight_out", weight_out.data);
  check_data(op, "bias_out", bias_out.data);
  if (bias != nullptr) {
    check_dims(op, "bias", bias->dims, bias_dims);
    check_data(op, "bias", bias->data);
  }
  for (std::size_t c = 0; c < bn.scale.size(); ++c) {
    if (!std::isfinite(bn.scale[c]) || !std::isfinite(bn.shift[c])) {
      fail(ErrorCode::invalid_statistics, op,
           detail::indexed("scale/shift", c) + " = " + detail::format_value(bn.scale[c]) + "/" +
               detail::format_value(bn.shift[c]) + " is not finite");
    }
  }

  FoldReport report;
  report.type = weight_out.type;
  report.channels = bn.scale.size();
  report.rounding_bound = detail::format_limits(weight_out.type).unit_roundoff;
  for (std::size_t c = 0; c < bn.scale.size(); ++c) {
    const double magnitude = std::fabs(bn.scale[c]);
    if (magnitude > report.max_abs_scale) {
      report.max_abs_scale = magnitude;
      report.max_abs_scale_channel = c;
    }
    if (bn.scale[c] == 0) report.dead_channels.push_back(c);
    if (magnitude > FoldReport::kLargeScale) report.large_scale_channels.push_back(c);
  }
  if (side == Side::before && layer.kind == LayerKind::conv_transpose) {
    report.refusal =
        "a batch norm before a conv_transpose cannot be folded exactly: its shift reaches border "
        "outputs through fewer taps than interior ones";
    return report;
  }
  if (side == Side::before && layer.kind == LayerKind::conv) {
    for (std::int64_t pad : layer.pads) {
      if (pad != 0) {
        report.refusal =
            "a batch norm before a padded conv cannot be folded exactly: the padding zeros are "
            "not normalized, so border outputs would change (pads " +
            dims_text(layer.pads) + ")";
        return report;
      }
    }
  }

  const detail::FormatLimits& weight_limits = detail::format_limits(weight_out.type);
  const detail::FormatLimits& bias_limits = detail::format_limits(bias_out.type);
  auto bias_in = [&](std::int64_t o) {
    return bias != nullptr
               ? detail::load_weight(bias->data, bias->type, static_cast<std::size_t>(o))
               : 0.0;
  };

  // Pass 1: every folded value computed and checked, nothing written. Biases folded before
  // the layer accumulate sum(w * shift) here, from the original weights.
  std::vector<double> folded_bias(static_cast<std::size_t>(walk.out_channels));
  for (std::int64_t o = 0; o < walk.out_channels; ++o) {
    const double b = bias_in(o);
    folded_bias[static_cast<std::size_t>(o)] =
        side == Side::after
            ? b * bn.scale[static_cast<std::size_t>(o)] + bn.shift[static_cast<std::size_t>(o)]
            : b;
  }
  std::vector<char> channel_overflow(bn.scale.size(), 0), channel_subnormal(bn.scale.size(), 0);
  // |w * scale| grows with |w|: a channel's extreme folded values decide overflow and
  // subnormals, so the checks need only each row's (or run's) extremes.
  auto note_channel = [&](std::int64_t channel, double largest, double smallest) {
    report.max_abs_weight = std::max(report.max_abs_weight, largest);
    if (largest >= weight_limits.overflow_threshold) {
      channel_overflow[static_cast<std::size_t>(channel)] = 1;
    }
    // smallest is NaN or +inf for an all-zero row, 0 for a dead channel: neither is flagged.
    if (smallest > 0 && smallest < weight_limits.min_normal) {
      channel_subnormal[static_cast<std::size_t>(channel)] = 1;
    }
  };
  const kernels::FoldRowKernels& rows = kernels::fold_row_kernels(active_isa());
  const auto runs = static_cast<std::size_t>(walk.b), run = static_cast<std::size_t>(walk.k);
  const std::size_t row_length = runs * run;
  std::vector<float> row_buffer(weight.type == WeightType::f32 ? 0 : row_length);
  auto row_floats = [&](std::int64_t a, std::vector<float>& buffer) -> const float* {
    const std::size_t first = static_cast<std::size_t>(a) * row_length;
    if (buffer.empty()) return static_cast<const float*>(weight.data) + first;
    detail::load_floats(weight.data, weight.type, first, row_length, buffer.data());
    return buffer.data();
  };
  for (std::int64_t a = 0; a < walk.a; ++a) {
    const float* w = row_floats(a, row_buffer);
    const RowChannels channels = row_channels(side, walk, a);
    const std::size_t first = static_cast<std::size_t>(a) * row_length;
    if (!channels.per_run) {
      const kernels::RowExtremes row = rows.extremes(w, row_length);
      if (!row.finite) report_non_finite(op, weight, first, row_length);
      const double scale = std::fabs(bn.scale[static_cast<std::size_t>(channels.first)]);
      note_channel(channels.first, row.max_abs * scale, row.min_nonzero_abs * scale);
      if (side == Side::before) {  // linear_in_out (K = 1): element r of the row feeds output r
        const double shift = bn.shift[static_cast<std::size_t>(channels.first)];
        for (std::size_t r = 0; r < runs; ++r) folded_bias[r] += static_cast<double>(w[r]) * shift;
      }
      continue;
    }
    const double* scale = bn.scale.data() + channels.first;
    const kernels::RowExtremes row = rows.scaled_extremes(w, runs, run, scale);
    if (!row.finite) report_non_finite(op, weight, first, row_length);
    report.max_abs_weight = std::max(report.max_abs_weight, row.max_abs);
    if (row.max_abs >= weight_limits.overflow_threshold ||
        row.min_nonzero_abs < weight_limits.min_normal) {
      // Rare: find which channels of the row are at fault.
      for (std::size_t r = 0; r < runs; ++r) {
        const kernels::RowExtremes one = rows.extremes(w + r * run, run);
        note_channel(channels.first + static_cast<std::int64_t>(r),
                     one.max_abs * std::fabs(scale[r]), one.min_nonzero_abs * std::fabs(scale[r]));
      }
    }
    if (side == Side::before) {  // conv, linear: the row is output a
      folded_bias[static_cast<std::size_t>(a)] +=
          rows.shifted_sum(w, runs, run, bn.shift.data() + channels.first);
    }
  }
  std::string bias_overflow;
  for (std::int64_t o = 0; o < walk.out_channels; ++o) {
    const double exact = folded_bias[static_cast<std::size_t>(o)];
    const double rounded = detail::round_to_format(exact, bias_out.type);
    report.max_abs_bias = std::max(report.max_abs_bias, std::fabs(exact));
    const bool overflow = std::isinf(rounded) && std::isfinite(exact);
    const bool subnormal = exact != 0 && std::fabs(rounded) < bias_limits.min_normal;
    if (side == Side::after) {
      if (overflow) channel_overflow[static_cast<std::size_t>(o)] = 1;
      if (subnormal) channel_subnormal[static_cast<std::size_t>(o)] = 1;
    } else if (overflow && bias_overflow.empty()) {
      bias_overflow = "bias[" + std::to_string(o) + "] = " + detail::format_value(exact);
    }
  }
  for (std::size_t c = 0; c < bn.scale.size(); ++c) {
    if (channel_overflow[c]) report.overflow_channels.push_back(c);
    if (channel_subnormal[c]) report.subnormal_channels.push_back(c);
  }
  if (!report.overflow_channels.empty() || !bias_overflow.empty()) {
    char text[256];
    std::snprintf(
        text, sizeof text, "folding would overflow %s (largest %g): %s",
        std::string(weight_type_name(weight_out.type)).c_str(), weight_limits.max_finite,
        bias_overflow.empty()
            ? ("channel " + std::to_string(report.overflow_channels.front()) + " (scale " +
               detail::format_value(bn.scale[report.overflow_channels.front()]) + ")")
                  .c_str()
            : bias_overflow.c_str());
    report.refusal = text;
    return report;
  }

  // Pass 2: write. A row is read (into the buffer if the output overlaps the input) before
  // it is written, so outputs may alias inputs.
  const std::size_t in_bytes =
      static_cast<std::size_t>(walk.a) * row_length * weight_type_size(weight.type);
  const std::size_t out_bytes =
      static_cast<std::size_t>(walk.a) * row_length * weight_type_size(weight_out.type);
  if (overlaps(weight.data, in_bytes, weight_out.data, out_bytes)) row_buffer.resize(row_length);
  for (std::int64_t a = 0; a < walk.a; ++a) {
    const float* w = row_floats(a, row_buffer);
    const RowChannels channels = row_channels(side, walk, a);
    const std::size_t first = static_cast<std::size_t>(a) * row_length;
    char* out = static_cast<char*>(weight_out.data) + first * weight_type_size(weight_out.type);
    const auto type = static_cast<std::size_t>(weight_out.type);
    if (channels.per_run) {
      rows.write_scaled_runs[type](w, runs, run, bn.scale.data() + channels.first, out);
    } else {
      rows.write_scaled[type](w, row_length, bn.scale[static_cast<std::size_t>(channels.first)],
                              out);
    }
  }
  for (std::int64_t o = 0; o < walk.out_channels; ++o) {
    detail::store_weight(
        bias_out.data, bias_out.type, static_cast<std::size_t>(o),
        detail::round_to_format(folded_bias[static_cast<std::size_t>(o)], bias_out.type));
  }
  report.folded = true;
  return report;
}

}  // namespace

std::string_view weight_type_name(WeightType type) noexcept {
  switch (type) {
    case WeightType::f32:
      return "f32";
    case WeightType::f16:
      return "f16";
    case WeightType::bf16:
      return "bf16";
  }
  return "?";
}

std::size_t weight_type_size(WeightType type) noexcept { return type == WeightType::f32 ? 4 : 2; }

FoldReport fold_bn_after(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                         const ChannelAffine& bn, const MutableWeights& weight_out,
                         const MutableWeights& bias_out) {
  return fold(Side::after, layer, weight, bias, bn, weight_out, bias_out);
}

FoldReport fold_bn_before(const Layer& layer, const ConstWeights& weight, const ConstWeights* bias,
                          const ChannelAffine& bn, const MutableWeights& weight_out,
                          const MutableWeights& bias_out) {
  return fold(Side::before, layer, weight, bias, bn, weight_out, bias_out);
}

ChannelAffine compose(const ChannelAffine& first, const ChannelAffine& second) {
  if (first.scale.size() != second.scale.size() || first.shift.size() != first.scale.size() ||
      second.shift.size() != second.scale.size()) {
    fail(ErrorCode::channel_mismatch, "compose",
         "first has " + std::to_string(first.scale.size()) + " channels, second " +
             std::to_string(second.scale.size()));
  }
  ChannelAffine result;
  result.scale.resize(first.scale.size());
  result.shift.resize(first.scale.size());
  for (std::size_t c = 0; c < first.scale.size(); ++c) {
    result.scale[c] = first.scale[c] * second.scale[c];
    result.shift[c] = first.shift[c] * second.scale[c] + second.shift[c];
  }
  return result;
}

std::string FoldReport::summary() const {
  char line[160];
  std::string text;
  if (!folded) {
    text = "refused: " + (refusal.empty() ? std::string("not folded") : refusal);
  } else {
    std::snprintf(line, sizeof line, "folded %zu channels into %s weights", channels,
                  std::string(weight_type_name(type)).c_str());
    text = line;
  }
  std::snprintf(line, sizeof line, "; largest |scale| %.4g (channel %zu)", max_abs_scale,
                max_abs_scale_channel);
  text += line;
  auto list = [&](const char* what, const std::vector<std::size_t>& channels_list) {
    if (channels_list.empty()) return;
    text += "; " + std::to_string(channels_list.size()) + " " + what + " (";
    for (std::size_t i = 0; i < channels_list.size() && i < 8; ++i) {
      text += (i ? ", " : "") + std::to_string(channels_list[i]);
    }
    text += channels_list.size() > 8 ? ", ...)" : ")";
  };
  list("dead channels: gamma = 0, constant output", dead_channels);
  list("channels with |scale| > 1000", large_scale_channels);
  list("channels overflowing the weight type", overflow_channels);
  list("channels with subnormal folded values", subnormal_channels);
  if (folded) {
    std::snprintf(line, sizeof line,
                  "; max |weight| %.4g, max |bias| %.4g; relative rounding <= %.3g", max_abs_weight,
                  max_abs_bias, rounding_bound);
    text += line;
  }
  return text;
}

}  // namespace bnrt
