// The fold pass (see bn_fold_pass.hpp). One BN at a time: the index is rebuilt after every
// fold, so each decision sees the model as the previous folds left it (a BN after a folded
// BN then finds the conv as its producer).
#include "bn_fold_pass.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "batch_norm_node.hpp"
#include "bnrt/error.hpp"
#include "fold_sites.hpp"
#include "graph_walk.hpp"

namespace bnrt::onnx::detail {
namespace {

struct BatchNormRef {
  int scope;
  int node;
};

std::vector<BatchNormRef> batch_norms(const ModelIndex& index) {
  std::vector<BatchNormRef> found;
  for (std::size_t s = 0; s < index.scopes().size(); ++s) {
    const pb::GraphProto& graph = *index.scopes()[s].graph;
    for (int n = 0; n < graph.node_size(); ++n) {
      if (is_onnx_op(graph.node(n), "BatchNormalization")) {
        found.push_back({static_cast<int>(s), n});
      }
    }
  }
  return found;
}

/// Re-throws an Error with the BN named first, unless its message already starts that way.
[[noreturn]] void rethrow_for(const std::string& label, const Error& error) {
  const std::string message = error.what();
  if (message.rfind(label, 0) == 0) throw error;
  throw Error(error.code(), label + ": " + message);
}

/// Every check that can make the pass fail, run before anything changes: parameters
/// (lengths, variances) and the channel count of the layer each BN would fold into.
void validate(const ModelIndex& index, ValueRanks& ranks, std::int64_t opset) {
  for (const BatchNormRef& ref : batch_norms(index)) {
    const pb::NodeProto& bn = index.scope(ref.scope).graph->node(ref.node);
    const std::string label = bn_label(bn, ref.node);
    if (bn.input_size() != 5 || bn.output_size() < 1 || bn.input(0).empty() ||
        bn.output(0).empty()) {
      throw Error(ErrorCode::invalid_model,
                  label + " has " + std::to_string(bn.input_size()) + " inputs and " +
                      std::to_string(bn.output_size()) +
                      " outputs (needs X, scale, B, input_mean, input_var and Y)");
    }
    if (!unfoldable_semantics(bn, opset).empty()) continue;
    if (!non_constant_parameters(index, ref.scope, bn).empty()) continue;
    const ChannelAffine affine = fold_parameters(index, ref.scope, bn, ref.node);
    try {
      for (const bool before : {false, true}) {
        const SiteMatch match = before ? match_consumer(index, ranks, ref.scope, bn)
                                       : match_producer(index, ranks, ref.scope, bn);
        if (!match.site) continue;
        const auto channels = static_cast<std::size_t>(match.site->channels);
        if (channels != affine.channels()) {
          const pb::NodeProto& layer = index.scope(ref.scope).graph->node(match.site->node);
          throw Error(ErrorCode::invalid_model,
                      label + " has " + std::to_string(affine.channels()) + " channels but " +
                          (before ? "its consumer " : "its producer ") +
                          describe_node(layer, match.site->node) + " has " +
                          std::to_string(channels) + (before ? " input" : " output") +
                          " channels (weight '" + layer.input(1) + "')");
        }
      }
    } catch (const Error& e) {
      rethrow_for(label, e);
    }
  }
}

/// Deletes the entries named `name` from a list of values (a graph's value_info or inputs).
void erase_named(google::protobuf::RepeatedPtrField<pb::ValueInfoProto>& values,
                 const std::string& name) {
  for (int i = values.size() - 1; i >= 0; --i) {
    if (values.Get(i).name() == name) values.DeleteSubrange(i, 1);
  }
}

void remove_value_info(pb::GraphProto& graph, const std::string& name) {
  erase_named(*graph.mutable_value_info(), name);
}

/// Deletes the initializers, Constant nodes and Identity / Transpose nodes among `names` (as
/// the values they define) that nothing reads any more; an Identity or Transpose removed may
/// leave its own input unread in turn, so that is checked next, until nothing changes.
void remove_orphans(pb::ModelProto& model, std::vector<std::string> names) {
  while (!names.empty()) {
    const ModelIndex index(model);
    std::unordered_set<std::string> dead;
    for (const std::string& name : names) {
      if (!name.empty() && index.uses(name) == 0) dead.insert(name);
    }
    names.clear();
    // Subgraphs before the graphs holding them (scopes are listed parents first): a node
    // deleted here may own a subgraph (any attribute may hold one), which must not be visited
    // after it is gone.
    const std::vector<ModelIndex::Scope>& scopes = index.scopes();
    for (auto scope_it = scopes.rbegin(); scope_it != scopes.rend(); ++scope_it) {
      const ModelIndex::Scope& scope = *scope_it;
      pb::GraphProto& graph = *scope.graph;
      auto& initializers = *graph.mutable_initializer();
      for (int i = initializers.size() - 1; i >= 0; --i) {
        const std::string name = initializers.Get(i).name();
        if (dead.count(name) == 0) continue;
        // An input with an initializer is a constant up to IR 3 (it goes with it), and from
        // IR 4 on an input the caller may feed (both stay).
        if (scope.inputs.count(name) != 0) {
          if (!index.initializers_listed_as_inputs()) continue;
          erase_named(*graph.mutable_input(), name);
        }
        remove_value_info(graph, name);
        initializers.DeleteSubrange(i, 1);
      }
      auto& nodes = *graph.mutable_node();
      for (int n = nodes.size() - 1; n >= 0; --n) {
        const pb::NodeProto& node = nodes.Get(n);
        const bool constant = is_onnx_op(node, "Constant") && node.output_size() == 1;
        // Identity and Transpose: the copies and the transposed weights a fold stops reading.
        const bool copy =
            is_identity_copy(node) ||
            (is_onnx_op(node, "Transpose") && node.input_size() == 1 && node.output_size() == 1);
        if ((constant || copy) && dead.count(node.output(0)) != 0) {
          if (!constant) names.push_back(node.input(0));
          remove_value_info(graph, node.output(0));
          nodes.DeleteSubrange(n, 1);
        }
      }
    }
  }
}

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : "; ") + part;
  return text;
}

/// Decides one BN and, when it folds, rewrites the model.
BatchNormDecision fold_one(pb::ModelProto& model, ValueRanks& ranks, const BatchNormRef& ref,
                           const FoldOptions& options, std::int64_t opset) {
  ModelIndex index(model);
  const ModelIndex::Scope& scope = index.scope(ref.scope);
  pb::GraphProto& graph = *scope.graph;
  const pb::NodeProto& bn = graph.node(ref.node);
  BatchNormDecision decision;
  decision.graph = scope.path;
  decision.node = node_label(bn, ref.node);
  auto keep = [&](std::string reason) {
    decision.outcome = Outcome::kept;
    decision.reason = std::move(reason);
    return decision;
  };
  if (std::find(options.keep.begin(), options.keep.end(), bn.name()) != options.keep.end()) {
    return keep("listed to keep");
  }
  if (auto why = unfoldable_semantics(bn, opset); !why.empty()) return keep(why);
  if (auto why = non_constant_parameters(index, ref.scope, bn); !why.empty()) return keep(why);
  const ChannelAffine affine = fold_parameters(index, ref.scope, bn, ref.node);

  std::vector<std::string> reasons;
  for (const bool before : {false, true}) {
    if (before && !options.into_consumers) break;
    const SiteMatch match = before ? match_consumer(index, ranks, ref.scope, bn)
                                   : match_producer(index, ranks, ref.scope, bn);
    const char* side = before ? "consumer" : "producer";
    if (!match.site) {
      reasons.push_back(std::string(side) + ": " + match.reason);
      continue;
    }
    const FoldSite& site = *match.site;
    std::vector<std::string> orphans, notes;
    decision.fold = apply_fold(index, ref.scope, site, affine, opset, orphans, notes);
    decision.fold_attempted = true;
    const pb::NodeProto& layer = graph.node(site.node);
    if (!decision.fold.folded) {
      reasons.push_back(std::string(side) + ": " + describe_node(layer, site.node) + ": " +
                        decision.fold.refusal);
      continue;
    }
    decision.outcome = before ? Outcome::folded_into_consumer : Outcome::folded_into_producer;
    decision.target = node_label(layer, site.node);
    decision.target_op = layer.op_type();
    decision.reason = join(notes);
    // Rewire: the layer now computes the BN's output (after), or reads the BN's input (before).
    const std::string bn_input = bn.input(0), bn_output = bn.output(0);
    for (int i = 1; i < bn.input_size(); ++i) orphans.push_back(bn.input(i));
    pb::NodeProto& target = *graph.mutable_node(site.node);
    if (before) {
      target.set_input(0, bn_input);
      remove_value_info(graph, bn_output);
    } else {
      target.set_output(0, bn_output);
      remove_value_info(graph, bn_input);
    }
    graph.mutable_node()->DeleteSubrange(ref.node, 1);
    remove_orphans(model, orphans);
    return decision;
  }
  return keep(join(reasons));
}

}  // namespace

std::int64_t default_opset(const pb::ModelProto& model) {
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") return opset.version();
  }
  throw Error(ErrorCode::invalid_model, "the model imports no default-domain (ai.onnx) opset");
}

std::size_t count_nodes(const pb::ModelProto& model) {
  std::size_t count = 0;
  for_each_graph(model.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
    count += graph.node_size();
  });
  return count;
}

std::size_t count_initializers(const pb::ModelProto& model) {
  std::size_t count = 0;
  for_each_graph(model.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
    count += graph.initializer_size();
  });
  return count;
}

std::size_t count_batch_norms(const pb::ModelProto& model) {
  std::size_t count = 0;
  for_each_graph(model.graph(), "main", [&](const pb::GraphProto& graph, const std::string&) {
    for (const auto& node : graph.node()) count += is_onnx_op(node, "BatchNormalization");
  });
  return count;
}

PassReport run_fold_pass(pb::ModelProto& model, const FoldOptions& options) {
  PassReport report;
  report.nodes_before = count_nodes(model);
  report.initializers_before = count_initializers(model);
  const std::int64_t opset = default_opset(model);
  ValueRanks ranks(model);
  validate(ModelIndex(model), ranks, opset);

  // Kept BNs stay where they are; the next BN to decide is the first one not yet kept.
  std::set<const pb::NodeProto*> kept;
  for (;;) {
    const ModelIndex index(model);
    std::optional<BatchNormRef> next;
    for (const BatchNormRef& ref : batch_norms(index)) {
      if (kept.count(&index.scope(ref.scope).graph->node(ref.node)) == 0) {
        next = ref;
        break;
      }
    }
    if (!next) break;
    const pb::NodeProto* node = &index.scope(next->scope).graph->node(next->node);
    BatchNormDecision decision = fold_one(model, ranks, *next, options, opset);
    if (decision.outcome == Outcome::kept) kept.insert(node);
    report.decisions.push_back(std::move(decision));
  }
  report.nodes_after = count_nodes(model);
  report.initializers_after = count_initializers(model);
  return report;
}

}  // namespace bnrt::onnx::detail
