// The runtime re-fold: statistics re-estimated on calibration data (MomentsAccumulator), folded
// into new buffers from the original weights, which stay untouched; the folded conv equals
// conv-then-BN with the new statistics; and the serving pattern the README documents (publish
// each new FoldedLayer with an atomic shared_ptr swap) hands readers only complete sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include "reference/layer_reference.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

struct ConvSetup {
  reference::ConvShape shape;
  std::vector<float> w, b;
  std::vector<float> gamma, beta;
  std::vector<std::int64_t> dims = {4, 3, 3, 3};

  explicit ConvSetup(std::mt19937_64& rng) {
    shape.batch = 2;
    shape.in_channels = 3;
    shape.out_channels = 4;
    shape.input = {6, 5};
    shape.kernel = {3, 3};
    shape.stride = {1, 2};
    shape.dilation = {1, 1};
    shape.pad_begin = {1, 1};
    shape.pad_end = {1, 0};
    shape.output_padding = {0, 0};
    w = random_floats(rng, 4 * 3 * 9, -0.5, 0.5);
    b = random_floats(rng, 4, -0.2, 0.2);
    gamma = random_floats(rng, 4, 0.5, 1.5);
    beta = random_floats(rng, 4, -0.5, 0.5);
  }
  std::vector<double> input(std::mt19937_64& rng, double offset) const {
    const auto x = random_floats(rng, 2 * 3 * 30, -1.0 + offset, 1.0 + offset);
    return {x.begin(), x.end()};
  }
  std::vector<double> conv(const std::vector<double>& x, const std::vector<double>& weight,
                           const std::vector<double>& bias) const {
    return reference::conv(shape, x, weight, &bias);
  }
  ConstWeights weight() const { return {w.data(), WeightType::f32, dims}; }
  ConstWeights bias() const { return {b.data(), WeightType::f32, {4}}; }
};

/// Calibration: run the original conv on batches drawn around `offset`, accumulate exact
/// statistics of its outputs, fold them with the layer's gamma / beta.
MomentsAccumulator calibrate(const ConvSetup& setup, std::mt19937_64& rng, double offset) {
  MomentsAccumulator accumulator(4);
  const std::vector<double> w(setup.w.begin(), setup.w.end()), b(setup.b.begin(), setup.b.end());
  for (int batch = 0; batch < 5; ++batch) {
    const auto y = setup.conv(setup.input(rng, offset), w, b);
    const std::vector<float> y32(y.begin(), y.end());
    const std::vector<std::int64_t> out = setup.shape.output(false);
    accumulator.add(ConstTensor(y32.data(), {2, 4, out[0], out[1]}, Layout::nchw));
  }
  return accumulator;
}

TEST(Refold, RecalibratedStatisticsFoldFromUntouchedOriginals) {
  auto rng = make_rng(71);
  const ConvSetup setup(rng);
  const std::vector<float> w_before = setup.w, b_before = setup.b;
  const MomentsAccumulator accumulator = calibrate(setup, rng, 0.3);
  const ChannelAffine bn = accumulator.fold(setup.gamma, setup.beta, 1e-5);
  const Layer layer{LayerKind::conv, 1, {1, 1, 1, 0}};
  const ConstWeights bias = setup.bias();

  const FoldedLayer folded = fold_bn_after(layer, setup.weight(), &bias, bn, WeightType::f32);
  ASSERT_TRUE(folded.report.folded) << folded.report.summary();
  EXPECT_EQ(setup.w, w_before);
  EXPECT_EQ(setup.b, b_before);
  EXPECT_EQ(folded.weight_dims, setup.dims);
  EXPECT_EQ(folded.bias_dims, (std::vector<std::int64_t>{4}));

  // Folded conv == conv, then BN with the recalibrated (exact mean, unbiased var) statistics.
  const RunningStats stats = accumulator.running_stats();
  const auto x = setup.input(rng, 0.3);
  const std::vector<double> w(setup.w.begin(), setup.w.end()), b(setup.b.begin(), setup.b.end());
  const std::vector<std::int64_t> out = setup.shape.output(false);
  const auto expected = reference::batch_norm_nc(
      setup.conv(x, w, b), 4, out[0] * out[1], {stats.mean.begin(), stats.mean.end()},
      {stats.var.begin(), stats.var.end()}, {setup.gamma.begin(), setup.gamma.end()},
      {setup.beta.begin(), setup.beta.end()}, 1e-5);
  const auto fw = folded.weight_floats(), fb = folded.bias_floats();
  const std::vector<double> fwd(fw.begin(), fw.end()), fbd(fb.begin(), fb.end());
  const auto got = setup.conv(x, fwd, fbd);
  const auto magnitude = reference::conv(setup.shape, x, fwd, &fbd, /*absolute=*/true);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    // The report's bound on the once-rounded weights, plus float rounding of the running
    // stats the reference reads (float mean/var: relative 2^-24 of the normalized output).
    EXPECT_NEAR(got[i], expected[i],
                folded.report.rounding_bound * magnitude[i] * 1.01 + 1e-6 * (1 + magnitude[i]))
        << i;
  }

  // The same statistics into fp16: each weight within half an fp16 ulp of the fp32 fold.
  const FoldedLayer half = fold_bn_after(layer, setup.weight(), &bias, bn, WeightType::f16);
  ASSERT_TRUE(half.report.folded);
  EXPECT_EQ(half.weight.size(), fw.size() * 2);
  const auto hw = half.weight_floats();
  for (std::size_t i = 0; i < fw.size(); ++i) {
    EXPECT_NEAR(hw[i], fw[i], std::fabs(fw[i]) * half.report.rounding_bound * 1.001 + 6e-8);
  }
}

TEST(Refold, RefusedOrInvalidRefoldLeavesNothingBehind) {
  auto rng = make_rng(72);
  const ConvSetup setup(rng);
  const ConstWeights bias = setup.bias();
  ChannelAffine huge{{1e6, 1.0, 1.0, 1.0}, {0.0, 0.0, 0.0, 0.0}};
  const FoldedLayer refused =
      fold_bn_after({LayerKind::conv}, setup.weight(), &bias, huge, WeightType::f16);
  EXPECT_FALSE(refused.report.folded);
  EXPECT_NE(refused.report.refusal.find("overflow f16"), std::string::npos);
  EXPECT_TRUE(refused.weight.empty());
  EXPECT_TRUE(refused.bias.empty());
  const ChannelAffine three{{1.0, 1.0, 1.0}, {0.0, 0.0, 0.0}};
  expect_error(
      [&] { fold_bn_after({LayerKind::conv}, setup.weight(), &bias, three, WeightType::f32); },
      ErrorCode::channel_mismatch, "batch norm has 3 channels");
  expect_error(
      [&] {
        fold_bn_after({LayerKind::conv}, {setup.w.data(), WeightType::f32, {4, -3, 3, 3}}, &bias,
                      huge, WeightType::f32);
      },
      ErrorCode::invalid_argument, "dims[1] = -3");
}

// The README's serving pattern: readers take a snapshot with one atomic load and use it for a
// whole inference; a re-fold builds a complete new FoldedLayer and publishes it with one
// atomic store. Readers must only ever see one of the published sets, whole.
TEST(Refold, AtomicSwapPublishesWholeSetsWhileReadersRun) {
  auto rng = make_rng(73);
  const ConvSetup setup(rng);
  const ConstWeights bias = setup.bias();
  const Layer layer{LayerKind::conv, 1, {1, 1, 1, 0}};
  constexpr int kVersions = 6;
  // Each version's statistics come from its own calibration run; folding is deterministic, so
  // a fold of version v's statistics always gives version v's weights.
  std::vector<ChannelAffine> statistics;
  std::vector<double> fingerprints;
  for (int v = 0; v < kVersions; ++v) {
    statistics.push_back(calibrate(setup, rng, 0.2 * v).fold(setup.gamma, setup.beta));
  }
  auto fingerprint = [](const FoldedLayer& layer) {
    double sum = 0, k = 1;
    for (float w : layer.weight_floats()) sum += w * (k += 1);
    for (float b : layer.bias_floats()) sum += b * (k += 1);
    return sum;
  };
  for (const ChannelAffine& bn : statistics) {
    fingerprints.push_back(
        fingerprint(fold_bn_after(layer, setup.weight(), &bias, bn, WeightType::f32)));
  }

  std::atomic<std::shared_ptr<const FoldedLayer>> serving{std::make_shared<const FoldedLayer>(
      fold_bn_after(layer, setup.weight(), &bias, statistics[0], WeightType::f32))};
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  auto reader = [&] {
    while (!done.load()) {
      const std::shared_ptr<const FoldedLayer> snapshot = serving.load();
      const double f = fingerprint(*snapshot);
      if (std::find(fingerprints.begin(), fingerprints.end(), f) == fingerprints.end()) ++bad;
      ++reads;
    }
  };
  std::thread a(reader), b(reader);
  for (int v = 1; v < kVersions; ++v) {
    // Re-fold from the originals while the readers serve the previous version.
    serving.store(std::make_shared<const FoldedLayer>(
        fold_bn_after(layer, setup.weight(), &bias, statistics[v], WeightType::f32)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  done = true;
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  // Distinct calibrations give distinct folds, so the fingerprint check had teeth.
  for (int v = 1; v < kVersions; ++v) EXPECT_NE(fingerprints[v], fingerprints[0]);
}

}  // namespace
}  // namespace bnrt::testing
