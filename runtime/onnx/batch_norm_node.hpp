// One BatchNormalization node as the fold pass sees it: whether its semantics allow folding at
// all (eval mode, per-channel statistics), whether its parameters are constants, and those
// parameters validated and folded into a per-channel scale / shift in double.
#pragma once

#include <optional>
#include <string>

#include "graph_index.hpp"

namespace bnrt::onnx::detail {

/// Why this BN must stay whatever its neighbours are (training mode, spatial = 0, an opset
/// older than 7), or empty.
std::string unfoldable_semantics(const pb::NodeProto& node, std::int64_t opset);

/// Why its parameters are not all constants (naming the input and what it is), or empty.
std::string non_constant_parameters(const ModelIndex& index, int scope, const pb::NodeProto& node);

/// The fold of its constant parameters. Throws Error naming the node when the node lacks
/// inputs, parameter lengths differ, or a variance is negative / NaN / infinite.
ChannelAffine fold_parameters(const ModelIndex& index, int scope, const pb::NodeProto& node,
                              int node_index);

/// "node '<name>' (BatchNormalization)".
std::string bn_label(const pb::NodeProto& node, int node_index);

}  // namespace bnrt::onnx::detail
