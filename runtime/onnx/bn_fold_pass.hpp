// The BatchNormalization fold pass over a whole model (main graph and subgraphs): validate
// every BN first (so a bad one stops the pass before anything changes), then fold each one
// into its producer or, where exact, its consumer, recording a decision per BN.
#pragma once

#include "proto.hpp"

namespace bnrt::onnx::detail {

PassReport run_fold_pass(pb::ModelProto& model, const FoldOptions& options);

/// The default-domain opset of `model` (throws Error(invalid_model) when it has none).
std::int64_t default_opset(const pb::ModelProto& model);

/// Nodes / initializers / BatchNormalization nodes over all graphs.
std::size_t count_nodes(const pb::ModelProto& model);
std::size_t count_initializers(const pb::ModelProto& model);
std::size_t count_batch_norms(const pb::ModelProto& model);

}  // namespace bnrt::onnx::detail
