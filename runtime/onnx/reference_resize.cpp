// Resize / Upsample in float64, from the ONNX operator definition (see reference_resize.hpp).
// Every mode is separable, so the tensor is resized one axis at a time: each output position of
// an axis maps to a point of the input axis, which gives the positions (taps) and weights that
// make it.
#include "reference_resize.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

#include "graph_index.hpp"
#include "reference_eval.hpp"

namespace bnrt::onnx::detail {
namespace {

enum class Mode { nearest, linear, cubic };
enum class Coordinates {
  half_pixel,
  half_pixel_symmetric,
  pytorch_half_pixel,
  align_corners,
  asymmetric,
  tf_half_pixel_for_nn,
  tf_crop_and_resize
};
enum class Rounding { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct ResizeSpec {
  Mode mode = Mode::nearest;
  Coordinates coordinates = Coordinates::half_pixel;
  Rounding rounding = Rounding::round_prefer_floor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  std::vector<std::int64_t> output;  ///< per dim
  std::vector<double> scales;        ///< per dim: the scale the coordinates are mapped with
  // tf_crop_and_resize: the crop per dim, as fractions of (length - 1), and the value of output
  // points that map outside the input.
  std::vector<double> roi_start, roi_end;
  double extrapolation = 0.0;
};

/// Output position `i` of axis `axis` (`in` values resized to `out`), in input coordinates.
double source_coordinate(const ResizeSpec& spec, std::size_t axis, std::int64_t i, std::int64_t in,
                         std::int64_t out) {
  const double x = static_cast<double>(i);
  const auto in_length = static_cast<double>(in);
  const auto out_length = static_cast<double>(out);
  const double scale = spec.scales[axis];
  switch (spec.coordinates) {
    case Coordinates::half_pixel:
      return (x + 0.5) / scale - 0.5;
    case Coordinates::half_pixel_symmetric: {
      const double adjustment = out_length / (scale * in_length);
      const double offset = in_length / 2 * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case Coordinates::pytorch_half_pixel:
      return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case Coordinates::align_corners:
      return out > 1 ? x * (in_length - 1) / (out_length - 1) : 0.0;
    case Coordinates::asymmetric:
      return x / scale;
    case Coordinates::tf_half_pixel_for_nn:
      return (x + 0.5) / scale;
    case Coordinates::tf_crop_and_resize: {
      const double start = spec.roi_start[axis], end = spec.roi_end[axis];
      return out > 1
                 ? start * (in_length - 1) + x * (end - start) * (in_length - 1) / (out_length - 1)
                 : 0.5 * (start + end) * (in_length - 1);
    }
  }
  return 0.0;
}

struct Tap {
  std::int64_t index;
  double weight;
};

/// Catmull-Rom-like cubic weights (coefficient a) of the four taps around a point a fraction
/// `t` in (0, 1] past the second one.
void cubic_weights(double a, double t, double (&w)[4]) {
  const double far_left = t + 1, near_right = 1 - t, far_right = 2 - t;
  w[0] = ((a * far_left - 5 * a) * far_left + 8 * a) * far_left - 4 * a;
  w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  w[2] = ((a + 2) * near_right - (a + 3)) * near_right * near_right + 1;
  w[3] = ((a * far_right - 5 * a) * far_right + 8 * a) * far_right - 4 * a;
}

/// The taps that make the value at input coordinate `x` of an axis of `length` values. As the
/// definition has it, the axis is extended by its edge values and a point on a whole position
/// counts as the right end of the interval before it (so its weight is 1).
std::vector<Tap> taps_at(const ResizeSpec& spec, double x, std::int64_t length) {
  const auto clamp = [length](std::int64_t i) {
    return std::clamp<std::int64_t>(i, 0, length - 1);
  };
  double left = std::floor(x);
  double t = x - left;  // in (0, 1]
  if (t == 0) {
    left -= 1;
    t = 1;
  }
  const auto l = static_cast<std::int64_t>(left);
  if (spec.mode == Mode::nearest) {
    bool right = true;  // a whole position: itself
    if (t < 1) {
      switch (spec.rounding) {
        case Rounding::round_prefer_floor:
          right = t > 0.5;
          break;
        case Rounding::round_prefer_ceil:
          right = t >= 0.5;
          break;
        case Rounding::floor:
          right = false;
          break;
        case Rounding::ceil:
          right = true;
          break;
      }
    }
    return {{clamp(right ? l + 1 : l), 1.0}};
  }
  if (spec.mode == Mode::linear) {
    if (t == 1) return {{clamp(l + 1), 1.0}};  // a whole position (every one of an unscaled axis)
    return {{clamp(l), 1 - t}, {clamp(l + 1), t}};
  }
  double w[4];
  cubic_weights(spec.cubic_a, t, w);
  std::vector<Tap> taps;
  double kept = 0;
  for (std::int64_t k = 0; k < 4; ++k) {
    const std::int64_t i = l - 1 + k;
    if (spec.exclude_outside && (i < 0 || i >= length)) continue;
    taps.push_back({clamp(i), w[k]});
    kept += w[k];
  }
  if (spec.exclude_outside && kept != 0) {  // (no tap inside: left, not divided by 0)
    for (Tap& tap : taps) tap.weight /= kept;
  }
  return taps;
}

/// `x` resized along `axis` to spec.output[axis] values.
Tensor64 resize_axis(const Tensor64& x, const ResizeSpec& spec, std::size_t axis) {
  const std::int64_t in = x.dims[axis], out = spec.output[axis];
  const std::int64_t outer = product(x.dims, 0, axis), inner = product(x.dims, axis + 1);
  Tensor64 y{x.dims, {}};
  y.dims[axis] = out;
  y.values.assign(static_cast<std::size_t>(checked_count(y.dims)), 0.0);
  for (std::int64_t j = 0; j < out; ++j) {
    const double source = source_coordinate(spec, axis, j, in, out);
    if (spec.coordinates == Coordinates::tf_crop_and_resize &&
        !(source >= 0 && source <= static_cast<double>(in - 1))) {
      // Outside the input along this axis: the extrapolation value, whatever the other axes
      // map to (their interpolation of a row of it gives it back, the weights summing to 1).
      for (std::int64_t o = 0; o < outer; ++o) {
        std::fill_n(y.values.data() + (o * out + j) * inner, inner, spec.extrapolation);
      }
      continue;
    }
    for (const Tap& tap : taps_at(spec, source, in)) {
      for (std::int64_t o = 0; o < outer; ++o) {
        const double* from = x.values.data() + (o * in + tap.index) * inner;
        double* to = y.values.data() + (o * out + j) * inner;
        for (std::int64_t k = 0; k < inner; ++k) to[k] += tap.weight * from[k];
      }
    }
  }
  return y;
}

/// The value a string attribute names among `choices`, or eval_error.
template <class Enum>
Enum choice_of(const pb::NodeProto& node, const char* attribute, const char* fallback,
               std::initializer_list<std::pair<const char*, Enum>> choices) {
  const std::string name = string_attribute(node, attribute, fallback);
  for (const auto& [text, value] : choices) {
    if (name == text) return value;
  }
  eval_error(node, std::string(attribute) + " '" + name + "' is not defined");
}

Mode mode_of(const pb::NodeProto& node) {
  if (node.op_type() == "Upsample") {  // no cubic
    return choice_of<Mode>(node, "mode", "nearest",
                           {{"nearest", Mode::nearest}, {"linear", Mode::linear}});
  }
  return choice_of<Mode>(
      node, "mode", "nearest",
      {{"nearest", Mode::nearest}, {"linear", Mode::linear}, {"cubic", Mode::cubic}});
}

Coordinates coordinates_of(const pb::NodeProto& node) {
  return choice_of<Coordinates>(node, "coordinate_transformation_mode", "half_pixel",
                                {{"half_pixel", Coordinates::half_pixel},
                                 {"half_pixel_symmetric", Coordinates::half_pixel_symmetric},
                                 {"pytorch_half_pixel", Coordinates::pytorch_half_pixel},
                                 {"align_corners", Coordinates::align_corners},
                                 {"asymmetric", Coordinates::asymmetric},
                                 {"tf_half_pixel_for_nn", Coordinates::tf_half_pixel_for_nn},
                                 {"tf_crop_and_resize", Coordinates::tf_crop_and_resize}});
}

Rounding rounding_of(const pb::NodeProto& node) {
  return choice_of<Rounding>(node, "nearest_mode", "round_prefer_floor",
                             {{"round_prefer_floor", Rounding::round_prefer_floor},
                              {"round_prefer_ceil", Rounding::round_prefer_ceil},
                              {"floor", Rounding::floor},
                              {"ceil", Rounding::ceil}});
}

/// An output length computed in double, checked before it becomes an integer (a scale of 1e300
/// or a size of 2^63 would not convert).
std::int64_t output_length(const pb::NodeProto& node, double length) {
  if (!(length >= 0) || length > static_cast<double>(kMaxEvaluatedElements)) {
    eval_error(node, "an output length of " + std::to_string(length) + " is not evaluated");
  }
  return static_cast<std::int64_t>(length);
}

/// A scales or sizes input that is given: present and not empty (opset 11 and 12 pass an empty
/// tensor for the one not used).
const Tensor64* given(const std::vector<const Tensor64*>& in, std::size_t i) {
  return i < in.size() && in[i] != nullptr && !in[i]->values.empty() ? in[i] : nullptr;
}

/// Output dims and coordinate scales of `x` from `scales` or `sizes` (one per listed axis).
void size_output(const pb::NodeProto& node, const Tensor64& x, const Tensor64* scales,
                 const Tensor64* sizes, const std::vector<std::int64_t>& axes, ResizeSpec& spec) {
  if ((scales == nullptr) == (sizes == nullptr)) {
    eval_error(node, "exactly one of scales and sizes must be given");
  }
  const Tensor64& given_values = scales != nullptr ? *scales : *sizes;
  if (given_values.values.size() != axes.size()) {
    eval_error(node, (scales != nullptr ? "scales" : "sizes") + std::string(" has ") +
                         std::to_string(given_values.values.size()) + " values for " +
                         std::to_string(axes.size()) + " axes");
  }
  spec.output = x.dims;
  spec.scales.assign(x.rank(), 1.0);
  if (scales != nullptr) {
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const auto d = static_cast<std::size_t>(axes[i]);
      const double scale = scales->values[i];
      if (!(scale > 0) || !std::isfinite(scale)) eval_error(node, "a scale is not positive");
      spec.scales[d] = scale;
      spec.output[d] = output_length(node, std::floor(static_cast<double>(x.dims[d]) * scale));
    }
    return;
  }
  const std::string policy = string_attribute(node, "keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller") {
    eval_error(node, "keep_aspect_ratio_policy '" + policy + "' is not defined");
  }
  double common = policy == "not_larger" ? INFINITY : 0.0;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto d = static_cast<std::size_t>(axes[i]);
    const double size = sizes->values[i];
    if (size < 0 || x.dims[d] == 0) eval_error(node, "a negative size or an empty input axis");
    const double scale = size / static_cast<double>(x.dims[d]);
    spec.scales[d] = scale;
    spec.output[d] = output_length(node, size);
    common = policy == "not_larger" ? std::min(common, scale) : std::max(common, scale);
  }
  if (policy == "stretch") return;
  // One scale for every listed axis, the output rounded from it.
  for (const std::int64_t axis : axes) {
    const auto d = static_cast<std::size_t>(axis);
    spec.scales[d] = common;
    spec.output[d] = output_length(node, std::round(common * static_cast<double>(x.dims[d])));
  }
}

/// tf_crop_and_resize's region from the roi input (starts, then ends, one per listed axis)
/// and its extrapolation value. Only with sizes: from scales the definition sizes the output by
/// the region (floor(length * (end - start) * scale)) where ONNX Runtime and onnx's reference
/// do not, so such a model is named rather than checked against one of them.
void crop_region(const pb::NodeProto& node, const std::vector<const Tensor64*>& in,
                 const std::vector<std::int64_t>& axes, ResizeSpec& spec) {
  if (given(in, 3) == nullptr) eval_error(node, "tf_crop_and_resize by scales is not evaluated");
  const Tensor64* roi = given(in, 1);
  if (roi == nullptr || roi->values.size() != 2 * axes.size()) {
    eval_error(node, "tf_crop_and_resize needs an roi of two values per axis");
  }
  spec.roi_start.assign(spec.output.size(), 0.0);
  spec.roi_end.assign(spec.output.size(), 1.0);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto d = static_cast<std::size_t>(axes[i]);
    spec.roi_start[d] = roi->values[i];
    spec.roi_end[d] = roi->values[axes.size() + i];
  }
  spec.extrapolation = float_attribute(node, "extrapolation_value", 0.0f);
}

}  // namespace

Tensor64 resize_node(const pb::NodeProto& node, const std::vector<const Tensor64*>& in,
                     std::int64_t opset) {
  if (in.empty() || in[0] == nullptr) eval_error(node, "missing input 0");
  const Tensor64& x = *in[0];
  ResizeSpec spec;
  spec.mode = mode_of(node);
  std::vector<std::int64_t> axes;
  for (std::size_t d = 0; d < x.rank(); ++d) axes.push_back(static_cast<std::int64_t>(d));
  if (node.op_type() == "Upsample" || opset < 11) {
    // Upsample and Resize-10: output floor(dim * scale), asymmetric coordinates, nearest
    // rounding down (as the opset 10 -> 11 converter spells them out).
    spec.coordinates = Coordinates::asymmetric;
    spec.rounding = Rounding::floor;
    Tensor64 attribute_scales;
    const Tensor64* scales = given(in, 1);
    if (node.op_type() == "Upsample" && opset < 9) {
      const pb::AttributeProto* listed = find_attribute(node, "scales");
      if (listed == nullptr) eval_error(node, "no scales");
      attribute_scales.dims = {listed->floats_size()};
      attribute_scales.values.assign(listed->floats().begin(), listed->floats().end());
      scales = &attribute_scales;
    }
    size_output(node, x, scales, nullptr, axes, spec);
  } else {
    spec.coordinates = coordinates_of(node);
    spec.rounding = rounding_of(node);
    spec.cubic_a = float_attribute(node, "cubic_coeff_a", -0.75f);
    spec.exclude_outside = int_attribute(node, "exclude_outside", 0) != 0;
    if (opset >= 18 && find_attribute(node, "axes") != nullptr) {
      axes = ints_attribute(node, "axes");
      std::vector<bool> seen(x.rank(), false);
      for (std::int64_t& axis : axes) {
        axis = normalize_axis(node, axis, x.rank());
        if (seen[static_cast<std::size_t>(axis)]) eval_error(node, "repeated axis");
        seen[static_cast<std::size_t>(axis)] = true;
      }
    }
    size_output(node, x, given(in, 2), given(in, 3), axes, spec);
    if (spec.coordinates == Coordinates::tf_crop_and_resize) crop_region(node, in, axes, spec);
    if (int_attribute(node, "antialias", 0) != 0 && spec.mode != Mode::nearest &&
        std::any_of(spec.scales.begin(), spec.scales.end(), [](double s) { return s < 1; })) {
      eval_error(node, "antialias when shrinking is not evaluated");
    }
  }
  Tensor64 y = x;
  for (std::size_t d = 0; d < x.rank(); ++d) y = resize_axis(y, spec, d);
  return y;
}

}  // namespace bnrt::onnx::detail
