// The BatchNormalization fold pass on small models built in C++: every fold and refuse rule,
// node and initializer counts, the ONNX checker on every result, and the numerics of every
// fold against bnrt's float64 evaluator (original vs folded on random inputs).
#include <gtest/gtest.h>

#include "bnrt/error.hpp"
#include "bnrt/onnx.hpp"
#include "graph_builder.hpp"

namespace bnrt::testing {
namespace {

using onnx::Outcome;

struct Folded {
  onnx::PassReport report;
  onnx::Model model;
};

/// Folds, then checks the result with the ONNX checker and (unless the graph holds ops the
/// evaluator lacks) against the original in float64.
Folded fold(const GraphBuilder& builder, const onnx::FoldOptions& options = {},
            bool expect_verified = true, std::int64_t ir_version = 7) {
  onnx::Model original = builder.build(ir_version);
  onnx::Model model = original.copy();
  onnx::PassReport report = model.fold_batch_norms(options);
  report.check = model.check();
  EXPECT_TRUE(report.check.ran && report.check.passed) << report.check.message;
  report.verify = onnx::verify(original, model);
  if (expect_verified) {
    EXPECT_TRUE(report.verify.ran) << report.verify.message;
    EXPECT_TRUE(report.verify.passed) << report.summary();
  }
  return {std::move(report), std::move(model)};
}

int count_ops(const onnx::Model& model, const std::string& op) {
  int count = 0;
  for (const auto& node : model.impl().proto.graph().node()) count += node.op_type() == op;
  return count;
}

const pb::NodeProto& find_node(const onnx::Model& model, const std::string& name) {
  for (const auto& node : model.impl().proto.graph().node()) {
    if (node.name() == name) return node;
  }
  throw std::runtime_error("no node " + name);
}

bool has_initializer(const onnx::Model& model, const std::string& name) {
  for (const auto& tensor : model.impl().proto.graph().initializer()) {
    if (tensor.name() == name) return true;
  }
  return false;
}

// ---- folds into the producer ----------------------------------------------------------------

TEST(FoldPass, ConvThenBatchNormFoldsWithAndWithoutBias) {
  for (const bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "with bias" : "without bias");
    GraphBuilder b;
    b.input("x", {1, 3, 6, 5});
    std::vector<std::string> inputs{"x", b.random_initializer("w", {4, 3, 3, 3})};
    if (bias) inputs.push_back(b.random_initializer("b", {4}));
    b.node("Conv", inputs, {"c"}, "conv", {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}}});
    b.node("Relu", {b.batch_norm("bn", "c", 4)}, {"y"});
    b.output("y", {1, 4, 6, 5});
    const Folded f = fold(b);
    ASSERT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(f.report.decisions[0].outcome, Outcome::folded_into_producer);
    EXPECT_EQ(f.report.decisions[0].target, "conv");
    EXPECT_EQ(count_ops(f.model, "BatchNormalization"), 0);
    EXPECT_EQ(f.report.nodes_after, 2u);
    // The conv now produces the BN's output name, with a bias; BN parameters are gone.
    const pb::NodeProto& conv = find_node(f.model, "conv");
    EXPECT_EQ(conv.output(0), "bn");
    ASSERT_EQ(conv.input_size(), 3);
    EXPECT_EQ(f.report.initializers_after, 2u);
    EXPECT_FALSE(has_initializer(f.model, "bn.mean"));
  }
}

TEST(FoldPass, EveryConvFamilyAndGroupingFolds) {
  struct Case {
    const char* op;
    std::vector<std::int64_t> weight, input;
    std::int64_t group, out_channels;
  };
  const Case cases[] = {
      {"Conv", {6, 1, 3}, {2, 6, 9}, 6, 6},                       // 1-D depthwise
      {"Conv", {6, 2, 3, 3}, {1, 4, 5, 5}, 2, 6},                 // 2-D groups 2
      {"Conv", {9, 2, 3, 3}, {1, 6, 5, 5}, 3, 9},                 // groups 3, not 1 or C
      {"Conv", {4, 2, 2, 2, 2}, {1, 2, 3, 4, 3}, 1, 4},           // 3-D
      {"ConvTranspose", {4, 3, 3, 3}, {1, 4, 3, 3}, 1, 3},        // transposed
      {"ConvTranspose", {4, 3, 2, 2}, {1, 4, 3, 3}, 2, 6},        // transposed, groups 2
      {"ConvTranspose", {5, 1, 3, 3}, {1, 5, 4, 4}, 5, 5},        // transposed depthwise
      {"ConvTranspose", {2, 2, 2, 2, 2}, {1, 2, 2, 3, 2}, 1, 2},  // 3-D transposed
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.op) + " group " + std::to_string(c.group));
    GraphBuilder b(7);
    b.input("x", c.input);
    b.node(c.op,
           {"x", b.random_initializer("w", c.weight), b.random_initializer("b", {c.out_channels})},
           {"c"}, "layer", {{"group", c.group}});
    b.batch_norm("bn", "c", c.out_channels);
    b.output("bn", c.input.size());
    const Folded f = fold(b);
    EXPECT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(f.report.decisions[0].target_op, c.op);
  }
}

TEST(FoldPass, GemmFoldsWithEveryBiasForm) {
  struct Case {
    std::string name;
    bool trans_b;
    double alpha, beta;
    std::vector<std::int64_t> c_dims;  // empty: no C
  };
  const Case cases[] = {{"no C", false, 1, 1, {}},           {"C [N]", true, 1, 1, {5}},
                        {"C [1, N]", false, 0.5, 2, {1, 5}}, {"scalar C", true, 1, 3, {}},
                        {"C [1]", false, 2, 0.5, {1}},       {"beta 0", true, 1, 0, {5}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GraphBuilder b(11);
    b.input("x", {3, 4});
    std::vector<std::string> inputs{
        "x", b.random_initializer("w", c.trans_b ? std::vector<std::int64_t>{5, 4}
                                                 : std::vector<std::int64_t>{4, 5})};
    if (c.name == "scalar C") {
      inputs.push_back(b.initializer("c", {}, {0.25}));
    } else if (!c.c_dims.empty()) {
      inputs.push_back(b.random_initializer("c", c.c_dims));
    }
    b.node("Gemm", inputs, {"g"}, "gemm",
           {{"transB", c.trans_b ? 1 : 0}, {"alpha", c.alpha}, {"beta", c.beta}});
    b.batch_norm("bn", "g", 5);
    b.output("bn", 2u);
    const Folded f = fold(b);
    EXPECT_EQ(f.report.folded(), 1u) << f.report.summary();
  }
}

TEST(FoldPass, GemmWithPerRowBiasIsKept) {
  GraphBuilder b;
  b.input("x", {3, 4});
  b.node("Gemm", {"x", b.random_initializer("w", {4, 5}), b.random_initializer("c", {3, 5})}, {"g"},
         "gemm");
  b.batch_norm("bn", "g", 5);
  b.output("bn", 2u);
  const Folded f = fold(b, {}, true);
  ASSERT_EQ(f.report.kept(), 1u);
  EXPECT_NE(f.report.decisions[0].reason.find("not one value per output channel"),
            std::string::npos)
      << f.report.decisions[0].reason;
}

TEST(FoldPass, MatMulBecomesGemmOnlyWhenItsInputIs2D) {
  {
    GraphBuilder b;
    b.input("x", {3, 4});
    b.node("MatMul", {"x", b.random_initializer("w", {4, 5})}, {"m"}, "matmul");
    b.batch_norm("bn", "m", 5);
    b.output("bn", 2u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(f.report.decisions[0].target_op, "Gemm");
    EXPECT_EQ(count_ops(f.model, "MatMul"), 0);
  }
  {
    // [2, 3, 4] x [4, 5]: BN normalizes dim 1 (3 channels), not the weight's columns.
    GraphBuilder b;
    b.input("x", {2, 3, 4});
    b.node("MatMul", {"x", b.random_initializer("w", {4, 5})}, {"m"}, "matmul");
    b.batch_norm("bn", "m", 3);
    b.output("bn", 3u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.kept(), 1u);
    EXPECT_NE(f.report.decisions[0].reason.find("3-D"), std::string::npos)
        << f.report.decisions[0].reason;
  }
  {
    // The MatMul's input rank follows from the ops before it (no value_info): a Relu.
    GraphBuilder b;
    b.input("x", {3, 4});
    b.node("Relu", {"x"}, {"r"});
    b.node("MatMul", {"r", b.random_initializer("w", {4, 5})}, {"m"}, "matmul");
    b.batch_norm("bn", "m", 5);
    b.output("bn", 2u);
    EXPECT_EQ(fold(b).report.folded(), 1u);
  }
  {
    // A head: pooled maps flattened (rank 2) into a MatMul, then BN1d, then a MatMul whose
    // input went through a Reshape to [3, 6] and the BN above: both BNs fold.
    GraphBuilder b;
    b.input("x", {3, 2, 2, 2});
    b.node("GlobalAveragePool", {"x"}, {"p"});
    b.node("Flatten", {"p"}, {"f"});
    b.node("MatMul", {"f", b.random_initializer("w", {2, 6})}, {"m"}, "matmul");
    b.node("Add", {b.batch_norm("bn", "m", 6), b.random_initializer("bias", {6})}, {"a"});
    b.node("Reshape", {"a", b.initializer("shape", {2}, {3, 6}, pb::TensorProto::INT64)}, {"r"});
    b.node("MatMul", {"r", b.random_initializer("w2", {6, 4})}, {"m2"}, "matmul2");
    b.batch_norm("bn2", "m2", 4);
    b.output("bn2", 2u);
    const Folded f = fold(b, {}, false);  // the evaluator lacks GlobalAveragePool's peers
    EXPECT_EQ(f.report.folded(), 2u) << f.report.summary();
  }
  {
    // A rank nothing states or implies (a Squeeze of every 1, whichever those are) leaves the
    // BN unfolded, saying so.
    GraphBuilder b;
    b.input("x", {3, 1, 4});
    b.node("Squeeze", {"x"}, {"r"});
    b.node("MatMul", {"r", b.random_initializer("w", {4, 5})}, {"m"}, "matmul");
    b.batch_norm("bn", "m", 5);
    b.output("bn", 2u);
    const Folded f = fold(b, {}, false);
    ASSERT_EQ(f.report.kept(), 1u);
    EXPECT_NE(f.report.decisions[0].reason.find("rank of MatMul input 'r' is unknown"),
              std::string::npos)
        << f.report.decisions[0].reason;
  }
}

// A bias-free Linear as torch.onnx writes it without constant folding: MatMul(x, Transpose(W))
// with W [N, K]. The Gemm it becomes reads W with transB = 1 and the Transpose goes; W is
// folded in place when the Transpose was its only reader, else into a copy. A Transpose with
// another reader, or of another perm, stays and keeps the BN.
TEST(FoldPass, MatMulOfTransposedWeightBecomesGemmWithTransB) {
  for (const bool before : {false, true}) {
    SCOPED_TRACE(before ? "BN before" : "BN after");
    GraphBuilder b;
    b.input("x", {3, 4});
    const std::string w = b.random_initializer("w", {5, 4});
    b.node("Transpose", {w}, {"wt"}, "transpose", {{"perm", std::vector<std::int64_t>{1, 0}}});
    const std::string in = before ? b.batch_norm("bn", "x", 4) : "x";
    b.node("MatMul", {in, "wt"}, {"m"}, "matmul");
    const std::string out = before ? "m" : b.batch_norm("bn", "m", 5);
    b.output(out, 2u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(count_ops(f.model, "Transpose"), 0);
    const pb::NodeProto& gemm = find_node(f.model, "matmul");
    EXPECT_EQ(gemm.op_type(), "Gemm");
    EXPECT_EQ(gemm.input(1), "w");  // folded in place
    EXPECT_EQ(f.report.nodes_after, 1u);
    EXPECT_EQ(f.report.initializers_after, 2u);  // W and the new bias
  }
  {
    // W also read by a Gemm: the fold goes into a copy, W stays for the Gemm.
    GraphBuilder b;
    b.input("x", {3, 4});
    const std::string w = b.random_initializer("w", {5, 4});
    b.node("Transpose", {w}, {"wt"}, "transpose");  // no perm: reversed, the same for 2-D
    b.node("MatMul", {"x", "wt"}, {"m"}, "matmul");
    b.node("Gemm", {"x", w}, {"g"}, "other_reader", {{"transB", 1}});
    b.batch_norm("bn", "m", 5);
    b.output("bn", 2u);
    b.output("g", 2u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(count_ops(f.model, "Transpose"), 0);
    EXPECT_NE(find_node(f.model, "matmul").input(1), "w");
    EXPECT_EQ(find_node(f.model, "other_reader").input(1), "w");
    EXPECT_TRUE(has_initializer(f.model, "w"));
  }
  {
    GraphBuilder b;
    b.input("x", {3, 4});
    const std::string w = b.random_initializer("w", {5, 4});
    b.node("Transpose", {w}, {"wt"}, "transpose");
    b.node("MatMul", {"x", "wt"}, {"m"}, "matmul");
    b.node("Relu", {"wt"}, {"wr"}, "other_reader");  // Transpose(W) read twice: it stays
    b.batch_norm("bn", "m", 5);
    b.output("bn", 2u);
    b.output("wr", 2u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.kept(), 1u) << f.report.summary();
    EXPECT_NE(f.report.decisions[0].reason.find("computed by node 'transpose' (Transpose)"),
              std::string::npos)
        << f.report.decisions[0].reason;
  }
  for (const bool copy_read_elsewhere : {false, true}) {
    // Transpose(W) read through two Identity nodes: the Gemm reads W and the copies go, unless
    // a copy has another reader.
    SCOPED_TRACE(copy_read_elsewhere ? "copy read elsewhere" : "copies read once");
    GraphBuilder b;
    b.input("x", {3, 4});
    const std::string w = b.random_initializer("w", {5, 4});
    b.node("Transpose", {w}, {"wt"}, "transpose");
    b.node("Identity", {"wt"}, {"wt1"}, "copy1");
    b.node("Identity", {"wt1"}, {"wt2"}, "copy2");
    b.node("MatMul", {"x", "wt2"}, {"m"}, "matmul");
    b.batch_norm("bn", "m", 5);
    b.output("bn", 2u);
    if (copy_read_elsewhere) {
      b.node("Relu", {"wt1"}, {"wr"}, "other_reader");
      b.output("wr", 2u);
    }
    const Folded f = fold(b);
    if (copy_read_elsewhere) {
      EXPECT_EQ(f.report.kept(), 1u) << f.report.summary();
      continue;
    }
    ASSERT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(count_ops(f.model, "Transpose"), 0);
    EXPECT_EQ(count_ops(f.model, "Identity"), 0);
    EXPECT_EQ(find_node(f.model, "matmul").input(1), "w");
    EXPECT_EQ(f.report.nodes_after, 1u);
  }
}

TEST(FoldPass, BatchNormAfterBatchNormFoldsBothIntoTheConv) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
  b.batch_norm("bn2", b.batch_norm("bn1", "c", 3), 3);
  b.output("bn2", 4u);
  const Folded f = fold(b);
  EXPECT_EQ(f.report.folded(), 2u) << f.report.summary();
  EXPECT_EQ(f.report.nodes_after, 1u);
}

// ---- folds into the consumer -----------------------------------------------------------------

TEST(FoldPass, BatchNormBeforeGemmMatMulAndUnpaddedConvFoldsIntoThem) {
  for (const std::string op : {"Gemm", "GemmT", "MatMul", "Conv", "ConvSame1x1"}) {
    SCOPED_TRACE(op);
    GraphBuilder b(3);
    const bool conv = op.rfind("Conv", 0) == 0;
    b.input("x", conv ? std::vector<std::int64_t>{2, 4, 5, 5} : std::vector<std::int64_t>{3, 4});
    // The BN's input is a graph input: only the consumer side can take it.
    const std::string y = b.batch_norm("bn", "x", 4);
    if (op == "Gemm") {
      b.node("Gemm", {y, b.random_initializer("w", {4, 6}), b.random_initializer("c", {6})},
             {"out"}, "layer", {{"alpha", 0.5}, {"beta", 2.0}});
    } else if (op == "GemmT") {
      b.node("Gemm", {y, b.random_initializer("w", {6, 4})}, {"out"}, "layer", {{"transB", 1}});
    } else if (op == "MatMul") {
      b.node("MatMul", {y, b.random_initializer("w", {4, 6})}, {"out"}, "layer");
    } else if (op == "Conv") {
      b.node("Conv", {y, b.random_initializer("w", {6, 2, 3, 3}), b.random_initializer("c", {6})},
             {"out"}, "layer", {{"group", 2}, {"strides", std::vector<std::int64_t>{2, 2}}});
    } else {
      b.node("Conv", {y, b.random_initializer("w", {6, 4, 1, 1})}, {"out"}, "layer",
             {{"auto_pad", "SAME_UPPER"}});
    }
    b.output("out", conv ? 4u : 2u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.folded(), 1u) << f.report.summary();
    EXPECT_EQ(f.report.decisions[0].outcome, Outcome::folded_into_consumer);
    EXPECT_EQ(find_node(f.model, "layer").input(0), "x");
  }
}

TEST(FoldPass, BatchNormBeforePaddedConvConvTransposeOrTransposedGemmIsKept) {
  struct Case {
    std::string what, expected_reason;
  };
  for (const Case& c : {Case{"padded", "padding zeros"}, Case{"same", "padding zeros"},
                        Case{"transpose", "ConvTranspose cannot be folded exactly"},
                        Case{"transA", "transA = 1"}}) {
    SCOPED_TRACE(c.what);
    GraphBuilder b;
    const bool gemm = c.what == "transA";
    // transA: x [3, 4] is A transposed; the BN's channels (dim 1) are Gemm's M, not K.
    b.input("x", gemm ? std::vector<std::int64_t>{3, 4} : std::vector<std::int64_t>{1, 4, 5, 5});
    const std::string y = b.batch_norm("bn", "x", 4);
    if (c.what == "padded") {
      b.node("Conv", {y, b.random_initializer("w", {2, 4, 3, 3})}, {"out"}, "layer",
             {{"pads", std::vector<std::int64_t>{0, 1, 0, 1}}});
    } else if (c.what == "same") {
      b.node("Conv", {y, b.random_initializer("w", {2, 4, 3, 3})}, {"out"}, "layer",
             {{"auto_pad", "SAME_LOWER"}});
    } else if (c.what == "transpose") {
      b.node("ConvTranspose", {y, b.random_initializer("w", {4, 2, 3, 3})}, {"out"}, "layer");
    } else {
      b.node("Gemm", {y, b.random_initializer("w", {3, 6})}, {"out"}, "layer", {{"transA", 1}});
    }
    b.output("out", gemm ? 2u : 4u);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.kept(), 1u);
    EXPECT_NE(f.report.decisions[0].reason.find(c.expected_reason), std::string::npos)
        << f.report.decisions[0].reason;
    EXPECT_EQ(count_ops(f.model, "BatchNormalization"), 1);
  }
}

// ---- must not fold -------------------------------------------------------------------------

/// x -> Conv(w) -> c -> BN -> y, with `tweak` changing one thing; expects the BN kept with a
/// reason containing `reason`.
void expect_kept(const std::function<void(GraphBuilder&)>& tweak, const std::string& reason,
                 const onnx::FoldOptions& options = {}) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  tweak(b);
  b.output("y", 4u);
  const Folded f = fold(b, options);
  ASSERT_EQ(f.report.decisions.size(), 1u);
  EXPECT_EQ(f.report.decisions[0].outcome, Outcome::kept) << f.report.summary();
  EXPECT_NE(f.report.decisions[0].reason.find(reason), std::string::npos)
      << "reason: " << f.report.decisions[0].reason;
}

TEST(FoldPass, ProducerOutputWithAnotherConsumerIsNotFolded) {
  expect_kept(
      [](GraphBuilder& b) {
        b.node("Conv", {"x", b.random_initializer("w", {3, 2, 3, 3})}, {"c"}, "conv");
        b.node("Add", {b.batch_norm("bn", "c", 3), "c"}, {"y"});
      },
      "other consumer");
}

TEST(FoldPass, NeighboursThatAreNotLayersAreNamedAsSuch) {
  // DenseNet's BN sits between a Concat and a Relu: each side's reason names the op.
  expect_kept(
      [](GraphBuilder& b) {
        b.node("Concat", {"x", "x"}, {"cat"}, "concat", {{"axis", std::int64_t{1}}});
        b.node("Relu", {b.batch_norm("bn", "cat", 4)}, {"y"}, "relu");
      },
      "producer: node 'concat' (Concat): it is not a Conv, ConvTranspose, Gemm or MatMul; "
      "consumer: node 'relu' (Relu): it is not a Conv, ConvTranspose, Gemm or MatMul");
}

TEST(FoldPass, ProducerOutputThatIsAGraphOutputIsNotFolded) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 3, 3})}, {"c"}, "conv");
  b.batch_norm("bn", "c", 3);
  b.output("c", 4u);
  b.output("bn", 4u);
  const Folded f = fold(b);
  ASSERT_EQ(f.report.kept(), 1u);
  EXPECT_NE(f.report.decisions[0].reason.find("graph output"), std::string::npos);
}

TEST(FoldPass, NonConstantWeightsOrParametersAreNotFolded) {
  expect_kept(
      [](GraphBuilder& b) {  // the weight is fed at run time
        b.input("w", {3, 2, 3, 3});
        b.node("Conv", {"x", "w"}, {"c"}, "conv");
        b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
      },
      "graph input");
  expect_kept(
      [](GraphBuilder& b) {  // an initializer that is also a graph input can be overridden
        b.random_initializer("w", {3, 2, 3, 3});
        b.input("w", {3, 2, 3, 3});
        b.node("Conv", {"x", "w"}, {"c"}, "conv");
        b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
      },
      "can be overridden");
  expect_kept(
      [](GraphBuilder& b) {  // the weight is computed
        b.node("Neg", {b.random_initializer("w0", {3, 2, 3, 3})}, {"w"}, "negate");
        b.node("Conv", {"x", "w"}, {"c"}, "conv");
        b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
      },
      "computed by node 'negate' (Neg)");
  expect_kept(
      [](GraphBuilder& b) {  // the variance is a graph input
        b.node("Conv", {"x", b.random_initializer("w", {3, 2, 3, 3})}, {"c"}, "conv");
        auto params = b.bn_params("bn", 3);
        b.input("running_var", {3});
        b.node("BatchNormalization", {"c", params[0], params[1], params[2], "running_var"}, {"bn"},
               "bn");
        b.node("Relu", {"bn"}, {"y"});
      },
      "input_var ('running_var') is a graph input");
  expect_kept(
      [](GraphBuilder& b) {  // an Identity passes a graph input on: still fed at run time
        b.input("w0", {3, 2, 3, 3});
        b.node("Identity", {"w0"}, {"w"});
        b.node("Conv", {"x", "w"}, {"c"}, "conv");
        b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
      },
      "weight 'w' (through Identity) is a graph input");
}

// Up to IR version 3 every initializer is also listed as a graph input, and is a constant (as
// ONNX Runtime reads them; from IR 4 on such an input is overridable and kept, see above): they
// fold, the new bias is listed as an input too, and initializers left unread go with theirs.
TEST(FoldPass, InitializersListedAsInputsAreConstantsUpToIrVersion3) {
  GraphBuilder b(3, 8);
  b.input("x", {1, 2, 3, 3});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
  b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
  b.output("y", 4u);
  b.input("w", {3, 2, 1, 1});
  for (const char* param : {"bn.scale", "bn.B", "bn.mean", "bn.var"}) b.input(param, {3});
  const Folded f = fold(b, {}, true, 3);
  EXPECT_EQ(f.report.folded(), 1u) << f.report.summary();
  const pb::GraphProto& graph = f.model.impl().proto.graph();
  ASSERT_EQ(graph.initializer_size(), 2);  // the weight and the new bias
  std::vector<std::string> inputs;
  for (const auto& input : graph.input()) inputs.push_back(input.name());
  EXPECT_EQ(inputs, (std::vector<std::string>{"x", "w", graph.initializer(1).name()}));
  EXPECT_EQ(graph.input(2).type().tensor_type().shape().dim(0).dim_value(), 3);
}

TEST(FoldPass, TrainingModeAndKeepListAreRespected) {
  expect_kept(
      [](GraphBuilder& b) {
        b.node("Conv", {"x", b.random_initializer("w", {3, 2, 3, 3})}, {"c"}, "conv");
        b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
      },
      "listed to keep", {.keep = {"bn"}});
}

TEST(FoldPass, BatchNormInTrainingModeIsKept) {
  // BN-14 with training_mode = 1 (and its running-stat outputs): never folded.
  GraphBuilder b(1, 14);
  b.input("x", {2, 2, 4, 4});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 3, 3})}, {"c"}, "conv");
  auto params = b.bn_params("bn", 3);
  b.node("BatchNormalization", {"c", params[0], params[1], params[2], params[3]},
         {"bn", "running_mean", "running_var"}, "bn", {{"training_mode", 1}});
  b.output("bn", 4u);
  const Folded f = fold(b, {}, false);
  ASSERT_EQ(f.report.kept(), 1u);
  EXPECT_NE(f.report.decisions[0].reason.find("training"), std::string::npos);
}

TEST(FoldPass, SharedWeightsFoldIntoPrivateCopies) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  const std::string w = b.random_initializer("w", {2, 2, 3, 3});
  b.node("Conv", {"x", w}, {"c1"}, "conv1", {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}}});
  b.node("Conv", {b.batch_norm("bn1", "c1", 2), w}, {"c2"}, "conv2",
         {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}}});
  b.node("Relu", {b.batch_norm("bn2", "c2", 2)}, {"y"});
  b.output("y", 4u);
  const Folded f = fold(b);
  EXPECT_EQ(f.report.folded(), 2u) << f.report.summary();
  // conv1 folds into a private copy; conv2, then the only user of 'w', folds into it.
  EXPECT_NE(f.report.decisions[0].reason.find("private copy"), std::string::npos);
  EXPECT_NE(find_node(f.model, "conv1").input(1), "w");
  EXPECT_EQ(find_node(f.model, "conv2").input(1), "w");
  EXPECT_EQ(f.report.initializers_after, 4u);  // two weights, two new biases
}

// torch.onnx stores equal parameters once and reads them through an Identity node per use
// (VGG's zero conv biases; every BN statistic of a freshly built model): such values are
// constants, folded into private copies, and the Identity nodes and initializers they leave
// unread are removed.
TEST(FoldPass, ParametersReadThroughIdentityNodesFold) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  const std::vector<std::string> params = b.bn_params("shared", 3);
  const std::string bias = b.random_initializer("bias", {3});
  b.node("Identity", {bias}, {"bias_copy"}, "bias_identity");
  // A chain of two Identity nodes in front of the shared statistics, as a re-export makes.
  std::vector<std::string> copies[2];
  for (int bn = 0; bn < 2; ++bn) {
    for (const std::string& param : params) {
      const std::string once = param + "_" + std::to_string(bn);
      b.node("Identity", {param}, {once});
      b.node("Identity", {once}, {once + "_again"});
      copies[bn].push_back(once + "_again");
    }
  }
  b.node("Conv", {"x", b.random_initializer("w1", {3, 2, 1, 1}), bias}, {"c1"}, "conv1");
  b.node("Conv", {"x", b.random_initializer("w2", {3, 2, 1, 1}), "bias_copy"}, {"c2"}, "conv2");
  for (int bn = 0; bn < 2; ++bn) {
    const std::string c = "c" + std::to_string(bn + 1);
    b.node("BatchNormalization", {c, copies[bn][0], copies[bn][1], copies[bn][2], copies[bn][3]},
           {"bn" + std::to_string(bn + 1)}, "bn" + std::to_string(bn + 1));
  }
  b.node("Add", {"bn1", "bn2"}, {"y"});
  b.output("y", {1, 3, 4, 4});
  const Folded f = fold(b);
  EXPECT_EQ(f.report.folded(), 2u) << f.report.summary();
  EXPECT_EQ(count_ops(f.model, "Identity"), 0);
  for (const std::string& param : params) EXPECT_FALSE(has_initializer(f.model, param)) << param;
  EXPECT_FALSE(has_initializer(f.model, "bias"));  // both convs now read private copies
  EXPECT_NE(f.report.decisions[1].reason.find("is an Identity of 'bias'"), std::string::npos)
      << f.report.decisions[1].reason;
  EXPECT_EQ(f.report.initializers_after, 4u);  // two weights, two biases
}

// An Identity whose output something else also reads (here a graph output) stays, and so does
// the initializer it copies.
TEST(FoldPass, IdentityWithOtherReadersStays) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  const std::string bias = b.random_initializer("bias", {3});
  b.node("Identity", {bias}, {"bias_copy"});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1}), "bias_copy"}, {"c"}, "conv");
  b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
  b.output("y", {1, 3, 4, 4});
  b.output("bias_copy", {3});
  const Folded f = fold(b);
  EXPECT_EQ(f.report.folded(), 1u) << f.report.summary();
  EXPECT_EQ(count_ops(f.model, "Identity"), 1);
  EXPECT_TRUE(has_initializer(f.model, "bias"));
  EXPECT_NE(find_node(f.model, "conv").input(2), "bias_copy");
}

TEST(FoldPass, WeightsInConstantNodesFold) {
  GraphBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.node("Constant", {}, {"w"}, "weights",
         {{"value", make_tensor("w", {3, 2, 1, 1}, b.random(6))}});
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  b.node("Relu", {b.batch_norm("bn", "c", 3)}, {"y"});
  b.output("y", 4u);
  const Folded f = fold(b);
  EXPECT_EQ(f.report.folded(), 1u) << f.report.summary();
  EXPECT_EQ(count_ops(f.model, "Constant"), 1);  // folded in place
}

TEST(FoldPass, Float16ModelsFoldInFloat16AndRefuseOverflow) {
  for (const bool overflow : {false, true}) {
    SCOPED_TRACE(overflow ? "overflow" : "fits");
    GraphBuilder b;
    constexpr auto f16 = pb::TensorProto::FLOAT16;
    b.input("x", {1, 2, 4, 4}, f16);
    b.node("Conv", {"x", b.random_initializer("w", {3, 2, 3, 3}, -1, 1, f16)}, {"c"}, "conv");
    std::vector<std::string> params = b.bn_params("bn", 3, f16);
    if (overflow) {  // var 0 and eps 1e-9 on channel 1: scale 3e4, weights up to 3e4 * 1
      params[0] = b.initializer("bn.scale2", {3}, {1.0, 1.0, 1.0}, f16);
      params[3] = b.initializer("bn.var2", {3}, {1.0, 0.0, 1.0}, f16);
      b.random_initializer("unused", {1});
    }
    b.node("BatchNormalization", {"c", params[0], params[1], params[2], params[3]}, {"bn"}, "bn",
           {{"epsilon", overflow ? 1e-12 : 1e-5}});
    b.output("bn", 4u, f16);
    const Folded f = fold(b);
    ASSERT_EQ(f.report.decisions.size(), 1u);
    if (overflow) {
      EXPECT_EQ(f.report.kept(), 1u);
      EXPECT_NE(f.report.decisions[0].reason.find("overflow f16"), std::string::npos)
          << f.report.decisions[0].reason;
      EXPECT_EQ(f.report.decisions[0].fold.overflow_channels, (std::vector<std::size_t>{1}));
    } else {
      EXPECT_EQ(f.report.folded(), 1u);
      EXPECT_EQ(f.report.decisions[0].fold.type, WeightType::f16);
      EXPECT_EQ(f.model.impl().proto.graph().initializer(0).data_type(), f16);
    }
  }
}

TEST(FoldPass, TypedDataAndDoubleParametersAreRead) {
  GraphBuilder b(5, 15);
  b.input("x", {1, 2, 3, 3});
  b.initializer("w", {3, 2, 1, 1}, b.random(6), pb::TensorProto::FLOAT, Storage::typed);
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  // BN-15: parameters may be another float type than X.
  std::vector<std::string> inputs{"c"};
  inputs.push_back(
      b.initializer("s", {3}, b.random(3, 0.5, 1.5), pb::TensorProto::DOUBLE, Storage::typed));
  inputs.push_back(b.initializer("t", {3}, b.random(3), pb::TensorProto::DOUBLE));
  inputs.push_back(b.initializer("m", {3}, b.random(3), pb::TensorProto::DOUBLE));
  inputs.push_back(b.initializer("v", {3}, b.random(3, 0.5, 1), pb::TensorProto::DOUBLE));
  b.node("BatchNormalization", inputs, {"bn"}, "bn");  // no epsilon attribute: 1e-5
  b.output("bn", 4u);
  EXPECT_EQ(fold(b).report.folded(), 1u);
}

TEST(FoldPass, OldOpsetsFoldAndSpatialZeroIsKept) {
  for (const std::int64_t opset : {7, 9, 14}) {
    GraphBuilder b(2, opset);
    b.input("x", {1, 2, 3, 3});
    b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
    b.batch_norm("bn", "c", 3);
    b.output("bn", 4u);
    EXPECT_EQ(fold(b).report.folded(), 1u) << "opset " << opset;
  }
  GraphBuilder b(2, 7);
  b.input("x", {1, 2, 3, 3});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
  std::vector<std::string> inputs{"c"};
  for (const char* name : {"s", "t", "m"}) inputs.push_back(b.random_initializer(name, {3, 3, 3}));
  inputs.push_back(b.random_initializer("v", {3, 3, 3}, 0.5, 1));
  b.node("BatchNormalization", inputs, {"bn"}, "bn", {{"spatial", 0}});
  b.output("bn", 4u);
  const Folded f = fold(b, {}, false);
  ASSERT_EQ(f.report.kept(), 1u);
  EXPECT_NE(f.report.decisions[0].reason.find("spatial = 0"), std::string::npos);
}

// Opsets 1-6 (the ONNX model zoo's oldest files; onnx.version_converter writes them too):
// BN-1 / BN-6 fold when is_test = 1, whatever consumed_inputs says, and stay (training mode)
// without it; a Gemm they fold into, or a MatMul rewritten as one, gets broadcast = 1 for its
// per-output C. Each result passes the checker and the evaluator (which reads opset 6's
// broadcasting Add), against the original.
TEST(FoldPass, OpsetsOneToSixFoldWhenIsTestIsSet) {
  for (const std::int64_t opset : {1, 5, 6}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    GraphBuilder b(3, opset);
    b.input("x", {2, 2, 3, 3});
    b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
    std::vector<Attribute> legacy = {{"is_test", 1}};
    if (opset < 6) legacy.push_back({"consumed_inputs", std::vector<std::int64_t>{0, 0, 0, 1, 1}});
    b.batch_norm("bn", "c", 3, legacy);
    b.node("Add", {"bn", b.random_initializer("bias", {3})}, {"a"}, "add",
           {{"broadcast", 1}, {"axis", 1}});
    if (opset < 5) {  // Reshape-1: the target shape is an attribute
      b.node("Reshape", {"a"}, {"r"}, "reshape", {{"shape", std::vector<std::int64_t>{2, 27}}});
    } else {
      b.node("Reshape", {"a", b.initializer("shape", {2}, {2, 27}, pb::TensorProto::INT64)}, {"r"},
             "reshape");
    }
    b.node("MatMul", {"r", b.random_initializer("m", {27, 4})}, {"mm"}, "matmul");
    b.batch_norm("bn2", "mm", 4, legacy);
    b.node("Gemm", {"bn2", b.random_initializer("g", {4, 5}), b.random_initializer("gc", {5})},
           {"gemm"}, "gemm", {{"broadcast", 1}});
    b.batch_norm("bn3", "gemm", 5, legacy);
    b.output("bn3", {2, 5});
    const Folded f = fold(b);
    EXPECT_EQ(f.report.folded(), 3u) << f.report.summary();
    EXPECT_EQ(count_ops(f.model, "BatchNormalization"), 0);
    for (const char* gemm : {"matmul", "gemm"}) {
      const pb::NodeProto& node = find_node(f.model, gemm);
      EXPECT_EQ(node.op_type(), "Gemm");
      bool broadcast = false;
      for (const auto& attribute : node.attribute()) {
        broadcast |= attribute.name() == "broadcast" && attribute.i() == 1;
      }
      EXPECT_TRUE(broadcast) << gemm;
    }
  }
  GraphBuilder b(3, 6);
  b.input("x", {2, 2, 3, 3});
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
  b.batch_norm("bn", "c", 3);  // is_test absent: 0, training mode
  b.output("bn", {2, 3, 3, 3});
  const Folded f = fold(b, {}, false);
  ASSERT_EQ(f.report.kept(), 1u);
  EXPECT_NE(f.report.decisions[0].reason.find("is_test = 0"), std::string::npos)
      << f.report.decisions[0].reason;
}

TEST(FoldPass, BatchNormsInsideSubgraphsFold) {
  // If(cond) { Conv -> BN } else { Conv -> BN }, the weights in the branches themselves.
  auto branch = [](const std::string& prefix, std::uint64_t seed) {
    GraphBuilder g(seed);
    g.node("Conv", {"x", g.random_initializer(prefix + "w", {3, 2, 1, 1})}, {prefix + "c"},
           prefix + "conv");
    g.batch_norm(prefix + "bn", prefix + "c", 3);
    g.output(prefix + "bn", 4u);
    return g.graph();
  };
  GraphBuilder b;
  b.input("x", {1, 2, 3, 3});
  b.input("cond", {}, pb::TensorProto::BOOL);
  b.node("If", {"cond"}, {"y"}, "if",
         {{"then_branch", branch("t_", 1)}, {"else_branch", branch("e_", 2)}});
  b.output("y", 4u);
  const Folded f = fold(b, {}, false);  // the evaluator does not run subgraphs
  ASSERT_EQ(f.report.folded(), 2u) << f.report.summary();
  EXPECT_EQ(f.report.decisions[0].graph, "main/if.then_branch");
  EXPECT_EQ(f.report.decisions[1].graph, "main/if.else_branch");
}

TEST(FoldPass, ValueUsedInsideASubgraphCountsAsAConsumer) {
  GraphBuilder inner;
  inner.node("Identity", {"c"}, {"z"});  // reads the outer conv's output
  inner.output("z", 4u);
  GraphBuilder b;
  b.input("x", {1, 2, 3, 3});
  b.input("cond", {}, pb::TensorProto::BOOL);
  b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
  b.batch_norm("bn", "c", 3);
  b.node("If", {"cond"}, {"y"}, "if",
         {{"then_branch", inner.graph()}, {"else_branch", inner.graph()}});
  b.output("bn", 4u);
  b.output("y", 4u);
  const Folded f = fold(b, {}, false);
  ASSERT_EQ(f.report.kept(), 1u);
  EXPECT_NE(f.report.decisions[0].reason.find("other consumer"), std::string::npos)
      << f.report.decisions[0].reason;
}

// ---- invalid models --------------------------------------------------------------------------

/// Expects fold_batch_norms to throw `code` mentioning `fragment`, leaving the model as it was.
void expect_invalid(const GraphBuilder& b, ErrorCode code, const std::string& fragment) {
  onnx::Model model = b.build();
  const std::string before = model.serialize();
  try {
    model.fold_batch_norms();
    ADD_FAILURE() << "expected an error mentioning " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
  EXPECT_EQ(model.serialize(), before) << "the model changed";
}

TEST(FoldPass, InvalidBatchNormsStopThePassBeforeAnythingChanges) {
  auto model_with = [](const std::function<void(GraphBuilder&)>& bad_bn) {
    GraphBuilder b;
    b.input("x", {1, 2, 3, 3});
    // A good, foldable pair first: it must not be folded when a later BN is invalid.
    b.node("Conv", {"x", b.random_initializer("w", {3, 2, 1, 1})}, {"c"}, "conv");
    const std::string good = b.batch_norm("good_bn", "c", 3);
    b.node("Conv", {good, b.random_initializer("w2", {4, 3, 1, 1})}, {"c2"}, "conv2");
    bad_bn(b);
    b.output("bad_bn", 4u);
    return b;
  };
  expect_invalid(
      model_with([](GraphBuilder& b) {
        auto p = b.bn_params("bad_bn", 4);
        p[2] = b.random_initializer("short_mean", {3});
        b.node("BatchNormalization", {"c2", p[0], p[1], p[2], p[3]}, {"bad_bn"}, "bad_bn");
      }),
      ErrorCode::invalid_model, "node 'bad_bn' (BatchNormalization): parameter lengths differ");
  expect_invalid(
      model_with([](GraphBuilder& b) {
        auto p = b.bn_params("bad_bn", 4);
        p[3] = b.initializer("negative_var", {4}, {1, 1, -0.5, 1});
        b.node("BatchNormalization", {"c2", p[0], p[1], p[2], p[3]}, {"bad_bn"}, "bad_bn");
      }),
      ErrorCode::invalid_statistics, "node 'bad_bn' (BatchNormalization): var[2] = -0.5");
  expect_invalid(
      model_with([](GraphBuilder& b) {
        auto p = b.bn_params("bad_bn", 4);
        p[3] = b.initializer("nan_var", {4}, {1, NAN, 1, 1});
        b.node("BatchNormalization", {"c2", p[0], p[1], p[2], p[3]}, {"bad_bn"}, "bad_bn");
      }),
      ErrorCode::invalid_statistics, "var[1] = nan");
  expect_invalid(model_with([](GraphBuilder& b) { b.batch_norm("bad_bn", "c2", 5); }),
                 ErrorCode::invalid_model,
                 "node 'bad_bn' (BatchNormalization) has 5 channels but its producer node 'conv2' "
                 "(Conv) has 4 output channels");
  expect_invalid(model_with([](GraphBuilder& b) {
                   auto p = b.bn_params("bad_bn", 4);
                   b.node("BatchNormalization", {"c2", p[0], p[1]}, {"bad_bn"}, "bad_bn");
                 }),
                 ErrorCode::invalid_model, "has 3 inputs");
}

}  // namespace
}  // namespace bnrt::testing
