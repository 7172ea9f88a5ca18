// Who produces and who uses every value of a model, across the main graph and its subgraphs,
// and what a name refers to from a given graph: the facts every fold rule is checked against.
// Built fresh after each change; names are counted model-wide (a use inside an If or Loop
// body of an outer value counts as a use).
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto.hpp"

namespace bnrt::onnx::detail {

class ModelIndex {
 public:
  /// One graph: its initializers, inputs, outputs and node outputs by name.
  struct Scope {
    pb::GraphProto* graph = nullptr;
    int parent = -1;  ///< enclosing scope, -1 for the main graph
    std::string path;
    std::unordered_map<std::string, int> initializer;  ///< name -> index in graph->initializer
    std::unordered_map<std::string, int> producer;     ///< value name -> index of its node
    std::unordered_set<std::string> inputs, outputs;
  };

  /// What a value name denotes when read in a scope.
  struct Source {
    enum Kind {
      initializer,              ///< a constant initializer
      overridable_initializer,  ///< an initializer also listed as a graph input
      graph_input,              ///< fed at run time
      constant_node,            ///< the output of a Constant node (with a `value` tensor)
      computed,                 ///< the output of another node
      undefined,                ///< nowhere (an invalid model, or an empty optional input)
    };
    Kind kind = undefined;
    int scope = -1;  ///< where it is defined
    int index = -1;  ///< initializer index, or node index
    /// Reached through one or more Identity nodes: the value is a copy of this source, which
    /// other readers may share, so a fold never writes it in place.
    bool through_identity = false;
  };

  explicit ModelIndex(pb::ModelProto& model);

  /// IR version 3 and older: every initializer is also listed as a graph input (the format
  /// required it), and such an input is a constant, not a default the caller may override
  /// (as ONNX Runtime reads them). From IR 4 on, an initializer that is also an input is
  /// overridable.
  bool initializers_listed_as_inputs() const { return initializers_listed_as_inputs_; }

  /// Every graph, the main one first and each subgraph after the graph holding it (pre-order).
  const std::vector<Scope>& scopes() const { return scopes_; }
  const Scope& scope(int s) const { return scopes_[static_cast<std::size_t>(s)]; }

  /// Node inputs reading `name`, anywhere in the model, plus graph outputs naming it.
  int uses(const std::string& name) const;
  /// Whether `name` is an output of any graph.
  bool is_graph_output(const std::string& name) const { return graph_outputs_.count(name) != 0; }

  /// Looks through Identity nodes (default domain) to the value they copy: torch.onnx
  /// exports an initializer that several parameters share (equal zero biases, or a fresh
  /// model's BN statistics) as one initializer read through an Identity node per parameter.
  Source resolve(int scope, const std::string& name) const;
  /// The tensor behind an initializer or Constant-node source.
  pb::TensorProto* tensor(const Source& source) const;

  /// A name used nowhere in the model, built from `base`; reserved so the next call differs.
  std::string fresh_name(const std::string& base);

 private:
  /// What `name` denotes in `scope` itself (an Identity's output is `computed`).
  Source resolve_here(int scope, const std::string& name) const;

  bool initializers_listed_as_inputs_ = false;
  std::vector<Scope> scopes_;
  std::unordered_map<std::string, int> uses_;
  std::unordered_set<std::string> graph_outputs_;
  std::unordered_set<std::string> names_;  ///< every name in use, for fresh_name
};

/// "node 'conv1' (Conv)", for messages.
std::string describe_node(const pb::NodeProto& node, int index);

/// An attribute of `node`, or null.
const pb::AttributeProto* find_attribute(const pb::NodeProto& node, const std::string& name);
std::int64_t int_attribute(const pb::NodeProto& node, const std::string& name,
                           std::int64_t fallback);
float float_attribute(const pb::NodeProto& node, const std::string& name, float fallback);
std::vector<std::int64_t> ints_attribute(const pb::NodeProto& node, const std::string& name);
std::string string_attribute(const pb::NodeProto& node, const std::string& name,
                             const std::string& fallback);

/// Whether the node is in the default ONNX domain.
bool is_onnx_op(const pb::NodeProto& node, const char* op_type);

/// A default-domain Identity with one input and one output: its output is a copy of its input.
bool is_identity_copy(const pb::NodeProto& node);

}  // namespace bnrt::onnx::detail
