// Visiting every graph of a model: the main graph and, recursively, the subgraphs held in node
// attributes (If branches, Loop and Scan bodies), each with a readable path.
#pragma once

#include <string>
#include <type_traits>

#include "proto.hpp"

namespace bnrt::onnx::detail {

/// "conv1", or "#<index>" for a node without a name.
inline std::string node_label(const pb::NodeProto& node, int index) {
  return node.name().empty() ? "#" + std::to_string(index) : node.name();
}

/// Subgraph `g` (or the single one, g < 0) of attribute `a` of node `n`, const or mutable as
/// `graph` is.
template <class Graph>
Graph& subgraph(Graph& graph, int n, int a, int g) {
  if constexpr (std::is_const_v<Graph>) {
    const pb::AttributeProto& attribute = graph.node(n).attribute(a);
    return g < 0 ? attribute.g() : attribute.graphs(g);
  } else {
    pb::AttributeProto& attribute = *graph.mutable_node(n)->mutable_attribute(a);
    return g < 0 ? *attribute.mutable_g() : *attribute.mutable_graphs(g);
  }
}

/// Calls visit(graph, path) for `graph` (pb::GraphProto, const or not) and every subgraph below
/// it, parents first. Subgraph paths read "<path>/<node>.<attribute>" (+ "[i]" for lists).
template <class Graph, class Visit>
void for_each_graph(Graph& graph, const std::string& path, Visit&& visit) {
  visit(graph, path);
  for (int n = 0; n < graph.node_size(); ++n) {
    const pb::NodeProto& node = graph.node(n);
    for (int a = 0; a < node.attribute_size(); ++a) {
      const pb::AttributeProto& attribute = node.attribute(a);
      const std::string prefix = path + "/" + node_label(node, n) + "." + attribute.name();
      if (attribute.has_g()) for_each_graph(subgraph(graph, n, a, -1), prefix, visit);
      for (int g = 0; g < attribute.graphs_size(); ++g) {
        for_each_graph(subgraph(graph, n, a, g), prefix + "[" + std::to_string(g) + "]", visit);
      }
    }
  }
}

/// Calls visit(tensor) for every tensor stored in the model: initializers and node attribute
/// tensors, in every graph.
template <class Visit>
void for_each_tensor(pb::ModelProto& model, Visit&& visit) {
  for_each_graph(*model.mutable_graph(), "main", [&](pb::GraphProto& graph, const std::string&) {
    for (auto& tensor : *graph.mutable_initializer()) visit(tensor);
    for (auto& node : *graph.mutable_node()) {
      for (auto& attribute : *node.mutable_attribute()) {
        if (attribute.has_t()) visit(*attribute.mutable_t());
        for (auto& tensor : *attribute.mutable_tensors()) visit(tensor);
      }
    }
  });
}

}  // namespace bnrt::onnx::detail
