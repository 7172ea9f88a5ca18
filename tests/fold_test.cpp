// The fold into scale / shift: computed in double from the definition's terms, rounded once to
// float by the op, affine=false meaning gamma = 1 and beta = 0.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"

namespace bnrt::testing {
namespace {

TEST(FoldBatchNorm, MatchesDefinitionInDouble) {
  auto rng = make_rng(1);
  const RandomStats stats(rng, 37);
  const ChannelAffine affine = fold_batch_norm(stats.params());
  ASSERT_EQ(affine.channels(), 37u);
  for (std::size_t c = 0; c < 37; ++c) {
    // Independent check: the BN of x = 0 and x = 1 gives shift and shift + scale.
    const double stddev = std::sqrt(static_cast<double>(stats.var[c]) + stats.eps);
    const double at0 = (0.0 - stats.mean[c]) / stddev * stats.gamma[c] + stats.beta[c];
    const double at1 = (1.0 - stats.mean[c]) / stddev * stats.gamma[c] + stats.beta[c];
    EXPECT_NEAR(affine.shift[c], at0, 1e-12 * (1 + std::fabs(at0))) << "channel " << c;
    EXPECT_NEAR(affine.scale[c], at1 - at0, 1e-12 * (1 + std::fabs(at1) + std::fabs(at0)))
        << "channel " << c;
  }
}

TEST(FoldBatchNorm, AffineFalseMeansUnitGammaZeroBeta) {
  const std::vector<float> mean = {1.0f, -2.0f}, var = {4.0f, 0.25f};
  const ChannelAffine affine = fold_batch_norm({mean, var, {}, {}, 0.0});
  EXPECT_DOUBLE_EQ(affine.scale[0], 0.5);
  EXPECT_DOUBLE_EQ(affine.shift[0], -0.5);
  EXPECT_DOUBLE_EQ(affine.scale[1], 2.0);
  EXPECT_DOUBLE_EQ(affine.shift[1], 4.0);
}

// The op stores float(scale) and float(shift) of the double fold: one rounding, no more.
TEST(FoldBatchNorm, OpRoundsTheDoubleFoldOnce) {
  auto rng = make_rng(2);
  const RandomStats stats(rng, 64);
  const ChannelAffine affine = fold_batch_norm(stats.params());
  const BatchNorm bn = BatchNorm::create(stats.params());
  ASSERT_EQ(bn.channels(), 64u);
  for (std::size_t c = 0; c < 64; ++c) {
    EXPECT_EQ(bn.scale()[c], static_cast<float>(affine.scale[c]));
    EXPECT_EQ(bn.shift()[c], static_cast<float>(affine.shift[c]));
  }
}

// A dead channel (gamma = 0) outputs beta whatever x is, and is not an error.
TEST(FoldBatchNorm, DeadChannelIsConstant) {
  const std::vector<float> mean = {5.0f}, var = {1e-30f}, gamma = {0.0f}, beta = {0.25f};
  const BatchNorm bn = BatchNorm::create({mean, var, gamma, beta, 1e-5});
  std::vector<float> x = {-1e6f, 0.0f, 3.0f}, y(3);
  bn.run(ConstTensor(x.data(), {3, 1}, Layout::nc), MutableTensor(y.data(), {3, 1}, Layout::nc));
  for (float v : y) EXPECT_EQ(v, 0.25f);
}

TEST(FoldBatchNorm, FromAffineUsesTheGivenMap) {
  const BatchNorm bn = BatchNorm::from_affine({{2.0, -1.0}, {0.5, 0.0}});
  std::vector<float> x = {1.0f, 1.0f, 3.0f, 3.0f}, y(4);
  bn.run(ConstTensor(x.data(), {2, 2}, Layout::nc), MutableTensor(y.data(), {2, 2}, Layout::nc));
  EXPECT_EQ(y, (std::vector<float>{2.5f, -1.0f, 6.5f, -3.0f}));
}

}  // namespace
}  // namespace bnrt::testing
