// Ranks of a model's values: where the model states them (value_info, graph inputs and outputs,
// initializers, Constant nodes), and where they follow from the ranks of a node's inputs for
// the common ops. Only the MatMul rules need them: a BN after a MatMul folds into the weight's
// columns only when the MatMul output is 2-D.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "proto.hpp"

namespace bnrt::onnx::detail {

class ValueRanks {
 public:
  /// `model` is only read, on the first rank() call.
  explicit ValueRanks(const pb::ModelProto& model) : model_(model) {}

  /// The rank of `name`, or nullopt when neither the model nor its propagation knows it.
  std::optional<int> rank(const std::string& name);

 private:
  void collect();

  const pb::ModelProto& model_;
  bool collected_ = false;
  std::unordered_map<std::string, int> ranks_;
  /// Element counts of the 1-D constants (a Reshape's shape, Squeeze / Unsqueeze axes).
  std::unordered_map<std::string, std::int64_t> lengths_;
};

}  // namespace bnrt::onnx::detail
