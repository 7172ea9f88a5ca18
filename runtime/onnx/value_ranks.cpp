// Value ranks (see value_ranks.hpp). Stated ranks first, then one walk over each graph's nodes
// in order (ONNX graphs are topologically sorted; a subgraph after its parent) giving output 0
// of every op below its rank when its inputs' ranks are known. Own rules rather than ONNX shape
// inference: libonnx 1.12's inference dereferenced a null pointer on a malformed model (a Conv
// fed a 2-D tensor, found by the fold fuzzer), in process, and a tool must not crash on its
// input; these rules are also all the MatMul rules need (BN1d after Linear, heads after Flatten).
#include "value_ranks.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "graph_index.hpp"
#include "graph_walk.hpp"

namespace bnrt::onnx::detail {
namespace {

/// Ops whose output 0 has the rank of input 0.
constexpr std::string_view kSameRank[] = {"Abs",
                                          "AveragePool",
                                          "BatchNormalization",
                                          "Cast",
                                          "Ceil",
                                          "Celu",
                                          "Clip",
                                          "Concat",
                                          "Conv",
                                          "ConvTranspose",
                                          "CumSum",
                                          "DepthToSpace",
                                          "Dropout",
                                          "Elu",
                                          "Erf",
                                          "Exp",
                                          "Floor",
                                          "GlobalAveragePool",
                                          "GlobalLpPool",
                                          "GlobalMaxPool",
                                          "HardSigmoid",
                                          "HardSwish",
                                          "Identity",
                                          "InstanceNormalization",
                                          "LRN",
                                          "LayerNormalization",
                                          "LeakyRelu",
                                          "Log",
                                          "LogSoftmax",
                                          "LpNormalization",
                                          "LpPool",
                                          "MaxPool",
                                          "Mish",
                                          "Neg",
                                          "Not",
                                          "Pad",
                                          "Reciprocal",
                                          "Relu",
                                          "Resize",
                                          "Round",
                                          "Selu",
                                          "Sigmoid",
                                          "Sign",
                                          "Softmax",
                                          "Softplus",
                                          "Softsign",
                                          "SpaceToDepth",
                                          "Sqrt",
                                          "Tanh",
                                          "Transpose",
                                          "Upsample"};

/// Ops whose output has the broadcast rank of their inputs (the largest).
constexpr std::string_view kBroadcast[] = {
    "Add",  "And",         "BitShift", "Div",  "Equal", "Greater", "GreaterOrEqual",
    "Less", "LessOrEqual", "Max",      "Mean", "Min",   "Mod",     "Mul",
    "Or",   "PRelu",       "Pow",      "Sub",  "Sum",   "Where",   "Xor"};

template <std::size_t N>
bool among(const std::string_view (&ops)[N], const std::string& op) {
  return std::find(std::begin(ops), std::end(ops), op) != std::end(ops);
}

bool is_reduce(const std::string& op) { return op.rfind("Reduce", 0) == 0; }

}  // namespace

std::optional<int> ValueRanks::rank(const std::string& name) {
  if (!collected_) collect();
  if (const auto found = ranks_.find(name); found != ranks_.end()) return found->second;
  return std::nullopt;
}

void ValueRanks::collect() {
  collected_ = true;
  const auto stated = [&](const pb::ValueInfoProto& value) {
    if (value.type().has_tensor_type() && value.type().tensor_type().has_shape()) {
      ranks_[value.name()] = value.type().tensor_type().shape().dim_size();
    }
  };
  const auto constant = [&](const std::string& name, const pb::TensorProto& tensor) {
    ranks_[name] = tensor.dims_size();
    if (tensor.dims_size() == 1) lengths_[name] = tensor.dims(0);
  };
  for_each_graph(model_.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
    for (const auto& value : graph.value_info()) stated(value);
    for (const auto& value : graph.input()) stated(value);
    for (const auto& value : graph.output()) stated(value);
    for (const auto& tensor : graph.initializer()) constant(tensor.name(), tensor);
  });
  const auto known = [&](const std::string& name) -> std::optional<int> {
    const auto found = ranks_.find(name);
    return found != ranks_.end() ? std::optional<int>(found->second) : std::nullopt;
  };
  // The element count of input `slot`'s 1-D constant, or of the node's `axes` attribute.
  const auto count = [&](const pb::NodeProto& node, int slot) -> std::optional<std::int64_t> {
    if (const pb::AttributeProto* axes = find_attribute(node, "axes")) return axes->ints_size();
    if (node.input_size() <= slot) return std::nullopt;
    const auto found = lengths_.find(node.input(slot));
    return found != lengths_.end() ? std::optional<std::int64_t>(found->second) : std::nullopt;
  };
  const auto output_rank = [&](const pb::NodeProto& node) -> std::optional<int> {
    const std::string& op = node.op_type();
    const std::optional<int> first = node.input_size() > 0 ? known(node.input(0)) : std::nullopt;
    if (op == "Gemm" || op == "Flatten") return 2;
    if (op == "Shape") return 1;
    if (among(kSameRank, op)) return first;
    if (among(kBroadcast, op)) {
      int widest = 0;
      for (const auto& input : node.input()) {
        if (input.empty()) continue;
        const std::optional<int> r = known(input);
        if (!r) return std::nullopt;
        widest = std::max(widest, *r);
      }
      return widest;
    }
    if (op == "MatMul") {
      const std::optional<int> second = node.input_size() > 1 ? known(node.input(1)) : std::nullopt;
      if (!first || !second) return std::nullopt;
      if (*first == 1 || *second == 1) return std::max(*first, *second) - 1;  // a vector side
      return std::max(*first, *second);
    }
    if (op == "Reshape") {
      // Reshape-1 to -4 (opsets 1-4) carry the target shape as an attribute.
      if (const pb::AttributeProto* shape = find_attribute(node, "shape"))
        return shape->ints_size();
      const auto found = node.input_size() > 1 ? lengths_.find(node.input(1)) : lengths_.end();
      if (found == lengths_.end()) return std::nullopt;
      return static_cast<int>(found->second);
    }
    if (!first) return std::nullopt;
    if (op == "Unsqueeze" || op == "Squeeze") {
      const std::optional<std::int64_t> axes = count(node, 1);
      if (!axes) return std::nullopt;  // Squeeze without axes drops the 1s: unknown here
      return *first + static_cast<int>(op == "Unsqueeze" ? *axes : -*axes);
    }
    if (is_reduce(op)) {
      if (int_attribute(node, "keepdims", 1) != 0) return first;
      const std::optional<std::int64_t> axes = count(node, 1);
      if (!axes || *axes == 0) return std::nullopt;
      return *first - static_cast<int>(*axes);
    }
    return std::nullopt;
  };
  for_each_graph(model_.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
    for (const auto& node : graph.node()) {
      if (node.output_size() == 0 || node.output(0).empty()) continue;
      if (is_onnx_op(node, "Constant")) {
        if (const pb::AttributeProto* value = find_attribute(node, "value");
            value && value->has_t()) {
          constant(node.output(0), value->t());
        }
        continue;
      }
      if (ranks_.count(node.output(0)) != 0) continue;  // stated
      if (!node.domain().empty() && node.domain() != "ai.onnx") continue;
      if (const std::optional<int> r = output_rank(node); r && *r >= 0) ranks_[node.output(0)] = *r;
    }
  });
}

}  // namespace bnrt::onnx::detail
