// Original vs folded, in float64 (bnrt::onnx::verify, see include/bnrt/onnx.hpp).
#include <algorithm>
#include <cmath>
#include <random>

#include "bnrt/error.hpp"
#include "graph_walk.hpp"
#include "proto.hpp"
#include "reference_eval.hpp"

namespace bnrt::onnx {
namespace {

/// Pass thresholds for the worst output's max |diff| / max |output|. One rounding of each
/// folded weight is 2^-24 (fp32), 2^-11 (fp16) or 2^-8 (bf16) relative; through a deep network
/// such errors add up over layers and partly cancel. These leave room for ~100 layers of
/// accumulation while still catching a wrong fold, which shows up as O(1) differences.
constexpr double kToleranceF32 = 1e-4;
constexpr double kToleranceF16 = 2e-2;
constexpr double kToleranceBF16 = 1e-1;

/// The loosest tolerance any folded weight's type calls for.
double tolerance_for(const pb::ModelProto& model) {
  double tolerance = kToleranceF32;
  detail::for_each_graph(model.graph(), "main",
                         [&](const pb::GraphProto& graph, const std::string&) {
                           for (const auto& tensor : graph.initializer()) {
                             if (tensor.data_type() == pb::TensorProto::FLOAT16)
                               tolerance = std::max(tolerance, kToleranceF16);
                             if (tensor.data_type() == pb::TensorProto::BFLOAT16)
                               tolerance = std::max(tolerance, kToleranceBF16);
                           }
                         });
  return tolerance;
}

}  // namespace

VerifyResult verify(const Model& original, const Model& folded, const VerifyOptions& options) {
  VerifyResult result;
  const detail::ReferenceEvaluator before(original.impl().proto), after(folded.impl().proto);
  if (!before.unsupported().empty()) {
    result.message = before.unsupported();
    return result;
  }
  if (!after.unsupported().empty()) {
    result.message = "folded model: " + after.unsupported();
    return result;
  }
  result.tolerance = tolerance_for(folded.impl().proto);
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (int sample = 0; sample < options.samples; ++sample) {
    std::unordered_map<std::string, detail::Tensor64> feeds;
    for (const auto& input : before.inputs(options.free_dim)) {
      detail::Tensor64 tensor{input.dims, {}};
      try {
        tensor.values.resize(static_cast<std::size_t>(detail::checked_count(input.dims)));
      } catch (const Error& e) {
        result.message = "graph input '" + input.name + "': " + e.what();
        return result;
      }
      // Values exact in every float type (multiples of 2^-8 in [-1, 1]).
      for (double& v : tensor.values) v = std::round(uniform(rng) * 256) / 256;
      feeds.emplace(input.name, std::move(tensor));
    }
    std::vector<detail::Tensor64> want, got;
    try {
      want = before.run(feeds);
    } catch (const Error& e) {
      result.message = std::string("the original model cannot be evaluated: ") + e.what();
      return result;
    }
    try {
      got = after.run(feeds);
    } catch (const Error& e) {
      result.ran = true;
      result.message = std::string("the folded model cannot be evaluated: ") + e.what();
      return result;
    }
    if (want.size() != got.size()) {
      result.message = "the models have different numbers of outputs";
      return result;
    }
    for (std::size_t o = 0; o < want.size(); ++o) {
      if (want[o].dims != got[o].dims) {
        result.message = "output " + std::to_string(o) + " changed shape";
        return result;
      }
      double diff = 0, magnitude = 0;
      for (std::size_t i = 0; i < want[o].values.size(); ++i) {
        const double d = std::fabs(want[o].values[i] - got[o].values[i]);
        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
        magnitude = std::max(magnitude, std::fabs(want[o].values[i]));
      }
      result.max_abs_diff = std::max(result.max_abs_diff, diff);
      result.max_rel_diff = std::max(result.max_rel_diff,
                                     magnitude > 0 ? diff / magnitude : (diff > 0 ? INFINITY : 0));
    }
    ++result.samples;
  }
  result.ran = true;
  result.passed = result.max_rel_diff <= result.tolerance;
  return result;
}

}  // namespace bnrt::onnx
