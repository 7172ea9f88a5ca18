// Elementwise ops in float64, from the ONNX operator definitions (see reference_pointwise.hpp).
#include "reference_pointwise.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "graph_index.hpp"
#include "reference_eval.hpp"

namespace bnrt::onnx::detail {
namespace {

using Unary = std::function<double(double)>;
using Binary = std::function<double(double, double)>;

/// The one-input ops whose attributes (with their defaults) fix the function.
Unary unary_function(const pb::NodeProto& node) {
  const std::string& op = node.op_type();
  const auto attribute = [&](const char* name, float fallback) -> double {
    return float_attribute(node, name, fallback);
  };
  if (op == "Relu") return [](double v) { return v > 0 ? v : 0.0; };
  if (op == "LeakyRelu") {
    return [alpha = attribute("alpha", 0.01f)](double v) { return v >= 0 ? v : alpha * v; };
  }
  if (op == "Elu") {
    return
        [alpha = attribute("alpha", 1.0f)](double v) { return v >= 0 ? v : alpha * std::expm1(v); };
  }
  if (op == "Selu") {
    return [alpha = attribute("alpha", 1.67326319217681884765625f),
            gamma = attribute("gamma", 1.05070102214813232421875f)](double v) {
      return gamma * (v > 0 ? v : alpha * std::expm1(v));
    };
  }
  if (op == "HardSigmoid") {
    return [alpha = attribute("alpha", 0.2f), beta = attribute("beta", 0.5f)](double v) {
      return std::clamp(alpha * v + beta, 0.0, 1.0);
    };
  }
  if (op == "HardSwish") return [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); };
  if (op == "Sigmoid") return [](double v) { return 1 / (1 + std::exp(-v)); };
  if (op == "Tanh") return [](double v) { return std::tanh(v); };
  if (op == "Softplus") {  // log(1 + e^v), in a form that neither overflows nor cancels
    return [](double v) { return std::log1p(std::exp(-std::fabs(v))) + std::max(v, 0.0); };
  }
  if (op == "Softsign") return [](double v) { return v / (1 + std::fabs(v)); };
  if (op == "Neg") return [](double v) { return -v; };
  if (op == "Abs") return [](double v) { return std::fabs(v); };
  if (op == "Exp") return [](double v) { return std::exp(v); };
  if (op == "Log") return [](double v) { return std::log(v); };
  if (op == "Sqrt") return [](double v) { return std::sqrt(v); };
  if (op == "Reciprocal") return [](double v) { return 1 / v; };
  if (op == "Erf") return [](double v) { return std::erf(v); };
  if (op == "Floor") return [](double v) { return std::floor(v); };
  if (op == "Ceil") return [](double v) { return std::ceil(v); };
  return nullptr;
}

/// The two-input ops, and the pairwise step of the variadic ones (Mean sums, then divides).
Binary binary_function(const std::string& op) {
  if (op == "Add" || op == "Sum" || op == "Mean") return std::plus<double>();
  if (op == "Sub") return std::minus<double>();
  if (op == "Mul") return std::multiplies<double>();
  if (op == "Div") return std::divides<double>();
  if (op == "Pow") return [](double a, double b) { return std::pow(a, b); };
  // A NaN operand gives NaN in either position (std::max would drop one as the second).
  if (op == "Max") return [](double a, double b) { return std::isnan(a) || a >= b ? a : b; };
  if (op == "Min") return [](double a, double b) { return std::isnan(a) || a <= b ? a : b; };
  if (op == "PRelu") return [](double x, double slope) { return x >= 0 ? x : slope * x; };
  return nullptr;
}

/// Add, Sub, Mul, Div and Pow of opsets 1-6, which broadcast only with `broadcast = 1`, and
/// then only B onto A: B's dims match A's from `axis` on (by default A's last ones), a dim of
/// 1 standing for any. B is given A's rank with dims of 1 around it, then broadcast numpy's way.
Tensor64 legacy_broadcast(const pb::NodeProto& node, const Tensor64& a, const Tensor64& b,
                          const Binary& f) {
  if (int_attribute(node, "broadcast", 0) == 0) {
    if (a.dims != b.dims) eval_error(node, "inputs of different shapes without broadcast = 1");
    return broadcast(a, b, f);
  }
  const auto rank = static_cast<std::int64_t>(a.rank());
  const auto b_rank = static_cast<std::int64_t>(b.rank());
  std::int64_t axis = int_attribute(node, "axis", rank - b_rank);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis + b_rank > rank) eval_error(node, "B does not fit A's dims from axis");
  std::vector<std::int64_t> dims(a.rank(), 1);
  for (std::int64_t i = 0; i < b_rank; ++i) {
    const std::int64_t d = b.dims[static_cast<std::size_t>(i)];
    if (d != 1 && d != a.dims[static_cast<std::size_t>(axis + i)]) {
      eval_error(node, "B's dims do not match A's from axis " + std::to_string(axis));
    }
    dims[static_cast<std::size_t>(axis + i)] = d;
  }
  return broadcast(a, Tensor64{dims, b.values}, f);
}

}  // namespace

const std::set<std::string>& pointwise_ops() {
  static const std::set<std::string> ops = {
      "Relu",     "LeakyRelu", "Elu",  "Selu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh",
      "Softplus", "Softsign",  "Neg",  "Abs",  "Exp",         "Log",       "Sqrt",    "Reciprocal",
      "Erf",      "Floor",     "Ceil", "Clip", "Add",         "Sub",       "Mul",     "Div",
      "Pow",      "Max",       "Min",  "Sum",  "Mean",        "PRelu"};
  return ops;
}

Tensor64 pointwise_node(const pb::NodeProto& node, const std::vector<const Tensor64*>& in,
                        std::int64_t opset) {
  const std::string& op = node.op_type();
  const auto input = [&](std::size_t i) -> const Tensor64& {
    if (i >= in.size() || in[i] == nullptr) eval_error(node, "missing input " + std::to_string(i));
    return *in[i];
  };
  const auto has = [&](std::size_t i) { return i < in.size() && in[i] != nullptr; };
  if (op == "Clip") {
    double lo = -std::numeric_limits<double>::infinity(), hi = -lo;
    if (opset < 11) {
      lo = float_attribute(node, "min", static_cast<float>(lo));
      hi = float_attribute(node, "max", static_cast<float>(hi));
    } else {
      if (has(1)) lo = input(1).values.at(0);
      if (has(2)) hi = input(2).values.at(0);
    }
    return map(input(0), [=](double v) { return std::min(std::max(v, lo), hi); });
  }
  if (const Unary f = unary_function(node)) return map(input(0), f);
  const Binary f = binary_function(op);
  if (!f) eval_error(node, "not an elementwise op");
  const bool variadic = op == "Sum" || op == "Mean" || op == "Max" || op == "Min";
  if (opset < 7 && (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow")) {
    return legacy_broadcast(node, input(0), input(1), f);
  }
  if (opset < 7 && op == "PRelu" && input(1).values.size() != 1 && input(1).dims != input(0).dims) {
    // PRelu-1 and -6 take one slope or one per element, nothing in between.
    eval_error(node, "slope is neither one value nor X's shape (PRelu-6 and older)");
  }
  if (!variadic) return broadcast(input(0), input(1), f);
  Tensor64 y = input(0);
  for (std::size_t i = 1; i < in.size(); ++i) y = broadcast(y, input(i), f);
  if (op == "Mean") {
    const auto count = static_cast<double>(in.size());
    for (double& v : y.values) v /= count;
  }
  return y;
}

}  // namespace bnrt::onnx::detail
