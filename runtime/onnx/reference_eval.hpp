// A float64 evaluator for the main graph of an ONNX model, for `--verify`: runs the ops a
// CNN with batch norm is made of (reference_ops.hpp) with weights exactly as stored, so
// the original and the folded model can be compared with nothing but the fold in between.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "proto.hpp"
#include "reference_ops.hpp"

namespace bnrt::onnx::detail {

/// Throws the Error for a node the evaluator cannot run on these inputs, naming the node.
[[noreturn]] void eval_error(const pb::NodeProto& node, const std::string& what);

/// `axis` of a tensor of `rank` dims made non-negative (counted from the back when negative),
/// or eval_error when out of range.
std::int64_t normalize_axis(const pb::NodeProto& node, std::int64_t axis, std::size_t rank);

class ReferenceEvaluator {
 public:
  explicit ReferenceEvaluator(const pb::ModelProto& model);

  /// Why this graph cannot be evaluated (the first op it does not implement, an input whose
  /// type or shape it cannot generate), or empty.
  const std::string& unsupported() const { return unsupported_; }

  /// A graph input to feed: its dims (symbolic ones replaced by `free_dim`).
  struct Input {
    std::string name;
    std::vector<std::int64_t> dims;
  };
  std::vector<Input> inputs(std::int64_t free_dim) const;

  /// Runs the graph; returns the graph outputs in order. Throws Error on shapes that do not
  /// fit together.
  std::vector<Tensor64> run(const std::unordered_map<std::string, Tensor64>& feeds) const;

 private:
  const pb::ModelProto& model_;
  std::int64_t opset_ = 0;
  std::string unsupported_;
};

}  // namespace bnrt::onnx::detail
