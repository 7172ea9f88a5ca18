// Elementwise ops for the float64 evaluator: activations, arithmetic with numpy broadcasting,
// and the variadic Min / Max / Sum / Mean, which detection and segmentation heads put after
// their batch norms (YOLO-style heads decode boxes with Pow, Exp and Sigmoid).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "proto.hpp"
#include "reference_ops.hpp"

namespace bnrt::onnx::detail {

/// The ops pointwise_node evaluates.
const std::set<std::string>& pointwise_ops();

/// One elementwise op (an op of pointwise_ops()) on its inputs; `in[i]` is null for an absent
/// optional input. Throws Error, naming the node, on inputs that do not broadcast.
Tensor64 pointwise_node(const pb::NodeProto& node, const std::vector<const Tensor64*>& in,
                        std::int64_t opset);

}  // namespace bnrt::onnx::detail
