// Value ranks (see value_ranks.hpp). Shape inference runs at most once per ValueRanks, on a
// copy of the model without the bytes of its large tensors (their dims are all inference
// needs; small ones such as Reshape targets keep their values), so it costs little memory.
#include "value_ranks.hpp"

#include <onnx/shape_inference/implementation.h>

#include <utility>
#include <vector>

#include "graph_walk.hpp"

namespace bnrt::onnx::detail {
namespace {

/// Tensors larger than this lose their data in the copy shape inference sees.
constexpr std::size_t kKeepTensorBytes = 4096;

void record(const pb::ValueInfoProto& value, std::unordered_map<std::string, int>& ranks) {
  if (value.type().has_tensor_type() && value.type().tensor_type().has_shape()) {
    ranks[value.name()] = value.type().tensor_type().shape().dim_size();
  }
}

void record_graph(const pb::GraphProto& graph, std::unordered_map<std::string, int>& ranks) {
  for (const auto& value : graph.value_info()) record(value, ranks);
  for (const auto& value : graph.input()) record(value, ranks);
  for (const auto& value : graph.output()) record(value, ranks);
  for (const auto& tensor : graph.initializer()) ranks[tensor.name()] = tensor.dims_size();
}

}  // namespace

std::optional<int> ValueRanks::rank(const std::string& name) {
  if (ranks_.empty()) {
    for_each_graph(model_.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
      record_graph(graph, ranks_);
    });
  }
  if (const auto found = ranks_.find(name); found != ranks_.end()) return found->second;
  if (!inferred_) {
    infer();
    if (const auto found = ranks_.find(name); found != ranks_.end()) return found->second;
  }
  return std::nullopt;
}

void ValueRanks::infer() {
  inferred_ = true;
  // Lend the large tensors' bytes out while copying, so the copy is small.
  std::vector<std::pair<pb::TensorProto*, std::string>> lent;
  for_each_tensor(model_, [&](pb::TensorProto& tensor) {
    if (tensor.raw_data().size() > kKeepTensorBytes) {
      lent.emplace_back(&tensor, std::move(*tensor.mutable_raw_data()));
      tensor.clear_raw_data();
    }
  });
  pb::ModelProto light = model_;
  for (auto& [tensor, bytes] : lent) tensor->set_raw_data(std::move(bytes));
  try {
    ::onnx::shape_inference::InferShapes(light);
  } catch (const std::exception&) {
    return;  // an unknown rank just means the MatMul rule declines
  }
  for_each_graph(light.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
    record_graph(graph, ranks_);
  });
}

}  // namespace bnrt::onnx::detail
