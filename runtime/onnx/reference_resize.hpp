// Resize and Upsample for the float64 evaluator: segmentation heads and feature pyramids put
// them between their batch norms, so `--verify` needs them to check such models at all.
#pragma once

#include <cstdint>
#include <vector>

#include "proto.hpp"
#include "reference_ops.hpp"

namespace bnrt::onnx::detail {

/// Resize (opset 10 on) or Upsample (7, 9) of its first input as `node` asks: modes nearest
/// (every nearest_mode), linear (n-linear) and cubic (cubic_coeff_a, exclude_outside), every
/// coordinate transformation but tf_crop_and_resize, output from scales or sizes (with axes and
/// keep_aspect_ratio_policy from opset 18). `in[i]` is null for an absent optional input.
/// Throws Error, naming the node, for what it does not evaluate (tf_crop_and_resize, antialias
/// when shrinking) and for inputs that do not fit together.
Tensor64 resize_node(const pb::NodeProto& node, const std::vector<const Tensor64*>& in,
                     std::int64_t opset);

}  // namespace bnrt::onnx::detail
