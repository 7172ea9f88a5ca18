// The model-wide value index (see graph_index.hpp).
#include "graph_index.hpp"

#include <cstring>

#include "graph_walk.hpp"

namespace bnrt::onnx::detail {

ModelIndex::ModelIndex(pb::ModelProto& model)
    : initializers_listed_as_inputs_(model.ir_version() < 4) {
  std::unordered_map<const pb::GraphProto*, int> scope_of;
  for_each_graph(*model.mutable_graph(), "main",
                 [&](pb::GraphProto& graph, const std::string& path) {
                   Scope scope;
                   scope.graph = &graph;
                   scope.path = path;
                   scopes_.push_back(std::move(scope));
                   scope_of[&graph] = static_cast<int>(scopes_.size()) - 1;
                 });
  for (std::size_t s = 0; s < scopes_.size(); ++s) {
    Scope& scope = scopes_[s];
    pb::GraphProto& graph = *scope.graph;
    for (int i = 0; i < graph.initializer_size(); ++i) {
      scope.initializer.emplace(graph.initializer(i).name(), i);
      names_.insert(graph.initializer(i).name());
    }
    for (const auto& input : graph.input()) {
      scope.inputs.insert(input.name());
      names_.insert(input.name());
    }
    for (const auto& output : graph.output()) {
      scope.outputs.insert(output.name());
      graph_outputs_.insert(output.name());
      ++uses_[output.name()];
    }
    for (int n = 0; n < graph.node_size(); ++n) {
      const pb::NodeProto& node = graph.node(n);
      for (const auto& output : node.output()) {
        if (output.empty()) continue;
        scope.producer.emplace(output, n);
        names_.insert(output);
      }
      for (const auto& input : node.input()) {
        if (!input.empty()) ++uses_[input];
      }
      if (!node.name().empty()) names_.insert(node.name());
      // Subgraphs' scopes point back at this one.
      for (const auto& attribute : node.attribute()) {
        if (attribute.has_g()) scopes_[scope_of.at(&attribute.g())].parent = static_cast<int>(s);
        for (const auto& sub : attribute.graphs())
          scopes_[scope_of.at(&sub)].parent = static_cast<int>(s);
      }
    }
  }
}

int ModelIndex::uses(const std::string& name) const {
  const auto found = uses_.find(name);
  return found == uses_.end() ? 0 : found->second;
}

ModelIndex::Source ModelIndex::resolve_here(int scope, const std::string& name) const {
  for (int s = scope; s >= 0; s = scopes_[static_cast<std::size_t>(s)].parent) {
    const Scope& here = scopes_[static_cast<std::size_t>(s)];
    if (const auto node = here.producer.find(name); node != here.producer.end()) {
      const pb::NodeProto& producer = here.graph->node(node->second);
      const bool constant = is_onnx_op(producer, "Constant") &&
                            find_attribute(producer, "value") != nullptr &&
                            find_attribute(producer, "value")->has_t();
      return {constant ? Source::constant_node : Source::computed, s, node->second};
    }
    if (const auto init = here.initializer.find(name); init != here.initializer.end()) {
      const bool overridable = here.inputs.count(name) != 0 && !initializers_listed_as_inputs_;
      return {overridable ? Source::overridable_initializer : Source::initializer, s, init->second};
    }
    if (here.inputs.count(name)) return {Source::graph_input, s, -1};
  }
  return {};
}

ModelIndex::Source ModelIndex::resolve(int scope, const std::string& name) const {
  Source source = resolve_here(scope, name);
  // Each step goes to an earlier node of a valid (acyclic) graph; the bound stops a cyclic,
  // invalid one from looping.
  for (int step = 0; step < 64 && source.kind == Source::computed; ++step) {
    const pb::NodeProto& producer =
        scopes_[static_cast<std::size_t>(source.scope)].graph->node(source.index);
    if (!is_identity_copy(producer)) break;
    Source copied = resolve_here(source.scope, producer.input(0));
    copied.through_identity = true;
    source = copied;
  }
  return source;
}

pb::TensorProto* ModelIndex::tensor(const Source& source) const {
  pb::GraphProto& graph = *scopes_[static_cast<std::size_t>(source.scope)].graph;
  switch (source.kind) {
    case Source::initializer:
    case Source::overridable_initializer:
      return graph.mutable_initializer(source.index);
    case Source::constant_node:
      for (auto& attribute : *graph.mutable_node(source.index)->mutable_attribute()) {
        if (attribute.name() == "value") return attribute.mutable_t();
      }
      return nullptr;
    default:
      return nullptr;
  }
}

std::string ModelIndex::fresh_name(const std::string& base) {
  std::string name = base;
  for (int suffix = 1; names_.count(name) != 0 || uses_.count(name) != 0; ++suffix) {
    name = base + "_" + std::to_string(suffix);
  }
  names_.insert(name);
  return name;
}

std::string describe_node(const pb::NodeProto& node, int index) {
  return "node '" + node_label(node, index) + "' (" + node.op_type() + ")";
}

const pb::AttributeProto* find_attribute(const pb::NodeProto& node, const std::string& name) {
  for (const auto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

std::int64_t int_attribute(const pb::NodeProto& node, const std::string& name,
                           std::int64_t fallback) {
  const pb::AttributeProto* attribute = find_attribute(node, name);
  return attribute != nullptr ? attribute->i() : fallback;
}

float float_attribute(const pb::NodeProto& node, const std::string& name, float fallback) {
  const pb::AttributeProto* attribute = find_attribute(node, name);
  return attribute != nullptr ? attribute->f() : fallback;
}

std::vector<std::int64_t> ints_attribute(const pb::NodeProto& node, const std::string& name) {
  const pb::AttributeProto* attribute = find_attribute(node, name);
  if (attribute == nullptr) return {};
  return {attribute->ints().begin(), attribute->ints().end()};
}

std::string string_attribute(const pb::NodeProto& node, const std::string& name,
                             const std::string& fallback) {
  const pb::AttributeProto* attribute = find_attribute(node, name);
  return attribute != nullptr ? attribute->s() : fallback;
}

bool is_onnx_op(const pb::NodeProto& node, const char* op_type) {
  return node.op_type() == op_type && (node.domain().empty() || node.domain() == "ai.onnx");
}

bool is_identity_copy(const pb::NodeProto& node) {
  return is_onnx_op(node, "Identity") && node.input_size() == 1 && !node.input(0).empty() &&
         node.output_size() == 1 && !node.output(0).empty();
}

}  // namespace bnrt::onnx::detail
