// The float64 graph evaluator (see reference_eval.hpp). Values are loaded when first read
// and dropped after their last reader, so a large model is not held twice in doubles.
#include "reference_eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "bn_fold_pass.hpp"
#include "bnrt/error.hpp"
#include "graph_index.hpp"
#include "reference_pointwise.hpp"
#include "reference_resize.hpp"
#include "tensor_data.hpp"

namespace bnrt::onnx::detail {

namespace {

/// How evaluation errors name a node. The evaluator does not track node indices: an unnamed
/// node goes by its first output.
std::string eval_label(const pb::NodeProto& node) {
  return !node.name().empty() || node.output_size() == 0
             ? describe_node(node, -1)
             : "the " + node.op_type() + " node writing '" + node.output(0) + "'";
}

}  // namespace

void eval_error(const pb::NodeProto& node, const std::string& what) {
  throw Error(ErrorCode::shape_mismatch, "verify: " + eval_label(node) + ": " + what);
}

std::int64_t normalize_axis(const pb::NodeProto& node, std::int64_t axis, std::size_t rank) {
  if (axis < 0) axis += static_cast<std::int64_t>(rank);
  if (axis < 0 || axis >= static_cast<std::int64_t>(rank)) eval_error(node, "axis out of range");
  return axis;
}

namespace {

const std::set<std::string> kSupported = {"Conv",
                                          "ConvTranspose",
                                          "Gemm",
                                          "MatMul",
                                          "BatchNormalization",
                                          "Identity",
                                          "Dropout",
                                          "Flatten",
                                          "Reshape",
                                          "Concat",
                                          "GlobalAveragePool",
                                          "GlobalMaxPool",
                                          "MaxPool",
                                          "AveragePool",
                                          "Softmax",
                                          "Constant",
                                          "Pad",
                                          "Transpose",
                                          "Unsqueeze",
                                          "Squeeze",
                                          "ReduceMean",
                                          "ReduceSum",
                                          "ReduceMax",
                                          "ReduceMin",
                                          "Shape",
                                          "Gather",
                                          "Slice",
                                          "Cast",
                                          "Split",
                                          "Resize",
                                          "Upsample",
                                          "Expand",
                                          "ConstantOfShape"};

/// An integer held as a double (shapes, axes, indices), clamped to +-2^62 so that a Slice end
/// of INT64_MAX converts without overflow. NaN (a float tensor used as one) has no integer.
std::int64_t as_index(double value) {
  constexpr double kLimit = 4611686018427387904.0;  // 2^62
  if (std::isnan(value)) {
    throw Error(ErrorCode::shape_mismatch, "verify: a shape, axis or index value is NaN");
  }
  return static_cast<std::int64_t>(std::clamp(value, -kLimit, kLimit));
}

std::vector<std::int64_t> indices_of(const Tensor64& tensor) {
  std::vector<std::int64_t> out;
  for (const double v : tensor.values) out.push_back(as_index(v));
  return out;
}

/// Any tensor as float64: float types exactly, integer types (shapes, axes) as values.
Tensor64 to_tensor64(const pb::TensorProto& tensor) {
  Tensor64 out{dims_of(tensor), {}};
  const std::int64_t count = element_count(tensor);
  const auto type = tensor.data_type();
  if (type == pb::TensorProto::INT64 || type == pb::TensorProto::INT32) {
    out.values.resize(static_cast<std::size_t>(count));
    const std::size_t size = type == pb::TensorProto::INT64 ? 8 : 4;
    const bool raw = tensor.has_raw_data();
    if (raw && tensor.raw_data().size() != static_cast<std::size_t>(count) * size) {
      throw Error(ErrorCode::invalid_model, "tensor '" + tensor.name() + "': raw_data size");
    }
    if (!raw && (type == pb::TensorProto::INT64 ? tensor.int64_data_size()
                                                : tensor.int32_data_size()) != count) {
      throw Error(ErrorCode::invalid_model, "tensor '" + tensor.name() + "': data size");
    }
    for (std::int64_t i = 0; i < count; ++i) {
      std::int64_t value = 0;
      if (raw && size == 8) {
        std::memcpy(&value, tensor.raw_data().data() + i * 8, 8);
      } else if (raw) {
        std::int32_t narrow;
        std::memcpy(&narrow, tensor.raw_data().data() + i * 4, 4);
        value = narrow;
      } else {
        value = size == 8 ? tensor.int64_data(static_cast<int>(i))
                          : tensor.int32_data(static_cast<int>(i));
      }
      out.values[static_cast<std::size_t>(i)] = static_cast<double>(value);
    }
    return out;
  }
  out.values = read_values(tensor);
  return out;
}

/// Spatial geometry of Conv / ConvTranspose / pools from their attributes and the input.
struct Spatial {
  std::vector<std::int64_t> strides, dilations, begin, end, output;
};

/// With `ceil_mode` (pools) the output counts a last, partial window too, as long as it starts
/// inside the input or its leading padding (as PyTorch and ONNX Runtime count it).
Spatial spatial_geometry(const pb::NodeProto& node, const Tensor64& x,
                         const std::vector<std::int64_t>& kernel, bool transposed,
                         bool ceil_mode = false) {
  const std::size_t dims = kernel.size();
  Spatial s;
  s.strides = ints_attribute(node, "strides");
  s.dilations = ints_attribute(node, "dilations");
  if (s.strides.empty()) s.strides.assign(dims, 1);
  if (s.dilations.empty()) s.dilations.assign(dims, 1);
  std::vector<std::int64_t> pads = ints_attribute(node, "pads");
  if (pads.empty()) pads.assign(2 * dims, 0);
  if (s.strides.size() != dims || s.dilations.size() != dims || pads.size() != 2 * dims ||
      x.rank() != dims + 2) {
    eval_error(node, "attributes do not match the input's spatial rank");
  }
  for (std::size_t d = 0; d < dims; ++d) {
    if (s.strides[d] < 1 || s.dilations[d] < 1 || kernel[d] < 1) {
      eval_error(node, "strides, dilations and kernel dims must be positive");
    }
  }
  s.begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(dims));
  s.end.assign(pads.begin() + static_cast<std::ptrdiff_t>(dims), pads.end());
  const std::string auto_pad = string_attribute(node, "auto_pad", "NOTSET");
  std::vector<std::int64_t> output_padding = ints_attribute(node, "output_padding");
  if (output_padding.empty()) output_padding.assign(dims, 0);
  const std::vector<std::int64_t> output_shape = ints_attribute(node, "output_shape");
  s.output.resize(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    const std::int64_t in = x.dims[d + 2], span = (kernel[d] - 1) * s.dilations[d] + 1;
    if (!transposed) {
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        s.output[d] = (in + s.strides[d] - 1) / s.strides[d];
        const std::int64_t total =
            std::max<std::int64_t>(0, (s.output[d] - 1) * s.strides[d] + span - in);
        s.begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
        s.end[d] = total - s.begin[d];
        continue;
      }
      if (auto_pad == "VALID") s.begin[d] = s.end[d] = 0;
      const std::int64_t room = in + s.begin[d] + s.end[d] - span;
      s.output[d] = room / s.strides[d] + 1;
      if (ceil_mode && room >= 0 && room % s.strides[d] != 0 &&
          s.output[d] * s.strides[d] < in + s.begin[d]) {
        ++s.output[d];
      }
      continue;
    }
    // ConvTranspose: output_shape (or SAME) fixes the output and implies the pads.
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!output_shape.empty() || same) {
      s.output[d] =
          !output_shape.empty() ? output_shape[output_shape.size() - dims + d] : in * s.strides[d];
      const std::int64_t total = s.strides[d] * (in - 1) + output_padding[d] + span - s.output[d];
      s.begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      s.end[d] = total - s.begin[d];
      continue;
    }
    if (auto_pad == "VALID") s.begin[d] = s.end[d] = 0;
    s.output[d] = s.strides[d] * (in - 1) + output_padding[d] + span - s.begin[d] - s.end[d];
  }
  for (std::int64_t o : s.output) {
    if (o <= 0) eval_error(node, "empty output");
  }
  return s;
}

Tensor64 reshape(const pb::NodeProto& node, const Tensor64& x, const Tensor64& shape) {
  std::vector<std::int64_t> dims;
  std::int64_t known = 1, unknown = -1;
  const bool allow_zero = int_attribute(node, "allowzero", 0) != 0;
  for (std::size_t i = 0; i < shape.values.size(); ++i) {
    std::int64_t d = as_index(shape.values[i]);
    if (d == 0 && !allow_zero) {
      if (i >= x.rank()) eval_error(node, "Reshape copies a dim the input lacks");
      d = x.dims[i];
    }
    if (d < -1 || (d == -1 && unknown >= 0)) eval_error(node, "invalid Reshape target");
    if (d == -1) {
      unknown = static_cast<std::int64_t>(i);
      d = 1;
    } else if (__builtin_mul_overflow(known, d, &known)) {
      eval_error(node, "Reshape target has too many elements");
    }
    dims.push_back(d);
  }
  if (unknown >= 0) {
    if (known == 0) eval_error(node, "invalid Reshape target");
    dims[static_cast<std::size_t>(unknown)] = product(x.dims) / known;
  }
  if (product(dims) != product(x.dims)) eval_error(node, "Reshape changes the element count");
  return {dims, x.values};
}

/// Cast's target type: an int attribute, or up to opset 5 the type's name ("FLOAT", "INT64").
std::int64_t cast_target(const pb::NodeProto& node, std::int64_t opset) {
  if (opset >= 6) return int_attribute(node, "to", 0);
  const std::string name = string_attribute(node, "to", "");
  pb::TensorProto::DataType type = pb::TensorProto::UNDEFINED;
  if (!pb::TensorProto::DataType_Parse(name, &type)) {
    eval_error(node, "to = '" + name + "' names no tensor type");
  }
  return type;
}

/// Evaluates one node. `in[i]` is null for an absent optional input.
std::vector<Tensor64> evaluate(const pb::NodeProto& node, const std::vector<const Tensor64*>& in,
                               std::int64_t opset) {
  const std::string& op = node.op_type();
  auto input = [&](std::size_t i) -> const Tensor64& {
    if (i >= in.size() || in[i] == nullptr) eval_error(node, "missing input " + std::to_string(i));
    return *in[i];
  };
  auto has = [&](std::size_t i) { return i < in.size() && in[i] != nullptr; };
  auto unary = [&](auto fn) { return std::vector<Tensor64>{map(input(0), fn)}; };
  if (op == "Conv" || op == "ConvTranspose") {
    const Tensor64& w = input(1);
    if (w.rank() < 3 || input(0).rank() != w.rank()) eval_error(node, "input and weight ranks");
    const std::vector<std::int64_t> kernel(w.dims.begin() + 2, w.dims.end());
    const Spatial s = spatial_geometry(node, input(0), kernel, op == "ConvTranspose");
    ConvGeometry g{
        int_attribute(node, "group", 1), s.strides, s.dilations, s.begin, s.end, s.output};
    const std::vector<double> bias = has(2) ? input(2).values : std::vector<double>{};
    return {op == "Conv" ? conv(input(0), w, bias, g) : conv_transpose(input(0), w, bias, g)};
  }
  if (op == "Gemm") {
    return {gemm(input(0), input(1), has(2) ? &input(2) : nullptr,
                 float_attribute(node, "alpha", 1.0f), float_attribute(node, "beta", 1.0f),
                 int_attribute(node, "transA", 0) != 0, int_attribute(node, "transB", 0) != 0)};
  }
  if (op == "MatMul") return {matmul(input(0), input(1))};
  if (op == "BatchNormalization") {
    if (input(0).rank() < 2) eval_error(node, "input has no channel dim");
    return {batch_norm(input(0), input(1).values, input(2).values, input(3).values, input(4).values,
                       float_attribute(node, "epsilon", 1e-5f))};
  }
  if (pointwise_ops().count(op) != 0) return {pointwise_node(node, in, opset)};
  if (op == "Identity" || op == "Dropout") return {input(0)};
  if (op == "Flatten") {
    const Tensor64& x = input(0);
    std::int64_t axis = int_attribute(node, "axis", 1);
    if (axis < 0) axis += static_cast<std::int64_t>(x.rank());
    if (axis < 0 || axis > static_cast<std::int64_t>(x.rank()))
      eval_error(node, "axis out of range");
    const auto a = static_cast<std::size_t>(axis);
    return {Tensor64{{product(x.dims, 0, a), product(x.dims, a)}, x.values}};
  }
  if (op == "Reshape") {
    if (opset < 5) {  // Reshape-1: the target shape is an attribute
      const std::vector<std::int64_t> shape = ints_attribute(node, "shape");
      return {reshape(node, input(0),
                      Tensor64{{static_cast<std::int64_t>(shape.size())},
                               std::vector<double>(shape.begin(), shape.end())})};
    }
    return {reshape(node, input(0), input(1))};
  }
  if (op == "Concat") {
    std::vector<const Tensor64*> parts;
    for (std::size_t i = 0; i < in.size(); ++i) parts.push_back(&input(i));
    if (parts.empty()) eval_error(node, "no inputs");
    const std::int64_t axis = int_attribute(node, "axis", opset < 4 ? 1 : 0);  // Concat-1: 1
    return {concat(parts, normalize_axis(node, axis, input(0).rank()))};
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    return {global_pool(input(0), op == "GlobalMaxPool")};
  }
  if (op == "MaxPool" || op == "AveragePool") {
    PoolGeometry g;
    g.kernel = ints_attribute(node, "kernel_shape");
    const Spatial s =
        spatial_geometry(node, input(0), g.kernel, false, int_attribute(node, "ceil_mode", 0) != 0);
    g.strides = s.strides;
    g.dilations = s.dilations;
    g.pads_begin = s.begin;
    g.pads_end = s.end;
    g.output = s.output;
    g.count_include_pad = int_attribute(node, "count_include_pad", 0) != 0;
    return {op == "MaxPool" ? max_pool(input(0), g) : average_pool(input(0), g)};
  }
  if (op == "Softmax") {
    const bool legacy = opset < 13;
    const std::int64_t axis = int_attribute(node, "axis", legacy ? 1 : -1);
    return {softmax(input(0), normalize_axis(node, axis, input(0).rank()), legacy)};
  }
  if (op == "Constant") return {to_tensor64(find_attribute(node, "value")->t())};
  // The `axes` attribute (older opsets) or input 1, when either is given.
  auto listed_axes = [&]() -> std::optional<std::vector<std::int64_t>> {
    if (find_attribute(node, "axes") != nullptr) return ints_attribute(node, "axes");
    if (has(1)) return indices_of(input(1));
    return std::nullopt;
  };
  // Axes made non-negative for `rank`, sorted, each once.
  auto normalized = [&](std::vector<std::int64_t> axes, std::size_t rank) {
    for (std::int64_t& axis : axes) axis = normalize_axis(node, axis, rank);
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
      eval_error(node, "repeated axis");
    }
    return axes;
  };
  if (op == "Pad") {
    if (string_attribute(node, "mode", "constant") != "constant") {
      eval_error(node, "mode " + string_attribute(node, "mode", "") + " is not evaluated");
    }
    // Pad-1 names its pads `paddings`; the layout (all begins, then all ends) is the same.
    std::vector<std::int64_t> pads = ints_attribute(node, opset < 2 ? "paddings" : "pads");
    double value = float_attribute(node, "value", 0.0f);
    if (opset >= 11) {
      if (has(3)) eval_error(node, "axes are not evaluated");
      pads = indices_of(input(1));
      value = has(2) ? input(2).values.at(0) : 0.0;
    }
    const std::size_t rank = input(0).rank();
    if (pads.size() != 2 * rank) eval_error(node, "pads do not match the input's rank");
    return {pad_constant(input(0), {pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank)},
                         {pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.end()}, value)};
  }
  if (op == "Transpose") {
    std::vector<std::int64_t> perm = ints_attribute(node, "perm");
    if (perm.empty()) {
      for (std::size_t d = input(0).rank(); d-- > 0;) perm.push_back(static_cast<std::int64_t>(d));
    }
    return {transpose(input(0), perm)};
  }
  if (op == "Unsqueeze") {
    const Tensor64& x = input(0);
    const std::optional<std::vector<std::int64_t>> listed = listed_axes();
    if (!listed) eval_error(node, "no axes");
    std::vector<std::int64_t> dims = x.dims;
    for (const std::int64_t axis : normalized(*listed, x.rank() + listed->size())) {
      dims.insert(dims.begin() + axis, 1);
    }
    return {Tensor64{dims, x.values}};
  }
  if (op == "Squeeze") {
    const Tensor64& x = input(0);
    const std::optional<std::vector<std::int64_t>> listed = listed_axes();
    const std::vector<std::int64_t> axes =
        normalized(listed.value_or(std::vector<std::int64_t>{}), x.rank());
    std::vector<std::int64_t> dims;
    for (std::size_t d = 0; d < x.rank(); ++d) {
      const bool squeezed = listed ? std::binary_search(axes.begin(), axes.end(), std::int64_t(d))
                                   : x.dims[d] == 1;  // no axes: every 1
      if (squeezed && x.dims[d] != 1) eval_error(node, "squeezes a dim that is not 1");
      if (!squeezed) dims.push_back(x.dims[d]);
    }
    return {Tensor64{dims, x.values}};
  }
  if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin") {
    const Tensor64& x = input(0);
    std::vector<std::int64_t> axes =
        normalized(listed_axes().value_or(std::vector<std::int64_t>{}), x.rank());
    if (axes.empty()) {
      if (int_attribute(node, "noop_with_empty_axes", 0) != 0) return {x};
      for (std::size_t d = 0; d < x.rank(); ++d) axes.push_back(static_cast<std::int64_t>(d));
    }
    const bool keep = int_attribute(node, "keepdims", 1) != 0;
    if (op == "ReduceMax" || op == "ReduceMin") {
      const bool max = op == "ReduceMax";
      const double inf = std::numeric_limits<double>::infinity();
      const auto extreme = [max](double a, double v) {
        return max ? std::max(a, v) : std::min(a, v);
      };
      return {reduce(x, axes, keep, max ? -inf : inf, extreme, false)};
    }
    return {reduce(x, axes, keep, 0.0, std::plus<double>(), op == "ReduceMean")};
  }
  if (op == "Shape") {
    const auto rank = static_cast<std::int64_t>(input(0).rank());
    std::int64_t start = int_attribute(node, "start", 0), end = int_attribute(node, "end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<std::int64_t>(start, 0, rank);
    end = std::clamp<std::int64_t>(end, start, rank);
    Tensor64 y{{end - start}, {}};
    for (std::int64_t d = start; d < end; ++d) {
      y.values.push_back(static_cast<double>(input(0).dims[static_cast<std::size_t>(d)]));
    }
    return {y};
  }
  if (op == "Gather") {
    const Tensor64& data = input(0);
    const std::int64_t axis = normalize_axis(node, int_attribute(node, "axis", 0), data.rank());
    const std::int64_t size = data.dims[static_cast<std::size_t>(axis)];
    Tensor64 indices = input(1);
    for (double& value : indices.values) {
      std::int64_t index = as_index(value);
      if (index < 0) index += size;
      if (index < 0 || index >= size) eval_error(node, "index out of range");
      value = static_cast<double>(index);
    }
    return {gather(data, indices, axis)};
  }
  if (op == "Slice") {
    const Tensor64& data = input(0);
    std::vector<std::int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      starts = ints_attribute(node, "starts");
      ends = ints_attribute(node, "ends");
      axes = ints_attribute(node, "axes");
    } else {
      starts = indices_of(input(1));
      ends = indices_of(input(2));
      if (has(3)) axes = indices_of(input(3));
      if (has(4)) steps = indices_of(input(4));
    }
    if (axes.empty()) {
      for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size()) {
      eval_error(node, "starts, ends, axes and steps differ in length");
    }
    std::vector<bool> seen(data.rank(), false);
    for (std::size_t i = 0; i < axes.size(); ++i) {
      axes[i] = normalize_axis(node, axes[i], data.rank());
      const auto a = static_cast<std::size_t>(axes[i]);
      if (seen[a] || steps[i] == 0) eval_error(node, "a repeated axis or a zero step");
      seen[a] = true;
      const std::int64_t size = data.dims[a];
      std::int64_t& start = starts[i];
      std::int64_t& end = ends[i];
      if (start < 0) start += size;
      if (end < 0) end += size;
      if (steps[i] > 0 || size == 0) {  // (an empty axis stays empty either way)
        start = std::clamp<std::int64_t>(start, 0, size);
        end = std::clamp<std::int64_t>(end, 0, size);
      } else {
        start = std::clamp<std::int64_t>(start, 0, size - 1);
        end = std::clamp<std::int64_t>(end, -1, size - 1);
      }
    }
    return {slice(data, starts, ends, axes, steps)};
  }
  if (op == "Split") {
    const Tensor64& x = input(0);
    const std::int64_t axis = normalize_axis(node, int_attribute(node, "axis", 0), x.rank());
    const std::int64_t size = x.dims[static_cast<std::size_t>(axis)];
    const auto parts = static_cast<std::int64_t>(node.output_size());
    if (parts == 0) eval_error(node, "no outputs");
    std::vector<std::int64_t> sizes = ints_attribute(node, "split");
    // Split-1 may take its sizes as a second input, as Split-13 and later do.
    if ((opset >= 13 || opset < 2) && has(1)) sizes = indices_of(input(1));
    if (sizes.empty()) {  // equal parts; from opset 18 the last may be smaller
      const std::int64_t part = (size + parts - 1) / parts;
      for (std::int64_t begin = 0; begin < size; begin += part) {
        sizes.push_back(std::min(part, size - begin));
      }
    }
    std::int64_t total = 0;
    for (const std::int64_t s : sizes) total += s < 0 ? size + 1 : s;  // a negative one fails
    if (static_cast<std::int64_t>(sizes.size()) != parts || total != size) {
      eval_error(node, "split sizes do not cover the axis");
    }
    std::vector<Tensor64> outputs;
    std::int64_t begin = 0;
    for (const std::int64_t s : sizes) {
      outputs.push_back(slice(x, {begin}, {begin + s}, {axis}, {1}));
      begin += s;
    }
    return outputs;
  }
  if (op == "Resize" || op == "Upsample") return {resize_node(node, in, opset)};
  if (op == "Expand") {  // x broadcast against the shape, numpy's way (either side may be 1)
    const std::vector<std::int64_t> shape = indices_of(input(1));
    const Tensor64 target{shape,
                          std::vector<double>(static_cast<std::size_t>(checked_count(shape)))};
    return {broadcast(input(0), target, [](double x, double) { return x; })};
  }
  if (op == "ConstantOfShape") {
    const std::vector<std::int64_t> shape = indices_of(input(0));
    double fill = 0;
    if (const pb::AttributeProto* value = find_attribute(node, "value"); value != nullptr) {
      if (!value->has_t()) eval_error(node, "value is not a tensor");
      const Tensor64 given = to_tensor64(value->t());
      if (given.values.size() != 1) eval_error(node, "value is not one element");
      fill = given.values[0];
    }
    return {
        Tensor64{shape, std::vector<double>(static_cast<std::size_t>(checked_count(shape)), fill)}};
  }
  if (op == "Cast") {
    // Values are float64 throughout: a cast to a float type keeps them (the original and the
    // folded model take the same path), to an integer type truncates, to bool tests for 0.
    switch (cast_target(node, opset)) {
      case pb::TensorProto::FLOAT:
      case pb::TensorProto::DOUBLE:
      case pb::TensorProto::FLOAT16:
      case pb::TensorProto::BFLOAT16:
        return {input(0)};
      case pb::TensorProto::INT8:
      case pb::TensorProto::UINT8:
      case pb::TensorProto::INT16:
      case pb::TensorProto::UINT16:
      case pb::TensorProto::INT32:
      case pb::TensorProto::UINT32:
      case pb::TensorProto::INT64:
      case pb::TensorProto::UINT64:
        return unary([](double v) { return std::trunc(v); });
      case pb::TensorProto::BOOL:
        return unary([](double v) { return v != 0 ? 1.0 : 0.0; });
      default:
        eval_error(node, "cast to this type is not evaluated");
    }
  }
  eval_error(node, "not implemented");
}

/// Why the evaluator cannot run `node`, or empty.
std::string node_unsupported(const pb::NodeProto& node, int index, std::int64_t opset) {
  const bool default_domain = node.domain().empty() || node.domain() == "ai.onnx";
  if (!default_domain ||
      (kSupported.count(node.op_type()) == 0 && pointwise_ops().count(node.op_type()) == 0)) {
    return describe_node(node, index) + " is not an op the evaluator implements";
  }
  for (const auto& attribute : node.attribute()) {
    if (attribute.has_g() || attribute.graphs_size() > 0) {
      return describe_node(node, index) + " holds a subgraph";
    }
  }
  for (int o = 1; o < node.output_size() && node.op_type() != "Split"; ++o) {
    if (!node.output(o).empty()) {
      return describe_node(node, index) + " uses its extra output '" + node.output(o) + "'";
    }
  }
  if (node.op_type() == "Constant" &&
      (find_attribute(node, "value") == nullptr || !find_attribute(node, "value")->has_t())) {
    return describe_node(node, index) + " is not a tensor Constant";
  }
  if (node.op_type() == "BatchNormalization" &&
      (int_attribute(node, "training_mode", 0) != 0 ||
       (opset < 7 && int_attribute(node, "is_test", 0) == 0))) {
    return describe_node(node, index) + " is in training mode";
  }
  // First versions the evaluator reads: Upsample-1, an experimental op with `height_scale` /
  // `width_scale` and modes of its own, which ONNX Runtime never ran, is left out.
  static const std::map<std::string, std::int64_t> kFirstEvaluated = {{"Upsample", 7}};
  if (const auto first = kFirstEvaluated.find(node.op_type());
      first != kFirstEvaluated.end() && opset < first->second) {
    return describe_node(node, index) + " (opset " + std::to_string(opset) +
           ") is an older form than the evaluator reads";
  }
  if (node.op_type() == "BatchNormalization" && opset < 9 &&
      int_attribute(node, "spatial", 1) == 0) {
    return describe_node(node, index) + " has spatial = 0";
  }
  return {};
}

bool generatable(std::int32_t type) {
  return type == pb::TensorProto::FLOAT || type == pb::TensorProto::FLOAT16 ||
         type == pb::TensorProto::BFLOAT16 || type == pb::TensorProto::DOUBLE;
}

}  // namespace

ReferenceEvaluator::ReferenceEvaluator(const pb::ModelProto& model) : model_(model) {
  opset_ = default_opset(model);
  const pb::GraphProto& graph = model.graph();
  for (int n = 0; n < graph.node_size() && unsupported_.empty(); ++n) {
    unsupported_ = node_unsupported(graph.node(n), n, opset_);
  }
  std::set<std::string> initializers;
  for (const auto& tensor : graph.initializer()) initializers.insert(tensor.name());
  for (const auto& input : graph.input()) {
    if (!unsupported_.empty() || initializers.count(input.name())) continue;
    if (!input.type().has_tensor_type() || !generatable(input.type().tensor_type().elem_type())) {
      unsupported_ = "graph input '" + input.name() + "' is not a float tensor";
    } else if (!input.type().tensor_type().has_shape()) {
      unsupported_ = "graph input '" + input.name() + "' has no shape";
    }
  }
}

std::vector<ReferenceEvaluator::Input> ReferenceEvaluator::inputs(std::int64_t free_dim) const {
  std::set<std::string> initializers;
  for (const auto& tensor : model_.graph().initializer()) initializers.insert(tensor.name());
  std::vector<Input> result;
  for (const auto& input : model_.graph().input()) {
    if (initializers.count(input.name())) continue;
    Input feed{input.name(), {}};
    for (const auto& dim : input.type().tensor_type().shape().dim()) {
      feed.dims.push_back(dim.has_dim_value() && dim.dim_value() > 0 ? dim.dim_value() : free_dim);
    }
    result.push_back(std::move(feed));
  }
  return result;
}

std::vector<Tensor64> ReferenceEvaluator::run(
    const std::unordered_map<std::string, Tensor64>& feeds) const {
  const pb::GraphProto& graph = model_.graph();
  std::unordered_map<std::string, const pb::TensorProto*> initializers;
  for (const auto& tensor : graph.initializer()) initializers[tensor.name()] = &tensor;
  // Readers left per value: a value is dropped after its last reader.
  std::unordered_map<std::string, int> readers;
  for (const auto& node : graph.node()) {
    for (const auto& name : node.input()) ++readers[name];
  }
  for (const auto& output : graph.output()) ++readers[output.name()];
  std::unordered_map<std::string, Tensor64> values = feeds;
  auto value = [&](const std::string& name) -> const Tensor64* {
    if (name.empty()) return nullptr;
    if (const auto found = values.find(name); found != values.end()) return &found->second;
    const auto init = initializers.find(name);
    if (init == initializers.end()) {
      throw Error(ErrorCode::invalid_model, "verify: value '" + name + "' is never computed");
    }
    return &values.emplace(name, to_tensor64(*init->second)).first->second;
  };
  for (const auto& node : graph.node()) {
    std::vector<const Tensor64*> in;
    for (const auto& name : node.input()) in.push_back(value(name));
    std::vector<Tensor64> out;
    try {
      out = evaluate(node, in, opset_);
    } catch (const Error& e) {
      // Errors of the shared tensor helpers (reference_ops.cpp, index conversion) get the node.
      const std::string label = eval_label(node), what = e.what();
      if (what.find(label) != std::string::npos) throw;
      const std::string prefix = "verify: ";
      throw Error(e.code(), prefix + label + ": " +
                                (what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what));
    }
    for (const auto& name : node.input()) {
      if (!name.empty() && --readers[name] == 0) values.erase(name);
    }
    for (std::size_t o = 0; o < out.size() && static_cast<int>(o) < node.output_size(); ++o) {
      if (!node.output(static_cast<int>(o)).empty()) {
        values[node.output(static_cast<int>(o))] = std::move(out[o]);
      }
    }
  }
  std::vector<Tensor64> outputs;
  for (const auto& output : graph.output()) {
    const Tensor64* result = value(output.name());
    if (result == nullptr)
      throw Error(ErrorCode::invalid_model, "verify: a graph output has no name");
    outputs.push_back(*result);
  }
  return outputs;
}

}  // namespace bnrt::onnx::detail
