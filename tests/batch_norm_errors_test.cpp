// The expected-failure suite: each bad input maps to its ErrorCode and a message that names
// the argument and the bad value. Nothing is ever silently patched.
#include <gtest/gtest.h>

#include <limits>

#include "test_util.hpp"

namespace bnrt::testing {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

/// Runs `f`, expecting a bnrt::Error with `code` whose message contains every `fragment`.
template <class F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<std::string_view> fragments) {
  try {
    f();
    ADD_FAILURE() << "expected bnrt::Error " << error_code_name(code) << ", nothing thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << "got " << error_code_name(e.code()) << ": " << e.what();
    for (std::string_view fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
    }
  }
}

struct Stats {
  std::vector<float> mean{0.1f, 0.2f, 0.3f, 0.4f};
  std::vector<float> var{1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<float> gamma{1.0f, 1.0f, 1.0f, 1.0f};
  std::vector<float> beta{0.0f, 0.0f, 0.0f, 0.0f};
  double eps = 1e-5;
  BatchNormParams params() const { return {mean, var, gamma, beta, eps}; }
};

// ---- statistics (create time) ---------------------------------------------------------------

TEST(BatchNormErrors, NegativeVariance) {
  Stats s;
  s.var[2] = -0.5f;
  expect_error([&] { BatchNorm::create(s.params()); }, ErrorCode::invalid_statistics,
               {"batch_norm", "var[2]", "-0.5", "negative"});
}

TEST(BatchNormErrors, NaNVariance) {
  Stats s;
  s.var[1] = kNaN;
  expect_error([&] { BatchNorm::create(s.params()); }, ErrorCode::invalid_statistics,
               {"var[1]", "nan"});
}

TEST(BatchNormErrors, InfiniteVariance) {
  Stats s;
  s.var[3] = kInf;
  expect_error([&] { BatchNorm::create(s.params()); }, ErrorCode::invalid_statistics,
               {"var[3]", "inf"});
}

TEST(BatchNormErrors, VariancePlusEpsNotPositive) {
  Stats s;
  s.var[0] = 0.0f;
  s.eps = 0.0;
  expect_error([&] { BatchNorm::create(s.params()); }, ErrorCode::invalid_statistics,
               {"var[0] + eps", "not positive"});
  Stats t;
  t.var[1] = 1e-6f;
  t.eps = -1e-3;  // a negative eps is accepted only while var + eps stays positive
  expect_error([&] { BatchNorm::create(t.params()); }, ErrorCode::invalid_statistics,
               {"var[1] + eps"});
}

TEST(BatchNormErrors, NonFiniteMeanGammaBetaEps) {
  Stats mean;
  mean.mean[3] = kNaN;
  expect_error([&] { BatchNorm::create(mean.params()); }, ErrorCode::invalid_statistics,
               {"mean[3]", "nan", "not finite"});
  Stats gamma;
  gamma.gamma[0] = -kInf;
  expect_error([&] { BatchNorm::create(gamma.params()); }, ErrorCode::invalid_statistics,
               {"gamma[0]", "-inf"});
  Stats beta;
  beta.beta[2] = kInf;
  expect_error([&] { BatchNorm::create(beta.params()); }, ErrorCode::invalid_statistics,
               {"beta[2]", "inf"});
  Stats eps;
  eps.eps = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { BatchNorm::create(eps.params()); }, ErrorCode::invalid_statistics,
               {"eps", "nan"});
}

TEST(BatchNormErrors, ParamLengthsDisagree) {
  Stats s;
  s.var.pop_back();
  expect_error([&] { BatchNorm::create(s.params()); }, ErrorCode::channel_mismatch,
               {"var has 3 entries", "mean has 4"});
  Stats g;
  g.gamma.push_back(1.0f);
  expect_error([&] { BatchNorm::create(g.params()); }, ErrorCode::channel_mismatch,
               {"gamma has 5 entries"});
  Stats b;
  b.beta.resize(2);
  expect_error([&] { BatchNorm::create(b.params()); }, ErrorCode::channel_mismatch,
               {"beta has 2 entries"});
  expect_error([&] { BatchNorm::create({}); }, ErrorCode::channel_mismatch, {"mean is empty"});
}

TEST(BatchNormErrors, FoldedScaleOverflowsFloat) {
  Stats s;
  s.var[1] = 0.0f;
  s.eps = 1e-45;  // sqrt(1e-45) ~ 3e-23: gamma 1e20 / 3e-23 ~ 3e42 > FLT_MAX
  s.gamma[1] = 1e20f;
  expect_error([&] { BatchNorm::create(s.params()); }, ErrorCode::overflow,
               {"scale[1]", "does not fit in float"});
}

TEST(BatchNormErrors, BadActivation) {
  Stats s;
  expect_error(
      [&] { BatchNorm::create(s.params(), {.activation = Activation::clamp(1.0f, 0.0f)}); },
      ErrorCode::invalid_argument, {"lo = 1", "hi = 0"});
  expect_error(
      [&] { BatchNorm::create(s.params(), {.activation = Activation::clamp(kNaN, 1.0f)}); },
      ErrorCode::invalid_argument, {"NaN"});
  expect_error([&] { BatchNorm::create(s.params(), {.max_threads = -1}); },
               ErrorCode::invalid_argument, {"max_threads = -1"});
}

TEST(BatchNormErrors, AffineMapLengthsDisagree) {
  expect_error(
      [] {
        BatchNorm::from_affine({{1.0, 2.0}, {0.0}});
      },
      ErrorCode::channel_mismatch, {"shift has 1 entries", "scale has 2"});
}

// ---- tensors (run time) ---------------------------------------------------------------------

class RunErrors : public ::testing::Test {
 protected:
  Stats stats;
  BatchNorm bn = BatchNorm::create(stats.params());
  std::vector<float> a = std::vector<float>(2 * 4 * 3 * 5, 1.0f);
  std::vector<float> b = std::vector<float>(2 * 4 * 3 * 5, 1.0f);
};

TEST_F(RunErrors, ChannelCountMismatch) {
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 5, 3, 4}, Layout::nchw),
               MutableTensor(b.data(), {2, 5, 3, 4}, Layout::nchw));
      },
      ErrorCode::channel_mismatch, {"src", "nchw {2, 5, 3, 4}", "5 channels", "created for 4"});
  // Channels-last: the last dim is C.
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 3, 5, 4}, Layout::nchw),
               MutableTensor(b.data(), {2, 3, 5, 4}, Layout::nchw));
      },
      ErrorCode::channel_mismatch, {"3 channels"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 3, 4, 5}, Layout::nhwc),
               MutableTensor(b.data(), {2, 3, 4, 5}, Layout::nhwc));
      },
      ErrorCode::channel_mismatch, {"nhwc {2, 3, 4, 5}", "5 channels"});
}

TEST_F(RunErrors, ShapeOrLayoutMismatch) {
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(b.data(), {2, 4, 5, 3}, Layout::nchw));
      },
      ErrorCode::shape_mismatch, {"dst is nchw {2, 4, 5, 3}", "src is nchw {2, 4, 3, 5}"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 3, 5, 4}, Layout::nhwc),
               MutableTensor(b.data(), {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::shape_mismatch, {"dst is nchw", "src is nhwc"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, 3, 5}, Layout::nchw),
               ConstTensor(a.data(), {2, 4, 15}, Layout::ncl),
               MutableTensor(b.data(), {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::shape_mismatch, {"residual is ncl {2, 4, 15}"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, 15}, Layout::nchw),
               MutableTensor(b.data(), {2, 4, 15}, Layout::nchw));
      },
      ErrorCode::shape_mismatch, {"src has 3 dims", "nchw needs 4"});
}

TEST_F(RunErrors, NegativeDim) {
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, -3, 5}, Layout::nchw),
               MutableTensor(b.data(), {2, 4, -3, 5}, Layout::nchw));
      },
      ErrorCode::invalid_argument, {"src.dims[2] = -3", "negative"});
}

TEST_F(RunErrors, NullDataWithElements) {
  expect_error(
      [&] {
        bn.run(ConstTensor(nullptr, {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(b.data(), {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::null_pointer, {"src.data is null", "120 elements"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(nullptr, {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::null_pointer, {"dst.data is null"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, 3, 5}, Layout::nchw),
               ConstTensor(nullptr, {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(b.data(), {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::null_pointer, {"residual.data is null"});
}

TEST_F(RunErrors, EmptyTensorIsANoOpEvenWithNullData) {
  EXPECT_NO_THROW(bn.run(ConstTensor(nullptr, {0, 4, 3, 5}, Layout::nchw),
                         MutableTensor(nullptr, {0, 4, 3, 5}, Layout::nchw)));
}

TEST_F(RunErrors, ElementCountOverflow) {
  const std::int64_t huge = std::int64_t{1} << 40;
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {huge, 4, huge, 1}, Layout::nchw),
               MutableTensor(b.data(), {huge, 4, huge, 1}, Layout::nchw));
      },
      ErrorCode::overflow, {"src", "more elements than fit"});
  // Fits size_t as elements but not as bytes.
  const std::int64_t big = std::int64_t{1} << 61;
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {big, 4}, Layout::nc),
               MutableTensor(b.data(), {big, 4}, Layout::nc));
      },
      ErrorCode::overflow, {"more elements than fit"});
}

TEST_F(RunErrors, PartialOverlap) {
  std::vector<float> big(200, 1.0f);
  expect_error(
      [&] {
        bn.run(ConstTensor(big.data(), {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(big.data() + 1, {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::overlap, {"src and dst overlap partially", "4 bytes"});
  expect_error(
      [&] {
        bn.run(ConstTensor(big.data() + 60, {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(big.data(), {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::overlap, {"overlap partially"});
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4, 3, 5}, Layout::nchw),
               ConstTensor(big.data() + 8, {2, 4, 3, 5}, Layout::nchw),
               MutableTensor(big.data(), {2, 4, 3, 5}, Layout::nchw));
      },
      ErrorCode::overlap, {"residual and dst"});
  // Exact aliasing is fine, and src may overlap residual (both are only read).
  EXPECT_NO_THROW(bn.run(ConstTensor(big.data(), {2, 4, 3, 5}, Layout::nchw),
                         MutableTensor(big.data(), {2, 4, 3, 5}, Layout::nchw)));
  EXPECT_NO_THROW(bn.run(ConstTensor(big.data(), {2, 4, 3, 5}, Layout::nchw),
                         ConstTensor(big.data() + 3, {2, 4, 3, 5}, Layout::nchw),
                         MutableTensor(b.data(), {2, 4, 3, 5}, Layout::nchw)));
}

TEST_F(RunErrors, BadLayoutValue) {
  expect_error(
      [&] {
        bn.run(ConstTensor(a.data(), {2, 4}, static_cast<Layout>(42)),
               MutableTensor(b.data(), {2, 4}, static_cast<Layout>(42)));
      },
      ErrorCode::invalid_argument, {"src.layout = 42"});
}

TEST(IsaErrors, UnknownNamesAreRejected) {
  EXPECT_FALSE(parse_isa("avx1024").has_value());
  EXPECT_FALSE(parse_isa("").has_value());
}

}  // namespace
}  // namespace bnrt::testing
