// Where a BatchNormalization can fold, and the fold itself.
//
// Into its producer (BN after the layer):
//   Before:  X = Conv(x, W, b)        Y = BatchNormalization(X, gamma, beta, mean, var)
//   After:   Y = Conv(x, W', b')      W'[o] = W[o] * s[o],  b' = b * s + t
// with s = gamma / sqrt(var + eps), t = beta - mean * s, for Conv, ConvTranspose (output
// channel of W[i, j] is (i / (IC/g)) * OC/g + j), Gemm (columns of alpha * A * B + beta * C)
// and MatMul with a 2-D input (rewritten as Gemm to carry the bias). Preconditions: X has
// exactly one consumer (this BN) and is not a graph output; W and b are constants (an
// initializer that is not also a graph input, or a Constant node).
//
// Into its consumer (BN before the layer), where exact: Gemm with transA = 0, MatMul with a
// 2-D input, and Conv without padding:  W'[.., i] = W[.., i] * s[i],  b' = b + sum W * t.
// Preconditions: Y has exactly one consumer, the layer, as its data input.
//
// Weights used by other nodes are never changed: the fold writes a private copy.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph_index.hpp"
#include "value_ranks.hpp"

namespace bnrt::onnx::detail {

/// A layer a BN can fold into, and how.
struct FoldSite {
  int node = -1;        ///< the layer, in the BN's graph
  bool before = false;  ///< the BN feeds the layer (consumer fold)
  Layer layer;
  std::int64_t channels = 0;  ///< the layer's channels the BN meets (output, or input if before)
  std::int64_t outputs = 0;   ///< the layer's output channels: the bias length
  int weight_input = 1;
  ModelIndex::Source weight;
  int bias_input = 2;
  ModelIndex::Source bias;  ///< kind undefined when the layer has none
  std::vector<std::int64_t> bias_dims;
  bool expand_bias = false;   ///< Gemm C given as a scalar: becomes one value per output
  bool replace_bias = false;  ///< Gemm beta = 0: C contributes nothing and is replaced
  bool reset_beta = false;    ///< Gemm: beta becomes 1 (C created or replaced)
  double shift_factor = 1.0;  ///< Gemm: t enters C scaled (1 / beta after, alpha / beta before)
  bool to_gemm = false;       ///< a MatMul rewritten as Gemm
  /// MatMul only: B is Transpose(W) of a constant [N, K] matrix W, read by nothing else (torch.onnx
  /// writes a bias-free Linear so without constant folding). The Gemm reads W with transB = 1,
  /// `weight` is W, and the Transpose node, left unread, goes.
  int weight_transpose = -1;  ///< the Transpose node's index, or -1
};

/// A site, or why there is none.
struct SiteMatch {
  std::optional<FoldSite> site;
  std::string reason;
};

SiteMatch match_producer(const ModelIndex& index, ValueRanks& ranks, int scope,
                         const pb::NodeProto& bn);
SiteMatch match_consumer(const ModelIndex& index, ValueRanks& ranks, int scope,
                         const pb::NodeProto& bn);

/// Folds `bn` into the site's layer: weights, bias and attributes written into the model (the
/// layer's own tensors in place when nothing else uses them, else private copies) when the
/// fold library folds; nothing written when it refuses. Names that may have lost their last
/// user go to `orphans`; what is worth telling goes to `notes`. `opset` is the model's default
/// opset (a Gemm of opsets 1-6 needs `broadcast = 1` for its per-output C).
FoldReport apply_fold(ModelIndex& index, int scope, const FoldSite& site, const ChannelAffine& bn,
                      std::int64_t opset, std::vector<std::string>& orphans,
                      std::vector<std::string>& notes);

}  // namespace bnrt::onnx::detail
