// Batch statistics against a long-double reference: moments on every layout and ISA at vector
// and block edges, large common offsets, bitwise determinism across thread counts, the exact
// mergeable accumulator, momentum conventions, the training-mode op and its errors.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "reference/moments_reference.hpp"
#include "task_split.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

// Moments are summed in double per block (at most 65536 values) and merged pairwise: rounding
// is ~1e-16 per term, well under 1e-12 of the spread for these sizes. Means are compared
// relative to |mean| + standard deviation (their natural scale), M2 relative to itself.
constexpr double kMomentsTolerance = 1e-12;

::testing::AssertionResult moments_match(const ChannelMoments& got, const reference::Moments& want,
                                         double tolerance = kMomentsTolerance) {
  if (got.count != want.count) {
    return ::testing::AssertionFailure() << "count " << got.count << " != " << want.count;
  }
  for (std::size_t c = 0; c < want.mean.size(); ++c) {
    const double deviation = std::sqrt(want.m2[c] / static_cast<double>(want.count));
    if (!(std::fabs(got.mean[c] - want.mean[c]) <=
          tolerance * (std::fabs(want.mean[c]) + deviation) + 1e-300)) {
      return ::testing::AssertionFailure()
             << "mean[" << c << "] = " << got.mean[c] << ", want " << want.mean[c];
    }
    if (!(std::fabs(got.m2[c] - want.m2[c]) <= tolerance * want.m2[c] + 1e-300)) {
      return ::testing::AssertionFailure()
             << "m2[" << c << "] = " << got.m2[c] << ", want " << want.m2[c];
    }
  }
  return ::testing::AssertionSuccess();
}

/// Values with a per-channel offset, so channels are distinguishable and means are non-zero.
std::vector<float> channel_data(std::mt19937_64& rng, Layout layout,
                                const std::vector<std::int64_t>& dims, double offset,
                                double spread) {
  std::normal_distribution<double> noise(0.0, spread);
  std::vector<float> x(element_count(dims));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double c = static_cast<double>(reference::channel_of(i, layout, dims));
    x[i] = static_cast<float>(offset + 0.25 * c + noise(rng));
  }
  return x;
}

class MomentsSweep : public ::testing::TestWithParam<std::tuple<Layout, Isa>> {
 protected:
  void SetUp() override {
    if (!isa_supported(isa())) GTEST_SKIP() << "CPU lacks " << isa_name(isa());
    scope_ = std::make_unique<IsaScope>(isa());
  }
  Layout layout() const { return std::get<0>(GetParam()); }
  Isa isa() const { return std::get<1>(GetParam()); }

 private:
  std::unique_ptr<IsaScope> scope_;
};

TEST_P(MomentsSweep, EdgeShapesMatchReference) {
  auto rng = make_rng(3);
  std::uint64_t index = 0;
  for (std::int64_t n : {1, 2, 5}) {
    for (std::int64_t c : {1, 3, 5, 9, 12, 16, 17, 33, 127}) {
      for (std::int64_t s : {1, 3, 15, 16, 17, 31, 127, 200}) {
        if (layout() == Layout::nc && s != 1) continue;
        const auto dims = make_dims(layout(), n, c, s);
        const auto x = channel_data(rng, layout(), dims, (++index % 3) * 10.0, 1.5);
        SCOPED_TRACE(dims_text(dims));
        EXPECT_TRUE(moments_match(batch_moments(ConstTensor(x.data(), dims, layout())),
                                  reference::moments(x, layout(), dims)));
      }
    }
  }
}

// Planes longer than one block (65536 values), channels-first samples in more than one group
// of planes (2000 planes of 37 values per channel: groups of 1771) and channels-last tensors
// with many blocks of rows: the merge of block results is exercised, not just one block per
// channel.
TEST_P(MomentsSweep, ManyBlocksPerChannel) {
  auto rng = make_rng(4);
  for (const auto& dims :
       layout() == Layout::nc
           ? std::vector<std::vector<std::int64_t>>{{70001, 3}}
           : std::vector<std::vector<std::int64_t>>{make_dims(layout(), 2, 3, 70001),
                                                    make_dims(layout(), 2000, 3, 37)}) {
    const auto x = channel_data(rng, layout(), dims, -5.0, 2.0);
    EXPECT_TRUE(moments_match(batch_moments(ConstTensor(x.data(), dims, layout())),
                              reference::moments(x, layout(), dims)))
        << dims_text(dims);
  }
}

// Channels-first planes narrower than a vector, several samples: groups of 16 (8) channels
// summed down the samples lane by lane, then each channel's lanes added; channels past the last
// whole group take the per-plane path. Far from zero, so that a shift applied to the wrong
// lanes shows.
TEST_P(MomentsSweep, NarrowPlanesOverSamples) {
  auto rng = make_rng(6);
  for (std::int64_t inner : {2, 3, 5, 9, 15}) {
    const auto dims = make_dims(layout(), 40, 37, layout() == Layout::nc ? 1 : inner);
    const auto x = channel_data(rng, layout(), dims, 1000.0, 1.0);
    EXPECT_TRUE(moments_match(batch_moments(ConstTensor(x.data(), dims, layout())),
                              reference::moments(x, layout(), dims)))
        << dims_text(dims);
  }
}

// x = 1000 + N(0, 1): E[x^2] - E[x]^2 in float loses the variance entirely; shifted double sums
// keep it. The test first proves the data is hard for the naive formula.
TEST_P(MomentsSweep, LargeCommonOffset) {
  auto rng = make_rng(5);
  const std::vector<std::int64_t> dims =
      layout() == Layout::nc ? std::vector<std::int64_t>{4096, 8} : make_dims(layout(), 4, 8, 1024);
  const auto x = channel_data(rng, layout(), dims, 1000.0, 1.0);
  const auto want = reference::moments(x, layout(), dims);

  float sum = 0, squares = 0;  // naive single-precision, channel 0
  std::size_t count = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (reference::channel_of(i, layout(), dims) != 0) continue;
    sum += x[i];
    squares += x[i] * x[i];
    ++count;
  }
  const float naive_var = squares / count - (sum / count) * (sum / count);
  const double true_var = want.m2[0] / want.count;
  ASSERT_GT(std::fabs(naive_var - true_var) / true_var, 1e-2) << "data not hard enough";

  const ChannelMoments got = batch_moments(ConstTensor(x.data(), dims, layout()));
  EXPECT_TRUE(moments_match(got, want));
  EXPECT_NEAR(got.biased_variance()[0], true_var, 1e-12 * true_var);
}

INSTANTIATE_TEST_SUITE_P(LayoutsByIsa, MomentsSweep,
                         ::testing::Combine(::testing::ValuesIn(all_layouts()),
                                            ::testing::ValuesIn(all_isas())),
                         [](const auto& info) {
                           return std::string(layout_name(std::get<0>(info.param))) + "_" +
                                  std::string(isa_name(std::get<1>(info.param)));
                         });

// ---- determinism --------------------------------------------------------------------------

bool bitwise_equal(const ChannelMoments& a, const ChannelMoments& b) {
  return a.count == b.count && a.mean.size() == b.mean.size() &&
         std::memcmp(a.mean.data(), b.mean.data(), a.mean.size() * sizeof(double)) == 0 &&
         std::memcmp(a.m2.data(), b.m2.data(), a.m2.size() * sizeof(double)) == 0;
}

// The exact moments, the training forward's fast ones, its output and its running statistics,
// with 1, 2 and 3 threads (an arena of 3 splits the blocks in three even on two cores; thirds
// of 1 x 4100 small planes fall between the AVX-512 fast kernel's sixteen-plane groups unless
// the split respects them, and 30 x 37 planes of 196 values put the exact kernel's groups of
// one-plane blocks on different boundaries per thread count; channels-last tensors of few
// rows are cut into as many channel slices as threads).
TEST(MomentsDeterminism, ThreadCountNeverChangesABit) {
  auto rng = make_rng(6);
  int shape_index = 0;
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (const auto& [layout, dims] : std::vector<std::pair<Layout, std::vector<std::int64_t>>>{
             {Layout::nchw, {4, 64, 56, 56}},
             {Layout::nhwc, {4, 56, 56, 64}},
             {Layout::nhwc, {2, 7, 7, 2048}},
             {Layout::nchw, {1, 3, 300, 300}},
             {Layout::nchw, {30, 37, 14, 14}},  // exact: groups of one-plane blocks, odd tail
             {Layout::nchw, {1, 4100, 7, 7}},
             {Layout::nchw, {32, 500, 7, 7}},
             {Layout::nchw, {30, 37, 17, 17}},  // medium-plane groups across samples
             {Layout::ncl, {3000, 7, 37}},
             {Layout::ncl, {192, 700, 3}},       // planes narrower than a vector
             {Layout::ncl, {1, 40000, 5}},       // the same, one sample: split by channel
             {Layout::nhwc, {1, 15, 15, 2061}},  // one row block: channel slices per thread
             // One row block of 1000 channels: the fast pass walks it tile by tile on one
             // thread (eight tiles, the last partial) and run by run in the slices of two or
             // three (four tiles or fewer).
             {Layout::nhwc, {1, 15, 15, 1000}},
             {Layout::nc, {256, 1029}},
             {Layout::nhwc, {12, 100, 100, 3}},  // narrow rows, several row blocks
             {Layout::nc, {70001, 5}}}) {
      // Statistics alone read the tensor once; the training forward reads it twice and
      // writes it, in two passes at worst (each fork-join then needs its own share of the
      // traffic): each is split on two threads and more.
      const std::size_t bytes = sizeof(float) * element_count(dims);
      ASSERT_GE(tasks_in_arena(bytes, 2), 2u) << dims_text(dims);
      ASSERT_GE(tasks_in_arena(3 * bytes / 2, 3), 3u) << dims_text(dims);
      const auto x = channel_data(rng, layout, dims, 3.0, 1.0);
      const std::size_t channels =
          static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
      // Affine on every other shape: the fold's gamma and beta are sliced with the channels.
      const bool affine = ++shape_index % 2 == 0;
      const std::vector<float> gamma =
          affine ? random_floats(rng, channels, 0.5, 2.0) : std::vector<float>{};
      const std::vector<float> beta =
          affine ? random_floats(rng, channels, -1.0, 1.0) : std::vector<float>{};
      std::vector<float> y[3];
      ChannelMoments exact[3], fast[3];
      RunningStats running[3];
      for (int threads = 1; threads <= 3; ++threads) {
        y[threads - 1].resize(x.size());
        tbb::task_arena(threads).execute([&] {
          exact[threads - 1] = batch_moments(ConstTensor(x.data(), dims, layout));
          TrainingBatchNorm bn = TrainingBatchNorm::create(channels, gamma, beta);
          fast[threads - 1] = bn.run(ConstTensor(x.data(), dims, layout),
                                     MutableTensor(y[threads - 1].data(), dims, layout));
          running[threads - 1] = bn.running_stats();
        });
      }
      for (int threads = 2; threads <= 3; ++threads) {
        const std::string where =
            std::string(isa_name(isa)) + " " + dims_text(dims) + ", " + std::to_string(threads);
        EXPECT_TRUE(bitwise_equal(exact[0], exact[threads - 1])) << where << " threads, exact";
        EXPECT_TRUE(bitwise_equal(fast[0], fast[threads - 1])) << where << " threads, fast";
        EXPECT_EQ(y[0], y[threads - 1]) << where << " threads, training output";
        EXPECT_EQ(running[0].mean, running[threads - 1].mean) << where << " threads";
        EXPECT_EQ(running[0].var, running[threads - 1].var) << where << " threads";
      }
    }
  }
}

// batch_moments and MomentsAccumulator::add keep their partial results' buffers on the calling
// thread between calls. Calls from many tasks at once, each a parallel pass itself (so a
// thread waiting for its pass may start another task's call on top of it), and shapes of
// different sizes one after another must all give what one lone call gives.
TEST(MomentsDeterminism, ConcurrentAndNestedCallsMatchLoneCalls) {
  auto rng = make_rng(8);
  const std::vector<std::pair<Layout, std::vector<std::int64_t>>> shapes = {
      {Layout::nhwc, {8, 7, 7, 2048}},  // many row blocks: large partial results
      {Layout::nchw, {16, 64, 14, 14}},
      {Layout::nc, {4096, 24}},
      {Layout::nchw, {2, 5, 3, 3}}};
  std::vector<std::vector<float>> data;
  std::vector<ChannelMoments> alone;
  for (const auto& [layout, dims] : shapes) {
    data.push_back(channel_data(rng, layout, dims, 5.0, 2.0));
    alone.push_back(batch_moments(ConstTensor(data.back().data(), dims, layout), 1));
  }
  constexpr std::size_t kCalls = 64;
  std::vector<ChannelMoments> got(kCalls);
  std::vector<ChannelMoments> accumulated(kCalls);
  tbb::parallel_for(std::size_t{0}, kCalls, [&](std::size_t k) {
    const std::size_t s = k % shapes.size();
    const ConstTensor x(data[s].data(), shapes[s].second, shapes[s].first);
    got[k] = batch_moments(x);
    MomentsAccumulator accumulator(alone[s].channels());
    accumulator.add(x);
    accumulated[k] = accumulator.moments();
  });
  for (std::size_t k = 0; k < kCalls; ++k) {
    const std::size_t s = k % shapes.size();
    EXPECT_TRUE(bitwise_equal(got[k], alone[s]))
        << "call " << k << ", " << dims_text(shapes[s].second);
    EXPECT_TRUE(bitwise_equal(accumulated[k], alone[s]))
        << "accumulator " << k << ", " << dims_text(shapes[s].second);
  }
}

// The training forward runs its two passes in one fork-join whose tasks wait for each other
// between the passes (parallel_two_phases). Forwards started from many tasks at once, so that
// a forward's own tasks may find every thread busy and run one after another, must finish and
// give what a lone forward gives.
TEST(TrainingBatchNorm, ForwardsFromParallelTasksMatchLoneForwards) {
  auto rng = make_rng(13);
  const std::vector<std::pair<Layout, std::vector<std::int64_t>>> shapes = {
      {Layout::nhwc, {4, 28, 28, 64}},  // row blocks: statistics merged between the passes
      {Layout::nchw, {8, 32, 28, 28}},
      {Layout::nhwc, {1, 15, 15, 2061}}};  // one row block: channel slices fold as they finish
  std::vector<std::vector<float>> data, alone;
  for (const auto& [layout, dims] : shapes) {
    const std::size_t bytes = sizeof(float) * element_count(dims);
    ASSERT_GE(tasks_in_arena(3 * bytes / 2, 2), 2u) << dims_text(dims);
    data.push_back(channel_data(rng, layout, dims, 2.0, 3.0));
    const std::size_t channels =
        static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
    alone.emplace_back(data.back().size());
    TrainingBatchNorm bn = TrainingBatchNorm::create(channels, {}, {});
    tbb::task_arena(1).execute([&] {
      bn.run(ConstTensor(data.back().data(), dims, layout),
             MutableTensor(alone.back().data(), dims, layout));
    });
  }
  constexpr std::size_t kCalls = 24;
  std::vector<std::vector<float>> got(kCalls);
  tbb::task_arena(2).execute([&] {
    tbb::parallel_for(std::size_t{0}, kCalls, [&](std::size_t k) {
      const auto& [layout, dims] = shapes[k % shapes.size()];
      const std::vector<float>& x = data[k % shapes.size()];
      const std::size_t channels =
          static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
      got[k].resize(x.size());
      TrainingBatchNorm bn = TrainingBatchNorm::create(channels, {}, {});
      bn.run(ConstTensor(x.data(), dims, layout), MutableTensor(got[k].data(), dims, layout));
    });
  });
  for (std::size_t k = 0; k < kCalls; ++k) {
    EXPECT_EQ(got[k], alone[k % shapes.size()])
        << "call " << k << ", " << dims_text(shapes[k % shapes.size()].second);
  }
}

// ISAs sum in different orders (vector widths differ): equal within rounding, not bitwise.
TEST(MomentsDeterminism, IsasAgreeWithinRounding) {
  auto rng = make_rng(7);
  const std::vector<std::int64_t> dims = {3, 40, 40, 24};
  const auto x = channel_data(rng, Layout::nhwc, dims, 100.0, 3.0);
  const auto want = reference::moments(x, Layout::nhwc, dims);
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    EXPECT_TRUE(moments_match(batch_moments(ConstTensor(x.data(), dims, Layout::nhwc)), want))
        << isa_name(isa);
  }
}

// ---- the recalibration accumulator --------------------------------------------------------

TEST(MomentsAccumulator, BatchesOfAnySizeInAnyOrderEqualOnePass) {
  auto rng = make_rng(8);
  constexpr std::int64_t kChannels = 13;
  // 40 batches of 1 to 6 samples of 5x3 NHWC maps, one after another in memory: together they
  // are one (total, 5, 3, 13) tensor.
  std::vector<std::int64_t> sizes(40);
  std::uniform_int_distribution<std::int64_t> size_of(1, 6);
  for (auto& n : sizes) n = size_of(rng);
  const std::int64_t total = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  const std::vector<std::int64_t> all_dims = {total, 5, 3, kChannels};
  const auto data = channel_data(rng, Layout::nhwc, all_dims, 50.0, 4.0);
  const ChannelMoments one_pass = batch_moments(ConstTensor(data.data(), all_dims, Layout::nhwc));

  std::vector<ChannelMoments> per_batch;
  std::size_t offset = 0;
  for (std::int64_t n : sizes) {
    const std::vector<std::int64_t> dims = {n, 5, 3, kChannels};
    per_batch.push_back(batch_moments(ConstTensor(data.data() + offset, dims, Layout::nhwc)));
    offset += element_count(dims);
  }
  const reference::Moments exact = reference::moments(data, Layout::nhwc, all_dims);

  // In order, through the tensor interface.
  MomentsAccumulator in_order(kChannels);
  offset = 0;
  for (std::int64_t n : sizes) {
    const std::vector<std::int64_t> dims = {n, 5, 3, kChannels};
    in_order.add(ConstTensor(data.data() + offset, dims, Layout::nhwc));
    offset += element_count(dims);
  }
  // Shuffled, split over two accumulators ("threads"), then merged.
  std::vector<std::size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  MomentsAccumulator left(kChannels), right(kChannels);
  for (std::size_t k = 0; k < order.size(); ++k)
    (k % 3 == 0 ? left : right).add(per_batch[order[k]]);
  left.merge(right);

  for (const MomentsAccumulator* acc : {&in_order, &left}) {
    EXPECT_EQ(acc->batches(), static_cast<std::int64_t>(sizes.size()));
    EXPECT_TRUE(moments_match(acc->moments(), exact));
    for (std::size_t c = 0; c < kChannels; ++c) {
      EXPECT_NEAR(acc->moments().mean[c], one_pass.mean[c], 1e-12 * std::fabs(one_pass.mean[c]));
      EXPECT_NEAR(acc->moments().m2[c], one_pass.m2[c], 1e-12 * one_pass.m2[c]);
    }
  }
}

TEST(MomentsAccumulator, RunningStatsAndFold) {
  MomentsAccumulator acc(2);
  const std::vector<float> x = {1, 10, 3, 20, 5, 60};  // (3, 2): channel 0 = 1 3 5, 1 = 10 20 60
  acc.add(ConstTensor(x.data(), {3, 2}, Layout::nc));
  const RunningStats stats = acc.running_stats();
  EXPECT_EQ(stats.num_batches_tracked, 1);
  EXPECT_FLOAT_EQ(stats.mean[0], 3.0f);
  EXPECT_FLOAT_EQ(stats.var[0], 4.0f);  // unbiased: (4 + 0 + 4) / 2
  EXPECT_FLOAT_EQ(stats.mean[1], 30.0f);
  EXPECT_FLOAT_EQ(stats.var[1], 700.0f);  // (400 + 100 + 900) / 2
  const std::vector<float> gamma = {2.0f, 1.0f}, beta = {0.5f, 0.0f};
  const ChannelAffine affine = acc.fold(gamma, beta, 0.0);
  EXPECT_DOUBLE_EQ(affine.scale[0], 1.0);        // 2 / sqrt(4)
  EXPECT_DOUBLE_EQ(affine.shift[0], 0.5 - 3.0);  // 0.5 - 3 * 1
  EXPECT_NEAR(affine.scale[1], 1.0 / std::sqrt(700.0), 1e-15);
}

// ---- momentum conventions and the running-stat update --------------------------------------

TEST(RunningStats, PyTorchUpdateTermForTerm) {
  RunningStats stats = RunningStats::initial(1);
  ChannelMoments batch{4, {2.0}, {12.0}};  // biased var 3, unbiased 4
  stats.update(batch, Momentum::pytorch(0.25));
  EXPECT_EQ(stats.num_batches_tracked, 1);
  EXPECT_FLOAT_EQ(stats.mean[0], 0.75f * 0.0f + 0.25f * 2.0f);
  EXPECT_FLOAT_EQ(stats.var[0], 0.75f * 1.0f + 0.25f * 4.0f);  // unbiased variance goes in
}

TEST(RunningStats, CumulativeIsTheExactAverageOfBatchStatistics) {
  RunningStats stats = RunningStats::initial(1);
  const double means[] = {1.0, 4.0, -2.0, 7.0};
  for (double m : means) stats.update(ChannelMoments{3, {m}, {2.0}}, Momentum::cumulative());
  EXPECT_EQ(stats.num_batches_tracked, 4);
  EXPECT_FLOAT_EQ(stats.mean[0], 2.5f);  // (1 + 4 - 2 + 7) / 4: the first batch fully replaces 0
  EXPECT_FLOAT_EQ(stats.var[0], 1.0f);   // every batch's unbiased var is 2 / 2
}

TEST(RunningStats, KeepFactorIsPyTorchMomentumReversed) {
  RunningStats a = RunningStats::initial(3), b = RunningStats::initial(3);
  const ChannelMoments batch{5, {1.0, -2.0, 3.5}, {4.0, 8.0, 0.5}};
  for (int step = 0; step < 3; ++step) {
    a.update(batch, Momentum::keep_factor(0.95));
    b.update(batch, Momentum::pytorch(0.05));
  }
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.var, b.var);
  EXPECT_EQ(Momentum::keep_factor().batch_weight(1), 1.0 - 0.9);  // ONNX default 0.9
}

TEST(RunningStats, Errors) {
  EXPECT_THROW(Momentum::pytorch(1.5), Error);
  EXPECT_THROW(Momentum::keep_factor(-0.1), Error);
  EXPECT_THROW(Momentum::pytorch(std::nan("")), Error);
  RunningStats stats = RunningStats::initial(2);
  EXPECT_THROW(stats.update(ChannelMoments{4, {1.0}, {1.0}}, Momentum::pytorch()), Error);
  EXPECT_THROW(stats.update(ChannelMoments{1, {1.0, 2.0}, {0.0, 0.0}}, Momentum::pytorch()), Error);
  EXPECT_EQ(stats.num_batches_tracked, 0) << "a failed update must not count";
}

// ---- the training-mode op -----------------------------------------------------------------

// Small tensors (one task), and one-sample tensors large enough to be split by channel
// between three tasks (the training forward's single-pass path), every layout.
TEST(TrainingBatchNorm, NormalizesWithBiasedBatchStatisticsEveryLayout) {
  auto rng = make_rng(9);
  for (const auto& [layout, dims] : [] {
         std::vector<std::pair<Layout, std::vector<std::int64_t>>> cases;
         for (Layout layout : all_layouts()) {
           const bool rows = layout == Layout::nc;
           cases.emplace_back(layout, make_dims(layout, 3, 17, rows ? 1 : 23));
           cases.emplace_back(
               layout, rows ? std::vector<std::int64_t>{3, 60001} : make_dims(layout, 1, 803, 201));
           // Several blocks per channel, merged before the fold (2 samples of large planes;
           // 32000 rows of 5 channels).
           cases.emplace_back(
               layout, rows ? std::vector<std::int64_t>{32000, 5} : make_dims(layout, 2, 5, 16000));
         }
         // One-sample planes narrower than a vector, split by channel between the tasks: the
         // normalization takes its tables' entries a vector's width of planes at a time.
         cases.emplace_back(Layout::nchw, std::vector<std::int64_t>{1, 16411, 3, 3});
         cases.emplace_back(Layout::ncl, std::vector<std::int64_t>{1, 80021, 2});
         return cases;
       }()) {
    // All but the small tensors take three tasks (src read twice, the residual once, dst
    // written, in two passes at worst).
    const std::size_t bytes = sizeof(float) * element_count(dims);
    if (bytes > 10000) {
      ASSERT_GE(tasks_in_arena(4 * bytes / 2, 3), 3u) << dims_text(dims);
    }
    const std::size_t channels =
        static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
    const auto x = channel_data(rng, layout, dims, 7.0, 2.0);
    const auto r = random_floats(rng, x.size(), -1.0, 1.0);
    const auto gamma = random_floats(rng, channels, 0.5, 2.0);
    const auto beta = random_floats(rng, channels, -1.0, 1.0);
    TrainingBatchNorm bn = TrainingBatchNorm::create(
        channels, gamma, beta, {.eps = 1e-3, .activation = Activation::relu6()});
    std::vector<float> y(x.size());
    tbb::task_arena(3).execute([&] {
      bn.run(ConstTensor(x.data(), dims, layout), ConstTensor(r.data(), dims, layout),
             MutableTensor(y.data(), dims, layout));
    });

    const auto moments = reference::moments(x, layout, dims);
    reference::BatchNormCase ref;
    ref.mean = moments.mean;
    for (double m2 : moments.m2) ref.var.push_back(m2 / moments.count);  // biased
    ref.gamma.assign(gamma.begin(), gamma.end());
    ref.beta.assign(beta.begin(), beta.end());
    ref.eps = 1e-3;
    ref.lo = 0.0;
    ref.hi = 6.0;
    EXPECT_TRUE(matches_reference(y.data(), reference::batch_norm(ref, x, &r, layout, dims)))
        << layout_name(layout) << " " << dims_text(dims);
  }
}

// The training forward's statistics come from the fast kernels (float runs widened into
// double): documented within 1e-6 relative. Checked on every ISA, both layout families, partial
// channel tiles, long planes and a large common offset.
TEST(TrainingBatchNorm, FastStatisticsWithinOneMillionth) {
  auto rng = make_rng(12);
  for (Isa isa : all_isas()) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (const auto& [layout, dims] : std::vector<std::pair<Layout, std::vector<std::int64_t>>>{
             {Layout::nchw, {3, 5, 37, 41}},    {Layout::nhwc, {3, 37, 41, 5}},
             {Layout::nhwc, {2, 9, 11, 2061}},  {Layout::ncdhw, {2, 3, 9, 17, 33}},
             {Layout::nc, {1000, 70}},          {Layout::ncl, {4, 2, 70001}},
             {Layout::nchw, {32, 19, 7, 7}},     // short planes: tiles of channels and the rest
             {Layout::nchw, {6, 300, 7, 7}},     // sample-major sixteens over two chunks, with
             {Layout::nchw, {8, 48, 4, 4}},      // one whole vector per plane,
             {Layout::nchw, {3, 33, 8, 8}},      // four,
             {Layout::nchw, {5, 40, 3, 3}},      // none (narrower than a vector: summed
             {Layout::nchw, {40, 37, 3, 3}},     // down the samples lane by lane, in runs of
             {Layout::ncl, {33, 50, 2}},         // 16 samples, channels past the last whole
             {Layout::ncl, {17, 20, 15}},        // group of 16 or 8 the old way)
             {Layout::nchw, {3, 64, 2, 2}},      //
             {Layout::nchw, {1, 40, 7, 7}},      // one sample: groups of sixteen planes, with
             {Layout::nchw, {1, 33, 4, 4}},      // 1 to 4 whole vectors fixed at compile time
             {Layout::nchw, {1, 17, 5, 6}},      // (16, 30, 36, 64 values),
             {Layout::nchw, {1, 20, 6, 6}},      //
             {Layout::nchw, {1, 18, 8, 8}},      //
             {Layout::nchw, {1, 16, 3, 3}},      // or counted at run time (9, 100 values)
             {Layout::nchw, {1, 16, 10, 10}},    //
             {Layout::nchw, {1, 4096, 7, 7}},    // many small planes: far-out first values
             {Layout::nchw, {1, 4096, 3, 3}},    //
             {Layout::nchw, {1, 40, 17, 17}},    // medium planes, groups of sixteen (or eight):
             {Layout::nchw, {3, 22, 32, 32}},    // groups across samples, 64 AVX-512 vectors,
             {Layout::nchw, {2, 20, 16, 32}},    // 64 AVX2 vectors,
             {Layout::nchw, {1, 2048, 23, 23}},  // many planes: far-out first values
             {Layout::nchw, {1, 2048, 12, 12}},  //
             {Layout::nchw, {2, 3, 20, 20}},     // long planes of several samples
             {Layout::ncl, {2000, 3, 37}},       // two groups of samples
             {Layout::nhwc, {2, 30, 31, 3}},     // rows narrower than a vector: flat patterns
             {Layout::nhwc, {1, 17, 19, 9}},     // of 9 vectors (two walks on AVX-512),
             {Layout::nhwc, {3, 11, 13, 12}},    // 3,
             {Layout::nc, {5001, 2}},            // 1,
             {Layout::nc, {997, 11}},            // 11 with values past the last pattern,
             {Layout::nhwc, {1, 3, 3, 5}}}) {    // none whole (9 rows of 5)

      for (double offset : {0.0, 1000.0}) {
        const auto x = channel_data(rng, layout, dims, offset, 1.0);
        const std::size_t channels =
            static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
        TrainingBatchNorm bn = TrainingBatchNorm::create(channels, {}, {});
        std::vector<float> y(x.size());
        const ChannelMoments got =
            bn.run(ConstTensor(x.data(), dims, layout), MutableTensor(y.data(), dims, layout));
        EXPECT_TRUE(moments_match(got, reference::moments(x, layout, dims), 1e-6))
            << isa_name(isa) << " " << layout_name(layout) << " " << dims_text(dims) << " offset "
            << offset;
      }
    }
  }
}

// In place equals out of place, also for one-sample tensors taken a chunk of channels at a time
// (1 x 300 x 7 x 7: statistics of a chunk are read before its planes are overwritten).
TEST(TrainingBatchNorm, InPlaceAndEvalOpFromRunningStats) {
  auto rng = make_rng(10);
  for (const std::vector<std::int64_t>& dims :
       {std::vector<std::int64_t>{4, 6, 5, 5}, std::vector<std::int64_t>{1, 300, 7, 7}}) {
    const auto channels = static_cast<std::size_t>(dims[1]);
    auto x = channel_data(rng, Layout::nchw, dims, -3.0, 1.0);
    const auto copy = x;
    const TrainingBatchNormOptions options = {.momentum = Momentum::pytorch(1.0)};
    TrainingBatchNorm bn = TrainingBatchNorm::create(channels, {}, {}, options);
    std::vector<float> out_of_place(x.size());
    TrainingBatchNorm twin = TrainingBatchNorm::create(channels, {}, {}, options);
    twin.run(ConstTensor(copy.data(), dims, Layout::nchw),
             MutableTensor(out_of_place.data(), dims, Layout::nchw));
    bn.run(ConstTensor(x.data(), dims, Layout::nchw), MutableTensor(x.data(), dims, Layout::nchw));
    EXPECT_EQ(x, out_of_place) << "in place must equal out of place, " << dims_text(dims);
    // Momentum 1: the running stats are exactly this batch's (unbiased variance).
    const auto moments = reference::moments(copy, Layout::nchw, dims);
    for (std::size_t c = 0; c < channels; ++c) {
      EXPECT_FLOAT_EQ(bn.running_stats().mean[c], static_cast<float>(moments.mean[c]));
      EXPECT_FLOAT_EQ(bn.running_stats().var[c],
                      static_cast<float>(moments.m2[c] / (moments.count - 1)));
    }
    const BatchNorm eval = bn.eval_op();
    EXPECT_EQ(eval.channels(), channels);
  }
}

// run(..., batch) reuses the caller's moments: the same outputs, moments and running stats as
// the by-value run, step after step, whatever `batch` held before (another layer's moments,
// garbage); also for a residual, and over a failed run, which leaves it untouched.
TEST(TrainingBatchNorm, RunIntoReusedMomentsEqualsRunByValue) {
  auto rng = make_rng(12);
  for (const std::vector<std::int64_t>& dims :
       {std::vector<std::int64_t>{1, 300, 7, 7}, std::vector<std::int64_t>{4, 6, 5, 5}}) {
    SCOPED_TRACE(dims_text(dims));
    const auto channels = static_cast<std::size_t>(dims[1]);
    const std::vector<float> gamma = random_floats(rng, channels, 0.5, 2.0);
    const std::vector<float> beta = random_floats(rng, channels, -1.0, 1.0);
    TrainingBatchNorm by_value = TrainingBatchNorm::create(channels, gamma, beta);
    TrainingBatchNorm reusing = TrainingBatchNorm::create(channels, gamma, beta);
    ChannelMoments batch;
    batch.count = 7;
    batch.mean.assign(3, std::nan(""));  // another layer's size, garbage values
    batch.m2.assign(channels + 5, -1.0);
    for (int step = 0; step < 3; ++step) {
      const auto x = channel_data(rng, Layout::nchw, dims, 2.0, 3.0);
      const auto r = random_floats(rng, x.size(), -1.0, 1.0);
      std::vector<float> want(x.size()), got(x.size());
      const ConstTensor src(x.data(), dims, Layout::nchw);
      const ChannelMoments expected =
          step == 1 ? by_value.run(src, ConstTensor(r.data(), dims, Layout::nchw),
                                   MutableTensor(want.data(), dims, Layout::nchw))
                    : by_value.run(src, MutableTensor(want.data(), dims, Layout::nchw));
      if (step == 1) {
        reusing.run(src, ConstTensor(r.data(), dims, Layout::nchw),
                    MutableTensor(got.data(), dims, Layout::nchw), batch);
      } else {
        reusing.run(src, MutableTensor(got.data(), dims, Layout::nchw), batch);
      }
      EXPECT_EQ(got, want) << "step " << step;
      EXPECT_EQ(batch.count, expected.count);
      EXPECT_EQ(batch.mean, expected.mean);
      EXPECT_EQ(batch.m2, expected.m2);
      EXPECT_EQ(reusing.running_stats().mean, by_value.running_stats().mean);
      EXPECT_EQ(reusing.running_stats().var, by_value.running_stats().var);
    }
    const ChannelMoments before = batch;
    std::vector<float> y(4);
    EXPECT_THROW(reusing.run(ConstTensor(y.data(), {1, 4}, Layout::nc),
                             MutableTensor(y.data(), {1, 4}, Layout::nc), batch),
                 Error);
    EXPECT_EQ(batch.mean, before.mean);
    EXPECT_EQ(batch.m2, before.m2);
  }
}

TEST(TrainingBatchNorm, OneValuePerChannelIsAnError) {
  TrainingBatchNorm bn = TrainingBatchNorm::create(4, {}, {});
  std::vector<float> x(4, 1.0f), y(4);
  try {
    bn.run(ConstTensor(x.data(), {1, 4, 1, 1}, Layout::nchw),
           MutableTensor(y.data(), {1, 4, 1, 1}, Layout::nchw));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("more than 1 value per channel"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(bn.running_stats().num_batches_tracked, 0);
}

TEST(TrainingBatchNorm, WithoutTrackingUsesBatchStatsAndKeepsNothing) {
  TrainingBatchNorm bn = TrainingBatchNorm::create(2, {}, {}, {.track_running_stats = false});
  std::vector<float> x = {1, 10, 3, 30}, y(4);  // (2, 2): channel 0 = 1 3, 1 = 10 30
  bn.run(ConstTensor(x.data(), {2, 2}, Layout::nc), MutableTensor(y.data(), {2, 2}, Layout::nc));
  EXPECT_NEAR(y[0], -1.0, 1e-5);  // (1 - 2) / sqrt(1 + 1e-5)
  EXPECT_NEAR(y[3], 1.0, 1e-6);
  EXPECT_TRUE(bn.running_stats().mean.empty());
  EXPECT_THROW(bn.eval_op(), Error);
}

TEST(TrainingBatchNorm, CreateErrors) {
  const std::vector<float> two = {1, 1}, three = {1, 1, 1};
  EXPECT_THROW(TrainingBatchNorm::create(0, {}, {}), Error);
  EXPECT_THROW(TrainingBatchNorm::create(3, two, two), Error);
  EXPECT_THROW(TrainingBatchNorm::create(3, three, {}), Error);
  EXPECT_THROW(TrainingBatchNorm::create(3, {}, {}, {.eps = -1.0}), Error);
  EXPECT_THROW(TrainingBatchNorm::create(2, {}, {}, {}, RunningStats{{0.0f}, {1.0f}, 0}), Error);
}

TEST(BatchMoments, Errors) {
  std::vector<float> x(8, 1.0f);
  EXPECT_THROW(batch_moments(ConstTensor(x.data(), {0, 4}, Layout::nc)), Error);
  EXPECT_THROW(batch_moments(ConstTensor(nullptr, {2, 4}, Layout::nc)), Error);
  MomentsAccumulator acc(3);
  EXPECT_THROW(acc.add(ConstTensor(x.data(), {2, 4}, Layout::nc)), Error);
  EXPECT_THROW(acc.add(ChannelMoments{2, {1.0}, {1.0}}), Error);
}

}  // namespace
}  // namespace bnrt::testing
