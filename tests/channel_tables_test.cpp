// White-box tests of the per-channel pattern tables: contents of both copies, and that the copy
// chosen for a destination keeps table loads out of the 4K-aliasing window (and still computes
// the right values, whichever copy runs).
#include <gtest/gtest.h>

#include <cstdint>

#include "channel_tables.hpp"
#include "test_buffer.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

std::vector<float> iota_floats(std::size_t n, float start) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

TEST(ChannelTables, PatternRepeatsChannelsInBothCopies) {
  for (std::size_t channels : {1u, 3u, 16u, 17u, 256u, 1000u, 1024u, 2048u}) {
    SCOPED_TRACE("channels=" + std::to_string(channels));
    const auto scale = iota_floats(channels, 1.0f);
    const auto shift = iota_floats(channels, -100.0f);
    const detail::ChannelTables tables(scale, shift);
    EXPECT_EQ(tables.period() % channels, 0u);
    EXPECT_GE(tables.period(), 16u);
    EXPECT_LT(tables.period(), channels + 16);
    // Every destination offset mod 4096 picks some copy; each must hold the full pattern.
    for (std::uintptr_t offset = 0; offset < 4096; offset += 64) {
      const auto [s, b] = tables.for_destination(reinterpret_cast<const void*>(offset));
      for (std::size_t j = 0; j < tables.period() + 16; ++j) {
        ASSERT_EQ(s[j], scale[j % channels]) << "entry " << j;
        ASSERT_EQ(b[j], shift[j % channels]) << "entry " << j;
      }
    }
  }
}

TEST(ChannelTables, ChosenCopyAvoidsTheAliasingWindow) {
  for (std::size_t channels : {256u, 512u, 1024u, 2048u}) {
    const auto values = iota_floats(channels, 0.0f);
    const detail::ChannelTables tables(values, values);
    const std::size_t row_bytes = tables.period() * sizeof(float);
    bool used_second_copy = false;
    for (std::uintptr_t dst = 4096; dst < 8192; dst += 64) {
      const auto [s, b] = tables.for_destination(reinterpret_cast<const void*>(dst));
      used_second_copy = used_second_copy || s != tables.scale().data();
      // Offsets between the stores into every row and the table loads for that row.
      for (std::size_t row = 0; row * row_bytes % 4096 != 0 || row == 0; ++row) {
        for (const float* table : {s, b}) {
          const std::uintptr_t delta =
              (dst + row * row_bytes - reinterpret_cast<std::uintptr_t>(table)) % 4096;
          EXPECT_FALSE(delta >= 64 && delta < 448)
              << "channels " << channels << " dst " << dst << " row " << row << " delta " << delta;
        }
        if (row > 8) break;
      }
    }
    EXPECT_TRUE(used_second_copy) << "channels " << channels;
  }
}

// End to end: NHWC with 1024 channels into destinations at every 64-byte offset of a page, so
// both table copies run, each compared with the reference.
TEST(ChannelTables, BothCopiesComputeTheSameResult) {
  auto rng = make_rng(31);
  const RandomStats stats(rng, 1024);
  const BatchNorm bn = BatchNorm::create(stats.params());
  const std::vector<std::int64_t> dims = {1, 3, 5, 1024};
  const std::vector<float> x = random_floats(rng, element_count(dims), -3.0, 3.0);
  const auto expected = reference::batch_norm(stats.reference_case(Activation::identity()), x,
                                              nullptr, Layout::nhwc, dims);
  for (std::size_t offset = 0; offset < 4096; offset += 64) {
    TestBuffer dst(x.size(), offset);
    bn.run(ConstTensor(x.data(), dims, Layout::nhwc),
           MutableTensor(dst.data(), dims, Layout::nhwc));
    EXPECT_TRUE(matches_reference(dst.values().data(), expected)) << "offset " << offset;
  }
}

// The training op writes each run's values straight into the copy its destination picks:
// after complete_copy that copy holds the whole pattern and serves every destination (the
// other is stale), and assign() makes both current again.
TEST(ChannelTables, WrittenCopyServesEveryDestination) {
  for (std::size_t channels : {1u, 3u, 16u, 17u, 1000u, 1024u, 2048u}) {
    SCOPED_TRACE("channels=" + std::to_string(channels));
    const std::vector<float> zeros(channels, 0.0f);
    detail::ChannelTables tables(zeros, zeros);
    for (std::uintptr_t dst : {std::uintptr_t{4096}, std::uintptr_t{4096 + 128}}) {
      const float start = static_cast<float>(dst % 1000);
      const auto [scale, shift] = tables.write_for_destination(reinterpret_cast<void*>(dst));
      for (std::size_t c = 0; c < channels; ++c) {
        scale[c] = start + static_cast<float>(c);
        shift[c] = -start - static_cast<float>(c);
      }
      tables.complete_copy();
      for (std::uintptr_t other = 0; other < 4096; other += 64) {
        const auto [s, b] = tables.for_destination(reinterpret_cast<const void*>(other));
        ASSERT_EQ(s, scale) << "destination offset " << other;
        for (std::size_t j = 0; j < tables.period() + 16; ++j) {
          ASSERT_EQ(s[j], start + static_cast<float>(j % channels)) << "entry " << j;
          ASSERT_EQ(b[j], -start - static_cast<float>(j % channels)) << "entry " << j;
        }
      }
      EXPECT_EQ(tables.scale()[channels - 1], start + static_cast<float>(channels - 1));
    }
    const auto values = iota_floats(channels, 5.0f);
    tables.assign(values, values);
    for (std::uintptr_t other = 0; other < 4096; other += 64) {
      const auto [s, b] = tables.for_destination(reinterpret_cast<const void*>(other));
      ASSERT_EQ(s[channels - 1], values[channels - 1]) << "destination offset " << other;
    }
  }
}

}  // namespace
}  // namespace bnrt::testing
