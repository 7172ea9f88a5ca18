// The fold into scale / shift: computed in double from the definition's terms, rounded once to
// float by the op, affine=false meaning gamma = 1 and beta = 0.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>

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

// The op stores float(scale) of the double fold, and the shift computed in double from that
// float scale, rounded once: beta - mean * float(scale).
TEST(FoldBatchNorm, OpRoundsTheDoubleFoldOnce) {
  auto rng = make_rng(2);
  const RandomStats stats(rng, 64);
  const ChannelAffine affine = fold_batch_norm(stats.params());
  const BatchNorm bn = BatchNorm::create(stats.params());
  ASSERT_EQ(bn.channels(), 64u);
  for (std::size_t c = 0; c < 64; ++c) {
    const float scale = static_cast<float>(affine.scale[c]);
    EXPECT_EQ(bn.scale()[c], scale);
    const double shift = static_cast<double>(stats.beta[c]) -
                         static_cast<double>(stats.mean[c]) * static_cast<double>(scale);
    EXPECT_EQ(bn.shift()[c], static_cast<float>(shift));
  }
}

// With a large common offset (x = 1000 + N(0, 1)) the op's output is (x - mean) * scale + beta
// for its own float scale, up to the shift's and the output's roundings: the scale's rounding
// is not multiplied by |x| ~ 1000. A shift from the unrounded scale fails this by up to
// |mean| * |float(scale) - scale|, about as large as the shift's rounding.
TEST(FoldBatchNorm, LargeOffsetErrorIsTheShiftRoundingOnly) {
  constexpr std::size_t kChannels = 64;
  constexpr std::size_t kRows = 256;
  auto rng = make_rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> mean(kChannels), var(kChannels), gamma(kChannels), beta(kChannels);
  for (std::size_t c = 0; c < kChannels; ++c) {
    mean[c] = static_cast<float>(1000.0 + normal(rng));
    var[c] = static_cast<float>(0.5 + std::fabs(normal(rng)));
    gamma[c] = static_cast<float>(normal(rng));
    beta[c] = static_cast<float>(normal(rng));
  }
  const BatchNorm bn = BatchNorm::create({mean, var, gamma, beta, 1e-5});
  std::vector<float> x(kRows * kChannels), y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(mean[i % kChannels] + normal(rng));
  }
  const std::array<std::int64_t, 2> dims = {kRows, kChannels};
  bn.run(ConstTensor(x.data(), dims, Layout::nc), MutableTensor(y.data(), dims, Layout::nc));
  const auto half_ulp = [](float v) {
    return 0.5 * (std::nextafter(std::fabs(v), INFINITY) - std::fabs(v));
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = i % kChannels;
    const double scale = bn.scale()[c];
    const double want = (static_cast<double>(x[i]) - mean[c]) * scale + beta[c];
    ASSERT_LE(std::fabs(y[i] - want), half_ulp(bn.shift()[c]) + half_ulp(y[i]))
        << "row " << i / kChannels << " channel " << c;
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
