// The statistic behind every x_PEER ratio of `bnrt bench conv`: the median of per-round ratios.
#include <gtest/gtest.h>

#include <vector>

#include "interleaved_timer.hpp"

namespace {

using bnrt::bench::paired_ratio;

TEST(PairedRatio, IsTheMedianOfPerRoundRatios) {
  EXPECT_DOUBLE_EQ(*paired_ratio({2, 4, 6}, {1, 2, 3}), 2.0);
  // Ratios 1.5, 0.5, 3, 1, 2: the median is 1.5.
  EXPECT_DOUBLE_EQ(*paired_ratio({3, 1, 6, 2, 4}, {2, 2, 2, 2, 2}), 1.5);
}

TEST(PairedRatio, FollowsTheRoundsNotTheSeparateMedians) {
  // The machine runs at half speed from round 2 on, except that a's round-2 sample caught a
  // fast moment. a is 1% slower than b in four rounds of five: the paired statistic says 1.01,
  // where the ratio of the two medians (101 / 200) would say a is twice as fast.
  const std::vector<double> a = {101, 101, 101, 202, 202};
  const std::vector<double> b = {100, 100, 200, 200, 200};
  EXPECT_NEAR(*paired_ratio(a, b), 1.01, 1e-12);
}

TEST(PairedRatio, UsesTheRoundsBothHave) {
  EXPECT_DOUBLE_EQ(*paired_ratio({2, 2, 100}, {1, 1}), 2.0);
  EXPECT_FALSE(paired_ratio({}, {1.0}));
  EXPECT_FALSE(paired_ratio({1.0}, {}));
}

}  // namespace
