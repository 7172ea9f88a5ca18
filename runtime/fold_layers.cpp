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

#include "bnrt/fold.hpp"
#include "errors.hpp"
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

/// What the check pass learns about one folded value.
struct ValueCheck {
  const detail::FormatLimits& limits;
  bool overflow = false;
  bool subnormal = false;
  double max_abs = 0;
  void see(double exact, double rounded) {
    const double magnitude = std::fabs(exact);
    if (magnitude > max_abs) max_abs = magnitude;
    if (std::isinf(rounded) && std::isfinite(exact)) overflow = true;
    if (exact != 0 && std::fabs(rounded) < limits.min_normal) subnormal = true;
  }
};

enum class Side { after, before };

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
  for (std::int64_t ai = 0; ai < walk.a; ++ai) {
    for (std::int64_t bi = 0; bi < walk.b; ++bi) {
      const std::int64_t out = walk.out_of(ai, bi);
      const std::size_t channel =
          static_cast<std::size_t>(side == Side::after ? out : walk.in_of(ai, bi));
      const double scale = bn.scale[channel];
      const std::size_t first = static_cast<std::size_t>((ai * walk.b + bi) * walk.k);
      ValueCheck check{weight_limits};
      double run_sum = 0;
      for (std::int64_t t = 0; t < walk.k; ++t) {
        const double w =
            detail::load_weight(weight.data, weight.type, first + static_cast<std::size_t>(t));
        if (!std::isfinite(w)) {
          fail(ErrorCode::invalid_argument, op,
               "weight element " + std::to_string(first + static_cast<std::size_t>(t)) + " = " +
                   detail::format_value(w) + " is not finite");
        }
        const double exact = w * scale;
        check.see(exact, detail::round_to_format(exact, weight_out.type));
        run_sum += w;
      }
      if (side == Side::before)
        folded_bias[static_cast<std::size_t>(out)] += run_sum * bn.shift[channel];
      report.max_abs_weight = std::max(report.max_abs_weight, check.max_abs);
      if (check.overflow) channel_overflow[channel] = 1;
      if (check.subnormal) channel_subnormal[channel] = 1;
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

  // Pass 2: write. Element-wise read-then-write, so outputs may alias inputs.
  for (std::int64_t ai = 0; ai < walk.a; ++ai) {
    for (std::int64_t bi = 0; bi < walk.b; ++bi) {
      const std::size_t channel =
          static_cast<std::size_t>(side == Side::after ? walk.out_of(ai, bi) : walk.in_of(ai, bi));
      const double scale = bn.scale[channel];
      const std::size_t first = static_cast<std::size_t>((ai * walk.b + bi) * walk.k);
      for (std::int64_t t = 0; t < walk.k; ++t) {
        const std::size_t i = first + static_cast<std::size_t>(t);
        const double w = detail::load_weight(weight.data, weight.type, i);
        detail::store_weight(weight_out.data, weight_out.type, i,
                             detail::round_to_format(w * scale, weight_out.type));
      }
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
