// See fold_harness.hpp.
#include "fold_harness.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bnrt/error.hpp"
#include "bnrt/onnx.hpp"
#include "proto.hpp"

namespace bnrt::fuzz {
namespace {

/// Values of an integer or float initializer, as doubles.
std::vector<double> values_of(const ::onnx::TensorProto& tensor) {
  std::vector<double> values;
  if (tensor.data_type() == ::onnx::TensorProto::INT64) {
    values.assign(tensor.int64_data().begin(), tensor.int64_data().end());
    for (std::size_t at = 0; at + 8 <= tensor.raw_data().size(); at += 8) {
      std::int64_t v;
      std::memcpy(&v, tensor.raw_data().data() + at, 8);
      values.push_back(static_cast<double>(v));
    }
  } else if (tensor.data_type() == ::onnx::TensorProto::FLOAT) {
    values.assign(tensor.float_data().begin(), tensor.float_data().end());
    for (std::size_t at = 0; at + 4 <= tensor.raw_data().size(); at += 4) {
      float v;
      std::memcpy(&v, tensor.raw_data().data() + at, 4);
      values.push_back(v);
    }
  }
  return values;
}

/// Verification evaluates the model; keep it to models whose tensors stay small (few, short
/// inputs; small initializers; small integer attributes such as strides; Resize / Upsample
/// scales and sizes that do not multiply past 4096), so one input cannot stall the fuzzer on a
/// legitimately huge tensor (a Resize scale of 65536 took 74 s, sizes of 59 x 37 x 5 with a
/// scale of 512 after them 24 s).
bool small_enough_to_evaluate(const onnx::Model& model) {
  const auto& graph = model.impl().proto.graph();
  for (const auto& input : graph.input()) {
    std::int64_t count = 1;
    for (const auto& dim : input.type().tensor_type().shape().dim()) {
      if (dim.dim_value() > 64) return false;
      count *= dim.dim_value() > 0 ? dim.dim_value() : 1;
    }
    if (count > 4096) return false;
  }
  std::unordered_set<std::string> resize_inputs;  // scales, sizes (and roi, of no effect)
  double growth = 1;
  const auto grow = [&growth](double v) {
    growth *= std::isnan(v) ? INFINITY : std::max(1.0, std::fabs(v));
  };
  for (const auto& node : graph.node()) {
    for (const auto& attribute : node.attribute()) {
      if (attribute.i() > 64 || attribute.i() < -64) return false;
      for (const auto v : attribute.ints()) {
        if (v > 64 || v < -64) return false;
      }
    }
    if (node.op_type() == "Resize" || node.op_type() == "Upsample") {
      for (int i = 1; i < node.input_size(); ++i) resize_inputs.insert(node.input(i));
      for (const auto& attribute : node.attribute()) {
        for (const float v : attribute.floats()) grow(v);
      }
    }
  }
  for (const auto& tensor : graph.initializer()) {
    std::int64_t count = 1;
    for (const auto d : tensor.dims()) {
      if (d > 4096 || d < 0) return false;
      count *= d;
      if (count > 4096) return false;
    }
    const bool resizes = resize_inputs.count(tensor.name()) != 0;
    // Integer data are shapes, pads and axes: a Pad of 1000 per side is a legitimately huge
    // tensor, as a large stride attribute would be.
    const bool integers = tensor.data_type() == ::onnx::TensorProto::INT64;
    if (!resizes && !integers) continue;
    for (const double v : values_of(tensor)) {
      if (integers && (v > 64 || v < -64)) return false;
      if (resizes) grow(v);
    }
  }
  return growth <= 4096 && graph.node_size() <= 64;
}

}  // namespace

void fold_one_input(const std::uint8_t* data, std::size_t size) {
  try {
    onnx::Model model =
        onnx::Model::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    const bool evaluate = small_enough_to_evaluate(model);
    std::optional<onnx::Model> original;
    if (evaluate) original = model.copy();
    model.fold_batch_norms({.keep = {"keep_me"}});
    model.check();
    model.serialize();
    if (evaluate) onnx::verify(*original, model);
  } catch (const Error&) {
    // A clear refusal of bad input: what the tool promises.
  }
}

}  // namespace bnrt::fuzz
