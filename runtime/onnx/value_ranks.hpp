// Ranks of a model's values, where the model says (value_info, inputs, outputs) or, failing
// that, where ONNX shape inference can tell. Only the MatMul rules need them: a BN after a
// MatMul folds into the weight's columns only when the MatMul output is 2-D.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "proto.hpp"

namespace bnrt::onnx::detail {

class ValueRanks {
 public:
  /// `model` is only read (its large tensors are lent out and put back during inference).
  explicit ValueRanks(pb::ModelProto& model) : model_(model) {}

  /// The rank of `name`, or nullopt when neither the model nor shape inference knows it.
  std::optional<int> rank(const std::string& name);

 private:
  void infer();

  pb::ModelProto& model_;
  bool inferred_ = false;
  std::unordered_map<std::string, int> ranks_;
};

}  // namespace bnrt::onnx::detail
