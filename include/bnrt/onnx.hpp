// bnrt::onnx: folding every BatchNormalization of an ONNX model into the layer next to it,
// in memory, with a per-node account of what was done and why. The library behind
// `bnrt fold`; an app can also fold at load time. Link bnrt::onnx (needs libonnx-dev and
// libprotobuf-dev); this header exposes no protobuf types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bnrt/fold.hpp"

namespace bnrt::onnx {

/// How the pass treats the model's BatchNormalization nodes.
struct FoldOptions {
  /// Names of BN nodes to leave as they are.
  std::vector<std::string> keep = {};
  /// Fold a BN into the layer that consumes it (Gemm, or a Conv without padding) when it
  /// cannot go into its producer.
  bool into_consumers = true;
};

enum class Outcome {
  folded_into_producer,  ///< into the Conv / ConvTranspose / Gemm / MatMul before it
  folded_into_consumer,  ///< into the Gemm / unpadded Conv after it
  kept,                  ///< left in the model; `reason` says why
};

/// "folded_into_producer", "folded_into_consumer" or "kept".
std::string_view outcome_name(Outcome outcome) noexcept;

/// What happened to one BatchNormalization node.
struct BatchNormDecision {
  std::string graph;  ///< "main", or a subgraph's path such as "main/loop_1.body"
  std::string node;   ///< the node's name ("#<index>" when it has none)
  Outcome outcome = Outcome::kept;
  std::string target;     ///< the node folded into (its name), when folded
  std::string target_op;  ///< and its op type ("Conv", ...); a MatMul becomes a Gemm
  /// Kept: why, naming the node or value at fault. Folded: notes, such as a private copy of
  /// a shared weight, or empty.
  std::string reason;
  /// The fold library's report (largest |scale|, dead / large-scale / overflow / subnormal
  /// channels, rounding bound), when a fold was attempted.
  FoldReport fold;
  bool fold_attempted = false;
};

/// The onnx checker's verdict on a model.
struct CheckResult {
  bool ran = false;     ///< false: skipped, `message` says why
  bool passed = false;  ///< when ran
  std::string message;
};

/// Original vs folded model on the same random inputs, both run by bnrt's float64 reference
/// evaluator (weights as stored), so differences come from the fold alone.
struct VerifyResult {
  bool ran = false;     ///< false: skipped, `message` says why (e.g. an op it cannot evaluate)
  bool passed = false;  ///< max_rel_diff within tolerance
  double max_abs_diff = 0;
  double max_rel_diff = 0;  ///< max |a - b| / max |a| per output, worst over outputs
  double tolerance = 0;     ///< pass threshold for max_rel_diff (depends on the weight type)
  int samples = 0;          ///< random input sets run
  std::string message;
};

/// Everything the pass did, plus (filled by whoever ran them) the checker and verification.
struct PassReport {
  std::vector<BatchNormDecision> decisions;
  std::size_t nodes_before = 0, nodes_after = 0;  ///< all graphs, subgraphs included
  std::size_t initializers_before = 0, initializers_after = 0;
  CheckResult check;
  VerifyResult verify;

  std::size_t folded() const noexcept;
  std::size_t kept() const noexcept;
  /// The whole report as one JSON object (see README for the fields).
  std::string to_json() const;
  /// Human text: one line per BN, then totals, checker and verification lines.
  std::string summary() const;
};

/// An ONNX model in memory. Move-only; copy() for an explicit deep copy.
class Model {
 public:
  /// Reads and parses `path`; tensors stored as external data (location relative to the
  /// model's folder, never outside it) are read into memory. Throws Error: io_error when the
  /// file cannot be read, invalid_model (naming the problem) when it is empty, truncated, not
  /// an ONNX model, or refers to external data that is missing or the wrong size.
  static Model load(const std::string& path);
  /// Parses serialized bytes; `external_data_dir` resolves external data (empty: none allowed).
  static Model parse(std::string_view bytes, const std::string& external_data_dir = "");

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();
  Model copy() const;

  /// Folds every foldable BatchNormalization (see README for the rules). Throws Error
  /// (invalid_model) naming the node when a BN's parameters disagree in length or with its
  /// layer's channel count, or hold a negative / NaN variance; the model is then unchanged.
  PassReport fold_batch_norms(const FoldOptions& options = {});

  /// Runs onnx::checker::check_model.
  CheckResult check() const;

  /// Writes the model to `path` through a temporary file in the same folder, renamed into
  /// place only when everything was written (never a half-written file). Tensors that came
  /// from external data go to `<path>.data` next to it (same rule). Throws Error(io_error).
  void save(const std::string& path);
  std::string serialize() const;

  /// Node count over all graphs, subgraphs included; the same for BatchNormalization nodes.
  std::size_t node_count() const;
  std::size_t batch_norm_count() const;
  /// The default-domain opset version.
  std::int64_t opset() const;

  struct Impl;
  Impl& impl() { return *impl_; }  ///< for bnrt's own internals and tests
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct VerifyOptions {
  std::uint64_t seed = 20261121;
  int samples = 2;  ///< random input sets
  /// Symbolic or unknown input dims (batch size, usually) take this value.
  std::int64_t free_dim = 1;
};

/// Runs both models on the same random inputs (uniform in [-1, 1]) in float64 and compares
/// every graph output. Skips, saying why, when the graph holds an op the evaluator does not
/// implement or an input it cannot generate.
VerifyResult verify(const Model& original, const Model& folded, const VerifyOptions& options = {});

}  // namespace bnrt::onnx
