// BatchNormalization semantics and parameters (see batch_norm_node.hpp). The ONNX versions:
// BN-1 and BN-6 (opsets 1-6: `is_test`, default 0, i.e. training mode; BN-1 also the legacy
// `consumed_inputs`, which says nothing about the result), BN-7 (opset 7-8, `spatial`), BN-9
// (9-13), BN-14 (`training_mode`), BN-15 (parameter types may differ from X's). From BN-7 on
// eval mode is the default; extra outputs (running or saved statistics) exist only in training
// mode.
#include "batch_norm_node.hpp"

#include "../fold.hpp"
#include "bnrt/error.hpp"
#include "tensor_data.hpp"

namespace bnrt::onnx::detail {
namespace {

constexpr const char* kParameterNames[] = {"scale", "B", "input_mean", "input_var"};

std::string source_text(const ModelIndex& index, const ModelIndex::Source& source) {
  switch (source.kind) {
    case ModelIndex::Source::graph_input:
      return "a graph input, fed at run time";
    case ModelIndex::Source::overridable_initializer:
      return "an initializer also listed as a graph input, so it can be overridden at run time";
    case ModelIndex::Source::computed: {
      const pb::NodeProto& producer = index.scope(source.scope).graph->node(source.index);
      return "computed by " + describe_node(producer, source.index);
    }
    case ModelIndex::Source::undefined:
      return "not defined anywhere";
    default:
      return "a constant";
  }
}

}  // namespace

std::string bn_label(const pb::NodeProto& node, int node_index) {
  return describe_node(node, node_index);
}

std::string unfoldable_semantics(const pb::NodeProto& node, std::int64_t opset) {
  if (opset < 7 && int_attribute(node, "is_test", 0) == 0) {
    return "is_test = 0 (training mode; BatchNormalization-6 and older default to it)";
  }
  if (int_attribute(node, "training_mode", 0) != 0) return "training_mode = 1 (training mode)";
  for (int o = 1; o < node.output_size(); ++o) {
    if (!node.output(o).empty()) {
      return "it has training-mode output '" + node.output(o) + "' (running or saved statistics)";
    }
  }
  if (opset < 9 && int_attribute(node, "spatial", 1) == 0) {
    return "spatial = 0: statistics per activation, not per channel";
  }
  return {};
}

std::string non_constant_parameters(const ModelIndex& index, int scope, const pb::NodeProto& node) {
  for (int i = 1; i < node.input_size() && i <= 4; ++i) {
    const ModelIndex::Source source = index.resolve(scope, node.input(i));
    if (source.kind != ModelIndex::Source::initializer &&
        source.kind != ModelIndex::Source::constant_node) {
      return std::string("parameter ") + kParameterNames[i - 1] + " ('" + node.input(i) + "'" +
             (source.through_identity ? ", through Identity" : "") + ") is " +
             source_text(index, source);
    }
  }
  return {};
}

ChannelAffine fold_parameters(const ModelIndex& index, int scope, const pb::NodeProto& node,
                              int node_index) {
  const std::string label = bn_label(node, node_index);
  if (node.input_size() != 5) {
    throw Error(ErrorCode::invalid_model, label + " has " + std::to_string(node.input_size()) +
                                              " inputs (needs X, scale, B, input_mean, input_var)");
  }
  std::vector<double> values[4];
  for (int i = 0; i < 4; ++i) {
    const pb::TensorProto* tensor = index.tensor(index.resolve(scope, node.input(i + 1)));
    try {
      values[i] = read_values(*tensor);
    } catch (const Error& e) {
      throw Error(e.code(), label + ", parameter " + kParameterNames[i] + ": " + e.what());
    }
  }
  for (int i = 1; i < 4; ++i) {
    if (values[i].size() != values[0].size()) {
      throw Error(ErrorCode::invalid_model,
                  label + ": parameter lengths differ (scale " + std::to_string(values[0].size()) +
                      ", B " + std::to_string(values[1].size()) + ", input_mean " +
                      std::to_string(values[2].size()) + ", input_var " +
                      std::to_string(values[3].size()) + "; one per channel)");
    }
  }
  // The attribute is a float; runtimes add it to the variance as that float.
  const double eps = float_attribute(node, "epsilon", 1e-5f);
  return bnrt::detail::fold_statistics(label, values[2], values[3], values[0], values[1], eps);
}

}  // namespace bnrt::onnx::detail
