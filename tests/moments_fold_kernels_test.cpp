// The training step's per-channel kernels on every ISA: the fold of batch moments into
// scale / shift (AVX-512 takes 1 / sqrt through an estimate and Newton steps, the others a
// square root and a division) against a long-double reference, its edge values, and the
// running-stat update and the merge of block moments, which must give the scalar formulas'
// bits on every ISA; and the fast channels-last statistics, whose two walk orders must agree
// bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernels/moments_kernels.hpp"
#include "moments.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

// Channel counts that leave every vector width a tail (the kernels' staging path).
constexpr std::size_t kChannels = 37;

struct FoldOutput {
  std::vector<float> scale, shift;
};

FoldOutput fold(Isa isa, const std::vector<double>& mean, const std::vector<double>& m2,
                double inverse_count, double eps, const std::vector<float>& gamma,
                const std::vector<float>& beta) {
  FoldOutput out{std::vector<float>(mean.size()), std::vector<float>(mean.size())};
  kernels::FoldArgs args;
  args.mean = mean.data();
  args.m2 = m2.data();
  args.inverse_count = inverse_count;
  args.eps = eps;
  args.gamma = gamma.data();
  args.beta = beta.data();
  args.scale = out.scale.data();
  args.shift = out.shift.data();
  args.channels = mean.size();
  kernels::moments_kernels(isa).fold(args);
  return out;
}

// Within one float rounding of the exact value: the double result carries a few ulps of
// double rounding (Newton steps or sqrt then divide), far below a float ulp, so after
// rounding to float it lands on the correctly rounded value or its neighbour.
TEST(MomentsFoldKernels, ScaleAndShiftWithinOneFloatUlpOnEveryIsa) {
  auto rng = make_rng(21);
  std::uniform_real_distribution<double> spread(1e-6, 1e4);
  std::uniform_real_distribution<double> centre(-50.0, 50.0);
  std::vector<double> mean(kChannels), m2(kChannels);
  std::vector<float> gamma(kChannels), beta(kChannels);
  for (std::size_t c = 0; c < kChannels; ++c) {
    mean[c] = centre(rng);
    m2[c] = spread(rng) * 49.0;
    gamma[c] = static_cast<float>(centre(rng) / 10.0);
    beta[c] = static_cast<float>(centre(rng) / 10.0);
  }
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    const FoldOutput got = fold(isa, mean, m2, 1.0 / 49.0, 1e-5, gamma, beta);
    for (std::size_t c = 0; c < kChannels; ++c) {
      const long double scale =
          gamma[c] / std::sqrt(static_cast<long double>(m2[c]) / 49.0L + 1e-5L);
      const float want_scale = static_cast<float>(scale);
      // The shift from the scale as stored (detail::ShiftFrom::float_scale).
      const long double shift = beta[c] - mean[c] * static_cast<long double>(got.scale[c]);
      const float want_shift = static_cast<float>(shift);
      EXPECT_LE(std::fabs(got.scale[c] - want_scale),
                std::fabs(std::nextafter(want_scale, 0.0f) - want_scale))
          << isa_name(isa) << " channel " << c;
      EXPECT_LE(std::fabs(got.shift[c] - want_shift),
                2.0f * std::fabs(std::nextafter(want_shift, 0.0f) - want_shift) + 1e-30f)
          << isa_name(isa) << " channel " << c;
    }
  }
}

// var + eps = 0 (a constant channel with eps = 0) gives an infinite scale, an overflowing
// variance a zero one, on every ISA (a Newton step would make both NaN).
TEST(MomentsFoldKernels, ZeroAndInfiniteVarianceKeepExactLimits) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> mean(kChannels, 1.0), m2(kChannels, 4.0);
  m2[0] = 0.0;
  m2[kChannels - 1] = 0.0;  // in the tail
  m2[1] = inf;
  m2[kChannels - 2] = inf;
  const std::vector<float> gamma(kChannels, 2.0f), beta(kChannels, 0.5f);
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    const FoldOutput got = fold(isa, mean, m2, 0.25, 0.0, gamma, beta);
    for (std::size_t c : {std::size_t{0}, kChannels - 1}) {
      EXPECT_EQ(got.scale[c], std::numeric_limits<float>::infinity()) << isa_name(isa) << " " << c;
    }
    for (std::size_t c : {std::size_t{1}, kChannels - 2}) {
      EXPECT_EQ(got.scale[c], 0.0f) << isa_name(isa) << " " << c;
      EXPECT_EQ(got.shift[c], 0.5f) << isa_name(isa) << " " << c;
    }
    EXPECT_EQ(got.scale[2], 2.0f) << isa_name(isa);  // 2 / sqrt(4 * 0.25)
  }
}

TEST(MomentsFoldKernels, RunningUpdateIsTheScalarFormulaBitForBit) {
  auto rng = make_rng(22);
  std::uniform_real_distribution<double> value(-3.0, 3.0);
  std::vector<double> batch_mean(kChannels), batch_m2(kChannels);
  std::vector<float> running_mean(kChannels), running_var(kChannels);
  for (std::size_t c = 0; c < kChannels; ++c) {
    batch_mean[c] = value(rng);
    batch_m2[c] = std::fabs(value(rng)) * 10.0;
    running_mean[c] = static_cast<float>(value(rng));
    running_var[c] = static_cast<float>(std::fabs(value(rng)));
  }
  const double w = 0.1, inverse_bessel = 1.0 / 9.0;
  std::vector<float> want_mean(kChannels), want_var(kChannels);
  for (std::size_t c = 0; c < kChannels; ++c) {
    // volatile: no contraction into a fused multiply-add by the test's own compiler.
    volatile double a = w * batch_mean[c];
    volatile double b = (1.0 - w) * static_cast<double>(running_mean[c]);
    want_mean[c] = static_cast<float>(a + b);
    volatile double u = batch_m2[c] * inverse_bessel;
    volatile double v = w * u;
    volatile double k = (1.0 - w) * static_cast<double>(running_var[c]);
    want_var[c] = static_cast<float>(v + k);
  }
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    std::vector<float> mean = running_mean, var = running_var;
    kernels::RunningUpdateArgs args;
    args.batch_mean = batch_mean.data();
    args.batch_m2 = batch_m2.data();
    args.mean = mean.data();
    args.var = var.data();
    args.batch_weight = w;
    args.inverse_bessel = inverse_bessel;
    args.channels = kChannels;
    kernels::moments_kernels(isa).update_running(args);
    EXPECT_EQ(mean, want_mean) << isa_name(isa);
    EXPECT_EQ(var, want_var) << isa_name(isa);
  }
}

// The channels-last merge of block results: Chan's update term for term on every ISA.
TEST(MomentsFoldKernels, BlockMergeIsTheScalarMergeBitForBit) {
  auto rng = make_rng(23);
  std::uniform_real_distribution<double> value(-3.0, 3.0);
  std::vector<double> mean(kChannels), m2(kChannels), block_mean(kChannels), block_m2(kChannels);
  for (std::size_t c = 0; c < kChannels; ++c) {
    mean[c] = value(rng);
    m2[c] = std::fabs(value(rng)) * 40.0;
    block_mean[c] = value(rng);
    block_m2[c] = std::fabs(value(rng)) * 30.0;
  }
  const detail::MergeWeights weights(256.0, 49.0);
  std::vector<double> want_mean = mean, want_m2 = m2;
  for (std::size_t c = 0; c < kChannels; ++c) {
    detail::merge_moments(weights, want_mean[c], want_m2[c], block_mean[c], block_m2[c]);
  }
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    std::vector<double> got_mean = mean, got_m2 = m2;
    kernels::MergeArgs args;
    args.mean = got_mean.data();
    args.m2 = got_m2.data();
    args.block_mean = block_mean.data();
    args.block_m2 = block_m2.data();
    args.weight_mean = weights.mean;
    args.weight_m2 = weights.m2;
    args.channels = kChannels;
    kernels::moments_kernels(isa).merge(args);
    EXPECT_EQ(got_mean, want_mean) << isa_name(isa);
    EXPECT_EQ(got_m2, want_m2) << isa_name(isa);
  }
}

// The channels-last kernels walk blocks run by run across groups of tiles (the fast one in
// cache, both streamed from DRAM with the next rows requested ahead) or tile by tile (the
// exact one in cache, both in channel slices from DRAM); a channel's arithmetic is the same in
// every walk. Channel counts give more full tiles than one run-major group holds on every
// ISA, then remainder vectors and a partial one; rows end in a short float run and two row
// blocks.
TEST(MomentsKernels, ChannelsLastWalkOrderNeverChangesABit) {
  auto rng = make_rng(24);
  std::normal_distribution<float> value(3.0f, 1.5f);
  for (const std::size_t channels : {std::size_t{2213}, std::size_t{421}, std::size_t{37}}) {
    constexpr std::size_t kRows = 150;
    std::vector<float> x(kRows * channels);
    for (float& v : x) v = value(rng);
    for (Isa isa : all_isas()) {
      if (!isa_supported(isa)) continue;
      for (const bool fast : {true, false}) {
        enum Walk { in_cache, streamed, streamed_in_slices, kWalks };
        std::vector<double> mean[kWalks], m2[kWalks];
        for (int walk = 0; walk < kWalks; ++walk) {
          mean[walk].assign(2 * channels, 0.0);
          m2[walk].assign(2 * channels, 0.0);
          kernels::MomentsArgs args;
          args.src = x.data();
          args.channels = channels;
          args.rows = kRows;
          args.block_rows = 77;
          args.slices = walk == streamed_in_slices ? 2 : 1;
          args.slice_channels =
              walk == streamed_in_slices ? (channels / 2 + 15) / 16 * 16 : channels;
          args.prefetch = walk != in_cache;
          args.mean = mean[walk].data();
          args.m2 = m2[walk].data();
          const kernels::MomentsKernelTable& table = kernels::moments_kernels(isa);
          (fast ? table.channels_last_fast : table.channels_last)(args, 0, 2 * args.slices);
        }
        const std::string where =
            std::string(isa_name(isa)) + (fast ? " fast, " : " exact, ") + std::to_string(channels);
        for (int walk = streamed; walk < kWalks; ++walk) {
          EXPECT_EQ(mean[in_cache], mean[walk]) << where << " channels, walk " << walk;
          EXPECT_EQ(m2[in_cache], m2[walk]) << where << " channels, walk " << walk;
          EXPECT_NE(m2[walk][channels - 1], 0.0) << where;  // the walk really wrote the results
        }
      }
    }
  }
}

}  // namespace
}  // namespace bnrt::testing
