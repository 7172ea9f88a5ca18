// The float64 evaluator behind `bnrt fold --verify`, op by op on small hand-checked cases: the
// ops real models put between their batch norms (Pad, Transpose, Unsqueeze / Squeeze, the
// Reduce family, ceil-mode pooling, and the shape arithmetic of a channel shuffle: Shape,
// Gather, Slice, Cast, Split). Expected values worked out by hand from the ONNX
// operator definitions (ceil-mode windows as PyTorch and ONNX Runtime count them).
#include <gtest/gtest.h>

#include "graph_builder.hpp"
#include "reference_eval.hpp"

namespace bnrt::testing {
namespace {

using onnx::detail::ReferenceEvaluator;
using onnx::detail::Tensor64;

/// Runs a one-output graph on `x` (fed as input "x").
Tensor64 run(const GraphBuilder& b, const Tensor64& x) {
  const pb::ModelProto model = b.model();
  const ReferenceEvaluator evaluator(model);
  EXPECT_EQ(evaluator.unsupported(), "");
  const std::vector<Tensor64> outputs = evaluator.run({{"x", x}});
  EXPECT_EQ(outputs.size(), 1u);
  return outputs.at(0);
}

/// x = 0, 1, 2, ... in `dims`.
Tensor64 iota(std::vector<std::int64_t> dims) {
  Tensor64 x{dims, {}};
  std::int64_t count = 1;
  for (auto d : dims) count *= d;
  for (std::int64_t i = 0; i < count; ++i) x.values.push_back(static_cast<double>(i));
  return x;
}

TEST(ReferenceEval, PadConstantGrowsAndCrops) {
  GraphBuilder b;
  b.input("x", {2, 3});
  // dim 0: one row of 9 in front; dim 1: one column cropped in front, two of 9 behind.
  b.node("Pad",
         {"x", b.initializer("pads", {4}, {1, -1, 0, 2}, pb::TensorProto::INT64),
          b.initializer("value", {}, {9})},
         {"y"});
  b.output("y", {3, 4});
  const Tensor64 y = run(b, iota({2, 3}));
  EXPECT_EQ(y.dims, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(y.values, (std::vector<double>{9, 9, 9, 9, 1, 2, 9, 9, 4, 5, 9, 9}));
}

TEST(ReferenceEval, TransposeUnsqueezeSqueeze) {
  GraphBuilder b;
  b.input("x", {2, 3});
  b.node("Transpose", {"x"}, {"t"}, "", {{"perm", std::vector<std::int64_t>{1, 0}}});
  b.node("Unsqueeze", {"t", b.initializer("axes", {2}, {0, -1}, pb::TensorProto::INT64)}, {"u"});
  b.node("Squeeze", {"u", b.initializer("axes0", {1}, {0}, pb::TensorProto::INT64)}, {"y"});
  b.output("y", {3, 2, 1});
  const Tensor64 y = run(b, iota({2, 3}));
  EXPECT_EQ(y.dims, (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_EQ(y.values, (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(ReferenceEval, ReduceKeepsOrDropsTheAxes) {
  for (const bool keep : {true, false}) {
    GraphBuilder b;
    b.input("x", {2, 3, 2});
    b.node("ReduceMean", {"x"}, {"y"}, "",
           {{"axes", std::vector<std::int64_t>{-1, 1}}, {"keepdims", keep ? 1 : 0}});
    b.output("y", keep ? std::vector<std::int64_t>{2, 1, 1} : std::vector<std::int64_t>{2});
    const Tensor64 y = run(b, iota({2, 3, 2}));
    EXPECT_EQ(y.dims, keep ? (std::vector<std::int64_t>{2, 1, 1}) : std::vector<std::int64_t>{2});
    EXPECT_EQ(y.values, (std::vector<double>{2.5, 8.5}));  // means of 0..5 and 6..11
  }
  GraphBuilder b;
  b.input("x", {2, 3});
  b.node("ReduceMax", {"x"}, {"y"}, "", {{"keepdims", 0}});  // no axes: all of them
  b.output("y", std::vector<std::int64_t>{});
  EXPECT_EQ(run(b, iota({2, 3})).values, (std::vector<double>{5}));
}

TEST(ReferenceEval, SliceGatherShapeCast) {
  {
    // Slice axis 2 backwards by 2 from the last (-1) to before the first (-5 clamps to -1),
    // axis 1 by 2: y[n][j][k] = x[n][2j][3 - 2k]. Then Gather rows [-1, 0] of axis 1.
    GraphBuilder b;
    b.input("x", {2, 3, 4});
    const auto i64 = pb::TensorProto::INT64;
    b.node(
        "Slice",
        {"x", b.initializer("starts", {2}, {-1, 0}, i64), b.initializer("ends", {2}, {-5, 3}, i64),
         b.initializer("axes", {2}, {2, 1}, i64), b.initializer("steps", {2}, {-2, 2}, i64)},
        {"s"});
    b.node("Gather", {"s", b.initializer("rows", {2}, {-1, 0}, i64)}, {"y"}, "", {{"axis", 1}});
    b.output("y", {2, 2, 2});
    const Tensor64 y = run(b, iota({2, 3, 4}));
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{2, 2, 2}));
    EXPECT_EQ(y.values, (std::vector<double>{11, 9, 3, 1, 23, 21, 15, 13}));
  }
  {
    GraphBuilder b(1, 15);
    b.input("x", {2, 3, 4});
    b.node("Shape", {"x"}, {"y"}, "", {{"start", -2}});
    b.output("y", {2}, pb::TensorProto::INT64);
    EXPECT_EQ(run(b, iota({2, 3, 4})).values, (std::vector<double>{3, 4}));
  }
  {
    GraphBuilder b;
    b.input("x", {6});
    b.node("Mul", {"x", b.initializer("k", {}, {-0.7})}, {"m"});
    b.node("Cast", {"m"}, {"y"}, "", {{"to", static_cast<int>(pb::TensorProto::INT32)}});
    b.output("y", {6}, pb::TensorProto::INT32);
    EXPECT_EQ(run(b, iota({6})).values, (std::vector<double>{0, 0, -1, -2, -2, -3}));
  }
}

TEST(ReferenceEval, SplitGivesEachOutputItsPart) {
  GraphBuilder b;
  b.input("x", {2, 5});
  b.node("Split", {"x", b.initializer("sizes", {2}, {2, 3}, pb::TensorProto::INT64)}, {"a", "c"},
         "", {{"axis", -1}});
  b.output("a", {2, 2});
  b.output("c", {2, 3});
  const pb::ModelProto model = b.model();
  const ReferenceEvaluator evaluator(model);
  ASSERT_EQ(evaluator.unsupported(), "");
  const std::vector<Tensor64> parts = evaluator.run({{"x", iota({2, 5})}});
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].dims, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(parts[0].values, (std::vector<double>{0, 1, 5, 6}));
  EXPECT_EQ(parts[1].dims, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(parts[1].values, (std::vector<double>{2, 3, 4, 7, 8, 9}));
}

TEST(ReferenceEval, CeilModePoolsCountTheLastPartialWindow) {
  // A row of 5 values, kernel 2, stride 2: floor gives 2 windows, ceil 3 (the last holds x[4]).
  for (const char* op : {"MaxPool", "AveragePool"}) {
    SCOPED_TRACE(op);
    GraphBuilder b;
    b.input("x", {1, 1, 1, 5});
    b.node(op, {"x"}, {"y"}, "",
           {{"kernel_shape", std::vector<std::int64_t>{1, 2}},
            {"strides", std::vector<std::int64_t>{1, 2}},
            {"ceil_mode", 1}});
    b.output("y", {1, 1, 1, 3});
    const Tensor64 y = run(b, iota({1, 1, 1, 5}));
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 1, 1, 3}));
    EXPECT_EQ(y.values, std::string(op) == "MaxPool" ? (std::vector<double>{1, 3, 4})
                                                     : (std::vector<double>{0.5, 2.5, 4}));
  }
  // 5 values padded by 1 on each side, kernel 2, stride 2: ceil((5 + 2 - 2) / 2) + 1 = 4, but
  // the fourth window would start at 3 * 2 - 1 = 5, past the input: 3 windows (PyTorch's
  // max_pool1d / avg_pool1d with ceil_mode: [0, 2, 4] and, counting the pad, [0, 1.5, 3.5]).
  for (const char* op : {"MaxPool", "AveragePool"}) {
    SCOPED_TRACE(op);
    GraphBuilder b;
    b.input("x", {1, 1, 5});
    std::vector<Attribute> attributes = {{"kernel_shape", std::vector<std::int64_t>{2}},
                                         {"strides", std::vector<std::int64_t>{2}},
                                         {"pads", std::vector<std::int64_t>{1, 1}},
                                         {"ceil_mode", 1}};
    if (std::string(op) == "AveragePool") attributes.push_back({"count_include_pad", 1});
    b.node(op, {"x"}, {"y"}, "", attributes);
    b.output("y", {1, 1, 3});
    const Tensor64 y = run(b, iota({1, 1, 5}));
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 1, 3}));
    EXPECT_EQ(y.values, std::string(op) == "MaxPool" ? (std::vector<double>{0, 2, 4})
                                                     : (std::vector<double>{0, 1.5, 3.5}));
  }
}

}  // namespace
}  // namespace bnrt::testing
