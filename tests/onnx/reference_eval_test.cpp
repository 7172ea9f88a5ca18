// The float64 evaluator behind `bnrt fold --verify`, op by op on small hand-checked cases: the
// ops real models put between their batch norms (Pad, Transpose, Unsqueeze / Squeeze, the
// Reduce family, ceil-mode pooling, and the shape arithmetic of a channel shuffle: Shape,
// Gather, Slice, Cast, Split), Resize / Upsample, and the opset 1-6 forms of Add, Reshape and
// Concat. Expected values worked out by hand from the ONNX operator definitions (ceil-mode
// windows as PyTorch and ONNX Runtime count them), and for Resize also the ONNX backend cases
// with their reference outputs (tools/make_onnx_resize_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "bnrt/error.hpp"
#include "graph_builder.hpp"
#include "reference_eval.hpp"

namespace bnrt::testing {
namespace {

using onnx::detail::ReferenceEvaluator;
using onnx::detail::Tensor64;

/// Runs a one-output model on `x` (fed as input "x").
Tensor64 run(const pb::ModelProto& model, const Tensor64& x) {
  const ReferenceEvaluator evaluator(model);
  EXPECT_EQ(evaluator.unsupported(), "");
  const std::vector<Tensor64> outputs = evaluator.run({{"x", x}});
  EXPECT_EQ(outputs.size(), 1u);
  return outputs.at(0);
}
Tensor64 run(const GraphBuilder& b, const Tensor64& x) { return run(b.model(), x); }

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

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Every Resize / Upsample case of the ONNX backend tests (onnx 1.12: nearest with each
// nearest_mode, linear, cubic with and without exclude_outside, up and down, from scales and
// from sizes, each coordinate transformation, tf_crop_and_resize with and without points
// outside the input) against the outputs of the ONNX reference implementation, rounded to
// float: within 1e-6 of the largest value. (Two align_corners cases are worked out below
// instead, see the fixture script.)
TEST(ReferenceEval, ResizeMatchesTheOnnxBackendCases) {
  const std::filesystem::path dir = std::filesystem::path(BNRT_FIXTURE_DIR) / "onnx_resize";
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".onnx") continue;
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    pb::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(read_file(entry.path())));
    pb::TensorProto expected;
    ASSERT_TRUE(expected.ParseFromString(read_file(dir / (name + ".expected.pb"))));
    const ReferenceEvaluator evaluator(model);
    ASSERT_EQ(evaluator.unsupported(), "");
    const Tensor64 y = evaluator.run({}).at(0);
    ASSERT_EQ(y.dims, std::vector<std::int64_t>(expected.dims().begin(), expected.dims().end()));
    ASSERT_EQ(y.values.size(), static_cast<std::size_t>(expected.raw_data().size() / 4));
    double largest = 0, worst = 0;
    for (std::size_t i = 0; i < y.values.size(); ++i) {
      float want;
      std::memcpy(&want, expected.raw_data().data() + 4 * i, 4);
      largest = std::max(largest, std::fabs(static_cast<double>(want)));
      worst = std::max(worst, std::fabs(y.values[i] - want));
    }
    EXPECT_LE(worst, 1e-6 * largest);
    ++cases;
  }
  EXPECT_EQ(cases, 22) << "fixtures missing from " << dir;
}

// align_corners shrinking by scales: the output length is floor(4 * 0.6) = 2 and sources are
// j * (4 - 1) / (2 - 1) = 0, 3, as the definition and ONNX Runtime map them (onnx 1.12's
// reference divides by 2.4 - 1 instead). x = 1 .. 16 in 4 x 4 is a linear ramp, which cubic
// interpolation reproduces exactly: at sources 0, 1.5, 3 the values are 1 + col + 4 * row.
TEST(ReferenceEval, ResizeAlignCornersShrinkUsesTheOutputLength) {
  const auto ones_up = [](std::vector<std::int64_t> dims) {
    Tensor64 x = iota(std::move(dims));
    for (double& v : x.values) v += 1;
    return x;
  };
  {
    GraphBuilder b;
    b.input("x", {1, 1, 2, 4});
    b.node("Resize", {"x", "", b.initializer("scales", {4}, {1, 1, 0.6, 0.6})}, {"y"}, "",
           {{"mode", "linear"}, {"coordinate_transformation_mode", "align_corners"}});
    b.output("y", {1, 1, 1, 2});
    const Tensor64 y = run(b, ones_up({1, 1, 2, 4}));
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 1, 1, 2}));
    EXPECT_EQ(y.values, (std::vector<double>{1, 4}));
  }
  {
    GraphBuilder b;
    b.input("x", {1, 1, 4, 4});
    b.node("Resize", {"x", "", b.initializer("scales", {4}, {1, 1, 0.8, 0.8})}, {"y"}, "",
           {{"mode", "cubic"}, {"coordinate_transformation_mode", "align_corners"}});
    b.output("y", {1, 1, 3, 3});
    const Tensor64 y = run(b, ones_up({1, 1, 4, 4}));
    const std::vector<double> want = {1, 2.5, 4, 7, 8.5, 10, 13, 14.5, 16};
    ASSERT_EQ(y.values.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y.values[i], want[i], 1e-12);
  }
}

// tf_crop_and_resize on the ramp 0, 1, 2, 3: sources roi_start * 3 + j * (end - start) * 3 / 2;
// past the last value, the extrapolation value. By scales it is named, not evaluated (see
// crop_region).
TEST(ReferenceEval, ResizeTfCropAndResize) {
  const auto crop = [](std::vector<double> roi, const char* by) {
    GraphBuilder b(1, 13);
    b.input("x", {1, 1, 1, 4});
    const bool sizes = std::string(by) == "sizes";
    const std::string amount =
        sizes ? b.initializer("sizes", {4}, {1, 1, 1, 3}, pb::TensorProto::INT64)
              : b.initializer("scales", {4}, {1, 1, 1, 0.75});
    b.node("Resize",
           {"x", b.initializer("roi", {8}, roi), sizes ? "" : amount, sizes ? amount : ""}, {"y"},
           "resize",
           {{"mode", "linear"},
            {"coordinate_transformation_mode", "tf_crop_and_resize"},
            {"extrapolation_value", 7.0}});
    b.output("y", {1, 1, 1, 3});
    return b.model();
  };
  // The right half: sources 1.5, 2.25, 3.
  EXPECT_EQ(run(crop({0, 0, 0, 0.5, 1, 1, 1, 1}, "sizes"), iota({1, 1, 1, 4})).values,
            (std::vector<double>{1.5, 2.25, 3}));
  // Half past the end: sources 0, 2.25, 4.5 (outside).
  EXPECT_EQ(run(crop({0, 0, 0, 0, 1, 1, 1, 1.5}, "sizes"), iota({1, 1, 1, 4})).values,
            (std::vector<double>{0, 2.25, 7}));
  try {
    ReferenceEvaluator(crop({0, 0, 0, 0, 1, 1, 1, 1}, "scales")).run({{"x", iota({1, 1, 1, 4})}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("by scales is not evaluated"), std::string::npos)
        << e.what();
  }
}

// Resize-10 and Upsample-7 (scales as an attribute): output floor(dim * scale), asymmetric
// coordinates (x / scale), nearest rounding down; linear extends the edge value.
TEST(ReferenceEval, ResizeTenAndUpsampleSevenAreAsymmetric) {
  GraphBuilder b(1, 10);
  b.input("x", {1, 1, 1, 4});
  b.node("Resize", {"x", b.initializer("scales", {4}, {1, 1, 1, 2})}, {"y"}, "",
         {{"mode", "linear"}});
  b.output("y", {1, 1, 1, 8});
  const Tensor64 y = run(b, iota({1, 1, 1, 4}));
  EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 1, 1, 8}));
  EXPECT_EQ(y.values, (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3, 3}));

  GraphBuilder u(1, 7);
  u.input("x", {1, 1, 1, 2});
  u.node("Upsample", {"x"}, {"y"});
  u.output("y", {1, 1, 1, 6});
  pb::ModelProto model = u.model();
  pb::AttributeProto* scales = model.mutable_graph()->mutable_node(0)->add_attribute();
  scales->set_name("scales");
  scales->set_type(pb::AttributeProto::FLOATS);
  for (const float s : {1.0f, 1.0f, 1.0f, 3.0f}) scales->add_floats(s);
  EXPECT_EQ(run(model, iota({1, 1, 1, 2})).values, (std::vector<double>{0, 0, 0, 1, 1, 1}));
}

// Opset 18: sizes for the listed axes only; keep_aspect_ratio_policy scales every listed axis
// by the smallest (not_larger) of their ratios and rounds the output from it.
TEST(ReferenceEval, ResizeEighteenAxesAndAspectRatio) {
  {
    GraphBuilder b(1, 18);
    b.input("x", {1, 1, 2, 4});
    b.node("Resize", {"x", "", "", b.initializer("sizes", {1}, {3}, pb::TensorProto::INT64)}, {"y"},
           "", {{"mode", "linear"}, {"axes", std::vector<std::int64_t>{-1}}});
    b.output("y", {1, 1, 2, 3});
    // half_pixel, scale 3/4: source (j + 0.5) / 0.75 - 0.5 = 1/6, 3/2, 17/6 in each row.
    const Tensor64 y = run(b, iota({1, 1, 2, 4}));
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 1, 2, 3}));
    const std::vector<double> want = {1.0 / 6, 1.5, 17.0 / 6, 4 + 1.0 / 6, 5.5, 4 + 17.0 / 6};
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y.values[i], want[i], 1e-12);
  }
  {
    GraphBuilder b(1, 18);
    b.input("x", {1, 1, 2, 4});
    b.node("Resize", {"x", "", "", b.initializer("sizes", {2}, {2, 2}, pb::TensorProto::INT64)},
           {"y"}, "",
           {{"axes", std::vector<std::int64_t>{2, 3}}, {"keep_aspect_ratio_policy", "not_larger"}});
    b.output("y", {1, 1, 1, 2});
    // Ratios 1 and 1/2: both axes by 1/2, output 1 x 2; nearest, half_pixel: sources 0.5 and
    // 0.5, 2.5, ties rounded down: x[0][0], x[0][2].
    const Tensor64 y = run(b, iota({1, 1, 2, 4}));
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 1, 1, 2}));
    EXPECT_EQ(y.values, (std::vector<double>{0, 2}));
  }
}

// Opset 19's half_pixel_symmetric keeps the resized axis centred when floor() cut the output:
// 5 values by 0.5 give 2, sources 1 and 3 (half_pixel: 0.5 and 2.5).
TEST(ReferenceEval, ResizeHalfPixelSymmetricCentres) {
  for (const char* mode : {"half_pixel_symmetric", "half_pixel"}) {
    SCOPED_TRACE(mode);
    GraphBuilder b(1, 19);
    b.input("x", {1, 5});
    b.node("Resize", {"x", "", b.initializer("scales", {2}, {1, 0.5})}, {"y"}, "",
           {{"mode", "linear"}, {"coordinate_transformation_mode", mode}});
    b.output("y", {1, 2});
    EXPECT_EQ(run(b, iota({1, 5})).values, std::string(mode) == "half_pixel"
                                               ? (std::vector<double>{0.5, 2.5})
                                               : (std::vector<double>{1, 3}));
  }
}

// What the evaluator does not do is an error naming the node and the reason, so that `--verify`
// reports the model as not verifiable instead of comparing something else.
TEST(ReferenceEval, ResizeModesNotEvaluatedAreNamed) {
  const std::vector<std::pair<std::vector<Attribute>, std::string>> cases = {
      {{{"coordinate_transformation_mode", "tf_crop_and_resize"}}, "tf_crop_and_resize"},
      {{{"mode", "linear"}, {"antialias", 1}}, "antialias"},
      {{{"mode", "bicubic"}}, "mode 'bicubic'"}};
  for (const auto& [attributes, reason] : cases) {
    SCOPED_TRACE(reason);
    GraphBuilder b(1, 18);
    b.input("x", {1, 1, 4, 4});
    b.node("Resize", {"x", "", b.initializer("scales", {4}, {1, 1, 0.5, 0.5})}, {"y"}, "resize",
           attributes);
    b.output("y", {1, 1, 2, 2});
    const pb::ModelProto model = b.model();
    const ReferenceEvaluator evaluator(model);
    try {
      evaluator.run({{"x", iota({1, 1, 4, 4})}});
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'resize'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
  // An unnamed node goes by its output.
  GraphBuilder b(1, 18);
  b.input("x", {1, 1, 4, 4});
  b.node("Resize", {"x", "", b.initializer("scales", {4}, {1, 1, 0.5, 0.5})}, {"y"}, "",
         {{"coordinate_transformation_mode", "tf_crop_and_resize"}});
  b.output("y", {1, 1, 2, 2});
  pb::ModelProto model = b.model();
  model.mutable_graph()->mutable_node(0)->clear_name();
  const ReferenceEvaluator evaluator(model);
  try {
    evaluator.run({{"x", iota({1, 1, 4, 4})}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the Resize node writing 'y'"), std::string::npos)
        << e.what();
  }
}

/// A one-node graph of `op` on x = -2, -0.5, 0, 1.5 ([4]) and the other inputs given.
Tensor64 run_op(const std::string& op, std::vector<std::string> more_inputs = {},
                const std::vector<Attribute>& attributes = {},
                const std::function<void(GraphBuilder&)>& add_initializers = {}) {
  GraphBuilder b;
  b.input("x", {4});
  if (add_initializers) add_initializers(b);
  more_inputs.insert(more_inputs.begin(), "x");
  b.node(op, more_inputs, {"y"}, "", attributes);
  b.output("y", 1u);
  return run(b, Tensor64{{4}, {-2, -0.5, 0, 1.5}});
}

void expect_values(const Tensor64& y, const std::vector<double>& want) {
  ASSERT_EQ(y.values.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]) || std::isinf(want[i])) {
      EXPECT_EQ(std::isnan(y.values[i]), std::isnan(want[i])) << i;
      if (std::isinf(want[i])) {
        EXPECT_EQ(y.values[i], want[i]) << i;
      }
    } else {
      EXPECT_NEAR(y.values[i], want[i], 1e-12) << i;
    }
  }
}

// The elementwise ops detection heads and older CNNs put after their batch norms, against
// their definitions at x = -2, -0.5, 0, 1.5 (values from <cmath>'s functions of the same
// arguments, written out where they are not plain).
TEST(ReferenceEval, ElementwiseActivationsAndArithmetic) {
  expect_values(run_op("Elu", {}, {{"alpha", 0.5}}),
                {0.5 * std::expm1(-2.0), 0.5 * std::expm1(-0.5), 0, 1.5});
  const double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;
  expect_values(run_op("Selu"), {gamma * alpha * std::expm1(-2.0), gamma * alpha * std::expm1(-0.5),
                                 0, gamma * 1.5});
  expect_values(run_op("Softplus"), {std::log(1 + std::exp(-2.0)), std::log(1 + std::exp(-0.5)),
                                     std::log(2.0), std::log(1 + std::exp(1.5))});
  expect_values(run_op("Softsign"), {-2.0 / 3, -0.5 / 1.5, 0, 1.5 / 2.5});
  expect_values(run_op("Abs"), {2, 0.5, 0, 1.5});
  expect_values(run_op("Exp"), {std::exp(-2.0), std::exp(-0.5), 1, std::exp(1.5)});
  expect_values(run_op("Erf"), {std::erf(-2.0), std::erf(-0.5), 0, std::erf(1.5)});
  expect_values(run_op("Floor"), {-2, -1, 0, 1});
  expect_values(run_op("Ceil"), {-2, -0, 0, 2});
  expect_values(run_op("Reciprocal"), {-0.5, -2, INFINITY, 1.0 / 1.5});
  // PRelu with one slope per element, Pow by a broadcast scalar.
  expect_values(run_op("PRelu", {"slope"}, {},
                       [](GraphBuilder& b) {
                         b.initializer("slope", {4}, {0.125, 0.25, 0.375, 0.5});
                       }),
                {-0.25, -0.125, 0, 1.5});
  expect_values(run_op("Pow", {"two"}, {}, [](GraphBuilder& b) { b.initializer("two", {}, {2}); }),
                {4, 0.25, 0, 2.25});
  // Variadic, broadcasting: Max(x, 0, [1, 4]), Mean(x, x, a [1] of 3).
  expect_values(run_op("Max", {"zero", "row"}, {},
                       [](GraphBuilder& b) {
                         b.initializer("zero", {}, {0});
                         b.initializer("row", {1, 4}, {-1, -1, -1, 2});
                       }),
                {0, 0, 0, 2});
  expect_values(
      run_op("Mean", {"x", "three"}, {}, [](GraphBuilder& b) { b.initializer("three", {1}, {3}); }),
      {-1.0 / 3, 2.0 / 3, 1, 2});
  expect_values(run_op("Sqrt"), {NAN, NAN, 0, std::sqrt(1.5)});
}

TEST(ReferenceEval, ExpandAndConstantOfShape) {
  GraphBuilder b;
  b.input("x", {3, 1});
  // [3, 1] against [2, 1, 4]: [2, 3, 4], each row repeated.
  b.node("Expand", {"x", b.initializer("shape", {3}, {2, 1, 4}, pb::TensorProto::INT64)}, {"e"});
  b.node("ConstantOfShape", {b.initializer("shape2", {1}, {4}, pb::TensorProto::INT64)}, {"c"}, "",
         {{"value", make_tensor("v", {1}, {0.5})}});
  b.node("Add", {"e", "c"}, {"y"});
  b.output("y", {2, 3, 4});
  const Tensor64 y = run(b, Tensor64{{3, 1}, {1, 2, 3}});
  EXPECT_EQ(y.dims, (std::vector<std::int64_t>{2, 3, 4}));
  std::vector<double> want;
  for (int copy = 0; copy < 2; ++copy) {
    for (const double row : {1.5, 2.5, 3.5}) want.insert(want.end(), 4, row);
  }
  EXPECT_EQ(y.values, want);
}

// Opsets 1-6, as the ONNX model zoo's oldest files and onnx.version_converter write them:
// Add / Mul broadcast only B onto A and only with broadcast = 1 (B's dims matching A's from
// `axis`, by default A's last ones), Reshape takes its shape as an attribute, Concat's axis
// defaults to 1, and forms the evaluator does not read are named instead of misread.
TEST(ReferenceEval, LegacyOpsetFormsBroadcastReshapeConcat) {
  GraphBuilder b(1, 3);
  b.input("x", {1, 2, 2, 2});
  // Per channel (axis 1): channel 0 + 10, channel 1 + 20; then times B [2] on the last axis.
  b.node("Add", {"x", b.initializer("bias", {2}, {10, 20})}, {"a"}, "",
         {{"broadcast", 1}, {"axis", 1}});
  b.node("Mul", {"a", b.initializer("w", {2}, {1, -1})}, {"m"}, "", {{"broadcast", 1}});
  b.node("Reshape", {"m"}, {"r"}, "", {{"shape", std::vector<std::int64_t>{0, -1}}});
  b.node("Concat", {"r", "r"}, {"y"});
  b.output("y", {1, 16});
  const Tensor64 y = run(b, iota({1, 2, 2, 2}));
  EXPECT_EQ(y.dims, (std::vector<std::int64_t>{1, 16}));
  const std::vector<double> half = {10, -11, 12, -13, 24, -25, 26, -27};
  std::vector<double> want = half;
  want.insert(want.end(), half.begin(), half.end());
  EXPECT_EQ(y.values, want);

  // Without broadcast = 1 the shapes must be equal; B must fit A's dims from the axis.
  const std::vector<std::pair<std::vector<Attribute>, std::string>> refusals = {
      {{}, "without broadcast = 1"},
      {{{"broadcast", 1}, {"axis", 2}}, "do not match A's from axis 2"},
      {{{"broadcast", 1}, {"axis", 4}}, "does not fit A's dims"}};
  for (const auto& [attributes, reason] : refusals) {
    SCOPED_TRACE(reason);
    GraphBuilder bad(1, 6);
    bad.input("x", {1, 2, 3, 3});
    bad.node("Add", {"x", bad.initializer("bias", {2}, {1, 2})}, {"y"}, "add", attributes);
    bad.output("y", {1, 2, 3, 3});
    const pb::ModelProto model = bad.model();
    try {
      ReferenceEvaluator(model).run({{"x", iota({1, 2, 3, 3})}});
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }

  // From opset 7 the same Add broadcasts numpy's way: [1, 2, 2, 2] + [2] adds along the last dim.
  GraphBuilder modern(1, 7);
  modern.input("x", {1, 2, 2, 2});
  modern.node("Add", {"x", modern.initializer("bias", {2}, {10, 20})}, {"y"});
  modern.output("y", {1, 2, 2, 2});
  EXPECT_EQ(run(modern, iota({1, 2, 2, 2})).values,
            (std::vector<double>{10, 21, 12, 23, 14, 25, 16, 27}));

  // A training-mode BN-6 (is_test absent) and the experimental Upsample-1 are named, not
  // evaluated.
  GraphBuilder old(1, 1);
  old.input("x", {1, 2, 2, 2});
  old.batch_norm("bn", "x", 2);
  old.node("Relu", {"bn"}, {"y"});
  old.output("y", {1, 2, 2, 2});
  EXPECT_NE(ReferenceEvaluator(old.model()).unsupported().find("training mode"), std::string::npos);
  GraphBuilder upsample(1, 1);
  upsample.input("x", {1, 1, 2, 2});
  upsample.node("Upsample", {"x"}, {"y"}, "up", {{"height_scale", 2.0}, {"width_scale", 2.0}});
  upsample.output("y", {1, 1, 4, 4});
  EXPECT_NE(ReferenceEvaluator(upsample.model()).unsupported().find("older form"),
            std::string::npos);
}

// Pad-1 (`paddings`), Split-1 (sizes as a second input) and Cast-1 (`to` as a type's name), as
// opset 1-5 files spell them.
TEST(ReferenceEval, LegacyOpsetFormsPadSplitCast) {
  const auto build = [](const char* cast_to) {
    GraphBuilder b(1, 1);
    b.input("x", {2, 3});
    // [[0, 1, 2], [3, 4, 5]] padded by one 9 on each side of dim 1.
    b.node("Pad", {"x"}, {"p"}, "pad",
           {{"paddings", std::vector<std::int64_t>{0, 1, 0, 1}}, {"value", 9.0}});
    b.node("Split", {"p", b.initializer("sizes", {2}, {2, 3}, pb::TensorProto::INT64)},
           {"s0", "s1"}, "split", {{"axis", 1}});
    b.node("Mul", {"s1", b.initializer("half", {3}, {0.5, 0.5, 0.5})}, {"m"}, "",
           {{"broadcast", 1}});
    b.node("Cast", {"m"}, {"c"}, "cast", {{"to", cast_to}});
    b.node("Concat", {"s0", "c"}, {"y"});
    b.output("y", {2, 5});
    return b.model();
  };
  const pb::ModelProto model = build("INT32");
  ASSERT_EQ(ReferenceEvaluator(model).unsupported(), "");
  const Tensor64 y = run(model, iota({2, 3}));
  EXPECT_EQ(y.dims, (std::vector<std::int64_t>{2, 5}));
  // s0 = [[9, 0], [9, 3]]; s1 * 0.5 = [[0.5, 1, 4.5], [2, 2.5, 4.5]], truncated by the cast.
  EXPECT_EQ(y.values, (std::vector<double>{9, 0, 0, 1, 4, 9, 3, 2, 2, 4}));

  const pb::ModelProto misnamed = build("FLOAT32");
  try {
    ReferenceEvaluator(misnamed).run({{"x", iota({2, 3})}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'FLOAT32' names no tensor type"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace bnrt::testing
