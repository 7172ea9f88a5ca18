// Fold-site matching and the fold into the model (see fold_sites.hpp).
#include "fold_sites.hpp"

#include <algorithm>

#include "bnrt/error.hpp"
#include "tensor_data.hpp"

namespace bnrt::onnx::detail {
namespace {

using Source = ModelIndex::Source;

SiteMatch no_site(std::string reason) { return {std::nullopt, std::move(reason)}; }

/// Why input `slot` of `node` is not a constant the fold may read, or empty.
std::string not_constant(const ModelIndex& index, int scope, const pb::NodeProto& node, int slot,
                         const char* what) {
  const std::string& name = node.input(slot);
  const Source source = index.resolve(scope, name);
  const std::string value = std::string(what) + " '" + name + "'" +
                            (source.through_identity ? " (through Identity)" : "");
  switch (source.kind) {
    case Source::initializer:
    case Source::constant_node:
      return {};
    case Source::overridable_initializer:
      return value +
             " is an initializer also listed as a graph input, so it can be overridden at run "
             "time";
    case Source::graph_input:
      return value + " is a graph input, fed at run time";
    case Source::computed: {
      const pb::NodeProto& producer = index.scope(source.scope).graph->node(source.index);
      return value + " is computed by " + describe_node(producer, source.index);
    }
    default:
      return value + " is not defined";
  }
}

bool has_input(const pb::NodeProto& node, int slot) {
  return node.input_size() > slot && !node.input(slot).empty();
}

/// Weight checks shared by every layer: constant, a type the fold library stores, data that
/// matches its dims. Fills site.weight from input `slot` of `reader` (the layer, or the
/// Transpose that feeds a MatMul its weight).
std::string take_weight(const ModelIndex& index, int scope, const pb::NodeProto& reader, int slot,
                        FoldSite& site) {
  if (!has_input(reader, slot)) return "it has no weight input";
  if (auto why = not_constant(index, scope, reader, slot, "weight"); !why.empty()) return why;
  site.weight = index.resolve(scope, reader.input(slot));
  const pb::TensorProto& weight = *index.tensor(site.weight);
  if (!weight_type_of(weight.data_type())) {
    return "weight '" + weight.name() + "' is " + type_name(weight.data_type()) +
           "; bnrt folds float, float16 and bfloat16 weights";
  }
  check_float_tensor(weight);
  return {};
}

/// Bias checks: absent, or a constant of the weight's type with one value per output (dims
/// [N] or [1, N]), or for Gemm a broadcast scalar.
std::string take_bias(const ModelIndex& index, int scope, const pb::NodeProto& node,
                      FoldSite& site) {
  site.bias_dims = {site.outputs};
  if (!has_input(node, site.bias_input)) return {};
  if (auto why = not_constant(index, scope, node, site.bias_input, "bias"); !why.empty()) {
    return why;
  }
  site.bias = index.resolve(scope, node.input(site.bias_input));
  const pb::TensorProto& bias = *index.tensor(site.bias);
  const pb::TensorProto& weight = *index.tensor(site.weight);
  if (bias.data_type() != weight.data_type()) {
    return "bias '" + bias.name() + "' is " + type_name(bias.data_type()) + " but the weight is " +
           type_name(weight.data_type());
  }
  check_float_tensor(bias);
  const std::vector<std::int64_t> dims = dims_of(bias);
  const std::int64_t count = element_count(bias);
  if (count == site.outputs && (dims.size() == 1 || (dims.size() == 2 && dims[0] == 1))) {
    site.bias_dims = dims;  // [N] or [1, N]: folded as it is
    return {};
  }
  if (count == 1 && node.op_type() == "Gemm") {
    site.expand_bias = true;  // a broadcast scalar becomes one value per output
    return {};
  }
  return "bias '" + bias.name() + "' has dims " + dims_text(bias.dims()) +
         ", not one value per output channel (" + std::to_string(site.outputs) + ")";
}

/// Gemm's alpha / beta / transposes, shared by both directions.
struct GemmAttributes {
  double alpha, beta;
  bool trans_a, trans_b;
  explicit GemmAttributes(const pb::NodeProto& node)
      : alpha(float_attribute(node, "alpha", 1.0f)),
        beta(float_attribute(node, "beta", 1.0f)),
        trans_a(int_attribute(node, "transA", 0) != 0),
        trans_b(int_attribute(node, "transB", 0) != 0) {}
};

/// Conv / ConvTranspose weight: [OC, IC/g, k...] or [IC, OC/g, k...], 1 to 3 spatial dims.
std::string conv_layer(const pb::NodeProto& node, const pb::TensorProto& weight, FoldSite& site) {
  const bool transposed = node.op_type() == "ConvTranspose";
  const std::int64_t group = int_attribute(node, "group", 1);
  if (weight.dims_size() < 3 || weight.dims_size() > 5) {
    return "weight '" + weight.name() + "' has dims " + dims_text(weight.dims()) +
           " (bnrt folds 1-D to 3-D convolutions)";
  }
  if (group < 1 || weight.dims(0) % group != 0) {
    throw Error(ErrorCode::invalid_model, "group = " + std::to_string(group) +
                                              " does not divide dim 0 of weight '" + weight.name() +
                                              "' " + dims_text(weight.dims()));
  }
  site.layer = {transposed ? LayerKind::conv_transpose : LayerKind::conv, group};
  const std::int64_t outputs = transposed ? weight.dims(1) * group : weight.dims(0);
  const std::int64_t inputs = transposed ? weight.dims(0) : weight.dims(1) * group;
  site.outputs = outputs;
  site.channels = site.before ? inputs : outputs;
  return {};
}

/// The rank of a MatMul's data input must be 2 for a BN's channel (dim 1) to be a weight axis.
std::string matmul_rank(ValueRanks& ranks, const std::string& name) {
  const std::optional<int> rank = ranks.rank(name);
  if (!rank) {
    return "the rank of MatMul input '" + name +
           "' is unknown (folding needs it to be 2-D: a BN normalizes dim 1)";
  }
  if (*rank != 2) {
    return "MatMul input '" + name + "' is " + std::to_string(*rank) +
           "-D: a BN normalizes dim 1, which is not the weight's axis";
  }
  return {};
}

/// The Transpose of a matrix (perm absent or [1, 0]) that produces `name` in `scope`, directly
/// or through Identity nodes, where nothing else reads its output or the copies, or -1.
int matrix_transpose(const ModelIndex& index, int scope, std::string name) {
  const ModelIndex::Scope& here = index.scope(scope);
  for (;;) {
    const auto producer = here.producer.find(name);
    if (producer == here.producer.end() || index.uses(name) != 1 || index.is_graph_output(name)) {
      return -1;
    }
    const pb::NodeProto& node = here.graph->node(producer->second);
    if (is_identity_copy(node)) {  // read through: the fold leaves the copies unread
      name = node.input(0);
      continue;
    }
    const std::vector<std::int64_t> perm = ints_attribute(node, "perm");
    const bool swaps = perm.empty() || perm == std::vector<std::int64_t>{1, 0};
    if (!is_onnx_op(node, "Transpose") || node.input_size() != 1 || !swaps) return -1;
    return producer->second;
  }
}

/// Fills the layer-specific part of `site` for `node` (the producer, or the consumer when
/// site.before), or says why it does not fit.
std::string describe_layer(const ModelIndex& index, ValueRanks& ranks, int scope,
                           const pb::NodeProto& node, FoldSite& site) {
  const bool conv = is_onnx_op(node, "Conv"), transposed = is_onnx_op(node, "ConvTranspose");
  const bool gemm = is_onnx_op(node, "Gemm"), matmul = is_onnx_op(node, "MatMul");
  if (!conv && !transposed && !gemm && !matmul) {
    return "it is not a Conv, ConvTranspose, Gemm or MatMul";
  }
  if (node.input_size() < 2 || node.input(0).empty() || node.output_size() < 1) {
    return "it lacks a data or weight input, or an output";
  }
  if (conv || transposed) {
    if (transposed && site.before) {
      return "a BN before a ConvTranspose cannot be folded exactly (its border outputs see "
             "fewer taps of the shift)";
    }
    if (auto why = take_weight(index, scope, node, site.weight_input, site); !why.empty()) {
      return why;
    }
    if (auto why = conv_layer(node, *index.tensor(site.weight), site); !why.empty()) return why;
    if (site.before) {
      // The zeros a padded conv reads are not normalized: only unpadded convs fold exactly.
      const std::string auto_pad = string_attribute(node, "auto_pad", "NOTSET");
      const std::vector<std::int64_t> pads = ints_attribute(node, "pads");
      const pb::TensorProto& weight = *index.tensor(site.weight);
      const bool unit_kernel = std::all_of(weight.dims().begin() + 2, weight.dims().end(),
                                           [](std::int64_t k) { return k == 1; });
      const bool padded =
          auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER"
              ? !unit_kernel
              : auto_pad != "VALID" &&
                    std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p != 0; });
      if (padded) {
        return "the Conv pads its input (auto_pad " + auto_pad +
               "): the padding zeros are not normalized, so border outputs would change";
      }
    }
    return take_bias(index, scope, node, site);
  }
  // Gemm or MatMul.
  if (matmul) {
    if (auto why = matmul_rank(ranks, node.input(0)); !why.empty()) return why;
    site.to_gemm = true;
    site.weight_transpose = matrix_transpose(index, scope, node.input(1));
  }
  const GemmAttributes gemm_attributes(node);
  if (gemm && site.before && gemm_attributes.trans_a) {
    return "Gemm has transA = 1: the BN's channels are not the weight's input axis";
  }
  if (site.weight_transpose >= 0) {
    const pb::NodeProto& transpose = index.scope(scope).graph->node(site.weight_transpose);
    if (auto why = take_weight(index, scope, transpose, 0, site); !why.empty()) {
      return "its weight is the Transpose " + describe_node(transpose, site.weight_transpose) +
             ", whose " + why;
    }
  } else if (auto why = take_weight(index, scope, node, site.weight_input, site); !why.empty()) {
    return why;
  }
  const pb::TensorProto& weight = *index.tensor(site.weight);
  if (weight.dims_size() != 2) {
    return "weight '" + weight.name() + "' has dims " + dims_text(weight.dims()) + ", not 2-D";
  }
  // B is [K, N] (transB = 0, and MatMul) or [N, K] (transB = 1, and MatMul of Transpose(W)).
  const bool out_in = (gemm && gemm_attributes.trans_b) || site.weight_transpose >= 0;
  site.layer = {out_in ? LayerKind::linear : LayerKind::linear_in_out};
  site.outputs = out_in ? weight.dims(0) : weight.dims(1);
  site.channels = site.before ? (out_in ? weight.dims(1) : weight.dims(0)) : site.outputs;
  if (matmul) return {};  // no bias yet: the Gemm it becomes gets one
  if (auto why = take_bias(index, scope, node, site); !why.empty()) return why;
  const bool has_bias = site.bias.kind != Source::undefined;
  if (!has_bias || gemm_attributes.beta == 0) {
    // No C (or beta = 0, C ignored): C' carries the fold alone, with beta = 1.
    site.replace_bias = has_bias;
    site.reset_beta = true;
    site.expand_bias = false;
    site.shift_factor = site.before ? gemm_attributes.alpha : 1.0;
  } else {
    // beta * C' = beta * C * s + t (after) or beta * C + alpha * t.W (before).
    site.shift_factor = (site.before ? gemm_attributes.alpha : 1.0) / gemm_attributes.beta;
  }
  return {};
}

/// The node (in `scope`) that reads `name`, when exactly one node of this graph does.
int sole_reader(const ModelIndex::Scope& scope, const std::string& name) {
  int reader = -1;
  for (int n = 0; n < scope.graph->node_size(); ++n) {
    for (const auto& input : scope.graph->node(n).input()) {
      if (input == name) {
        if (reader >= 0 && reader != n) return -1;
        reader = n;
      }
    }
  }
  return reader;
}

/// The name of the initializer or Constant-node output behind `source`.
std::string defined_name(const ModelIndex& index, const Source& source) {
  const pb::GraphProto& graph = *index.scope(source.scope).graph;
  return source.kind == Source::constant_node ? graph.node(source.index).output(0)
                                              : graph.initializer(source.index).name();
}

/// A new initializer of `scope`'s graph, named from `base`, holding `bytes`; in a model of IR
/// version 3 or older also listed as a graph input, as that format requires.
pb::TensorProto& new_initializer(ModelIndex& index, int scope, const std::string& base,
                                 std::int32_t type, const std::vector<std::int64_t>& dims,
                                 std::string bytes) {
  pb::GraphProto& graph = *index.scope(scope).graph;
  pb::TensorProto& tensor = *graph.add_initializer();
  tensor.set_name(index.fresh_name(base));
  tensor.set_data_type(type);
  for (const std::int64_t d : dims) tensor.add_dims(d);
  tensor.set_raw_data(std::move(bytes));
  if (index.initializers_listed_as_inputs()) {
    pb::ValueInfoProto& input = *graph.add_input();
    input.set_name(tensor.name());
    pb::TypeProto::Tensor& tensor_type = *input.mutable_type()->mutable_tensor_type();
    tensor_type.set_elem_type(type);
    for (const std::int64_t d : dims) tensor_type.mutable_shape()->add_dim()->set_dim_value(d);
  }
  return tensor;
}

/// The node's attribute `name`, added with `type` when it has none (the caller sets the value).
pb::AttributeProto& attribute_to_set(pb::NodeProto& node, const std::string& name,
                                     pb::AttributeProto::AttributeType type) {
  for (auto& attribute : *node.mutable_attribute()) {
    if (attribute.name() == name) return attribute;
  }
  pb::AttributeProto& added = *node.add_attribute();
  added.set_name(name);
  added.set_type(type);
  return added;
}

/// Writes folded bytes for input `slot` of `node`: into the tensor itself when this node is its
/// only user, else (shared, or read through an Identity) into a new initializer of `scope`'s
/// graph.
void write_tensor(ModelIndex& index, int scope, pb::NodeProto& node, int slot, const Source& source,
                  std::vector<std::byte> bytes, std::vector<std::string>& orphans,
                  std::vector<std::string>& notes) {
  const std::string name = node.input(slot);
  pb::TensorProto* tensor = index.tensor(source);
  std::string data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (index.uses(name) == 1 && !source.through_identity) {
    tensor->set_raw_data(std::move(data));
    return;
  }
  const pb::TensorProto& copy = new_initializer(
      index, scope, name + "_bnfolded", tensor->data_type(), dims_of(*tensor), std::move(data));
  const std::string why = source.through_identity
                              ? "is an Identity of '" + defined_name(index, source) + "'"
                              : "is shared";
  notes.push_back("'" + name + "' " + why + ", so the fold went into a private copy '" +
                  copy.name() + "'");
  node.set_input(slot, copy.name());
  orphans.push_back(name);
}

}  // namespace

SiteMatch match_producer(const ModelIndex& index, ValueRanks& ranks, int scope,
                         const pb::NodeProto& bn) {
  const ModelIndex::Scope& here = index.scope(scope);
  const std::string& x = bn.input(0);
  const auto producer = here.producer.find(x);
  if (producer == here.producer.end()) {
    return no_site("its input '" + x + "' is not computed by a node of this graph");
  }
  const pb::NodeProto& node = here.graph->node(producer->second);
  const std::string label = describe_node(node, producer->second);
  if (node.output(0) != x) return no_site("its input is not the first output of " + label);
  if (index.is_graph_output(x))
    return no_site("'" + x + "', output of " + label + ", is also a graph output");
  if (index.uses(x) > 1) {
    return no_site("'" + x + "', output of " + label + ", has " +
                   std::to_string(index.uses(x) - 1) + " other consumer(s)");
  }
  FoldSite site;
  site.node = producer->second;
  const std::string why = describe_layer(index, ranks, scope, node, site);
  if (!why.empty()) return no_site(label + ": " + why);
  return {site, {}};
}

SiteMatch match_consumer(const ModelIndex& index, ValueRanks& ranks, int scope,
                         const pb::NodeProto& bn) {
  const ModelIndex::Scope& here = index.scope(scope);
  const std::string& y = bn.output(0);
  if (index.is_graph_output(y)) return no_site("its output '" + y + "' is a graph output");
  if (index.uses(y) != 1) {
    return no_site("its output '" + y + "' has " + std::to_string(index.uses(y)) + " consumers");
  }
  const int reader = sole_reader(here, y);
  if (reader < 0) return no_site("its output '" + y + "' is read inside a subgraph");
  const pb::NodeProto& node = here.graph->node(reader);
  const std::string label = describe_node(node, reader);
  if (node.input(0) != y) return no_site("it feeds " + label + " other than as its data input");
  FoldSite site;
  site.node = reader;
  site.before = true;
  const std::string why = describe_layer(index, ranks, scope, node, site);
  if (!why.empty()) return no_site(label + ": " + why);
  return {site, {}};
}

FoldReport apply_fold(ModelIndex& index, int scope, const FoldSite& site, const ChannelAffine& bn,
                      std::int64_t opset, std::vector<std::string>& orphans,
                      std::vector<std::string>& notes) {
  pb::GraphProto& graph = *index.scope(scope).graph;
  pb::NodeProto& node = *graph.mutable_node(site.node);
  pb::TensorProto& weight_tensor = *index.tensor(site.weight);
  const WeightType type = *weight_type_of(weight_tensor.data_type());
  const ConstWeights weight{raw_data_of(weight_tensor).data(), type, dims_of(weight_tensor)};

  std::string bias_bytes;  // a copy only when C must be expanded
  std::optional<ConstWeights> bias;
  if (site.bias.kind != Source::undefined && !site.replace_bias) {
    const std::string& raw = raw_data_of(*index.tensor(site.bias));
    const void* data = raw.data();
    if (site.expand_bias) {
      for (std::int64_t o = 0; o < site.outputs; ++o) bias_bytes += raw;
      data = bias_bytes.data();
    }
    bias = ConstWeights{data, type, {site.outputs}};
  }
  ChannelAffine affine = bn;
  for (double& shift : affine.shift) shift *= site.shift_factor;

  FoldedLayer folded;
  try {
    folded = site.before ? fold_bn_before(site.layer, weight, bias ? &*bias : nullptr, affine, type)
                         : fold_bn_after(site.layer, weight, bias ? &*bias : nullptr, affine, type);
  } catch (const Error& e) {
    throw Error(ErrorCode::invalid_model, describe_node(node, site.node) + ": " + e.what());
  }
  if (!folded.report.folded) return folded.report;

  if (site.weight_transpose >= 0) {
    // The Gemm reads W itself, with transB = 1; the Transpose is left unread.
    orphans.push_back(node.input(site.weight_input));
    node.set_input(site.weight_input, graph.node(site.weight_transpose).input(0));
    attribute_to_set(node, "transB", pb::AttributeProto::INT).set_i(1);
  }
  write_tensor(index, scope, node, site.weight_input, site.weight, std::move(folded.weight),
               orphans, notes);
  if (bias && !site.expand_bias) {
    write_tensor(index, scope, node, site.bias_input, site.bias, std::move(folded.bias), orphans,
                 notes);
  } else {
    // A new bias: the layer had none, or its C was a scalar or ignored (beta = 0).
    const pb::TensorProto& created = new_initializer(
        index, scope, node.output(0) + "_bias", weight_tensor.data_type(), {site.outputs},
        std::string(reinterpret_cast<const char*>(folded.bias.data()), folded.bias.size()));
    if (site.bias.kind != Source::undefined) orphans.push_back(node.input(site.bias_input));
    while (node.input_size() <= site.bias_input) node.add_input("");
    node.set_input(site.bias_input, created.name());
  }
  if (site.reset_beta) attribute_to_set(node, "beta", pb::AttributeProto::FLOAT).set_f(1.0f);
  if (site.to_gemm) {
    node.set_op_type("Gemm");
    notes.push_back(site.weight_transpose >= 0
                        ? "MatMul of a Transpose rewritten as Gemm (transB = 1) to carry the "
                          "folded bias"
                        : "MatMul rewritten as Gemm to carry the folded bias");
  }
  if (opset < 7 && node.op_type() == "Gemm") {
    // Gemm-1 and Gemm-6 add a C of another shape than [M, N] only with broadcast = 1; the C
    // left here is one value per output (or was such already, with broadcast = 1).
    attribute_to_set(node, "broadcast", pb::AttributeProto::INT).set_i(1);
  }
  return folded.report;
}

}  // namespace bnrt::onnx::detail
