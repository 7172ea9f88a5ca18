// Every layout x every ISA against the float64 reference, on shapes at vector edges (C and
// spatial in {1, 3, 15, 16, 17, 31, 33, 127}, N in {1, 2, 5}) and ResNet-50 shapes, with every
// epilogue, residual or not, in place or not, and pointers off vector alignment.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <tuple>

#include "test_buffer.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

enum class Placement {
  out_of_place,
  in_place_src,       ///< dst == src
  in_place_residual,  ///< dst == residual (only with a residual)
};

struct Variant {
  Activation activation;
  bool residual = false;
  Placement placement = Placement::out_of_place;
  std::size_t misalign_bytes = 0;  ///< offset of every buffer from a 64-byte boundary
  /// Streaming forces the non-temporal store path onto small tensors, heads and tails included.
  StorePolicy store_policy = StorePolicy::automatic;
};

std::string describe(const Variant& v) {
  return "act=[" + std::to_string(v.activation.lo) + "," + std::to_string(v.activation.hi) +
         "] residual=" + std::to_string(v.residual) +
         " placement=" + std::to_string(static_cast<int>(v.placement)) +
         " misalign=" + std::to_string(v.misalign_bytes) +
         " store_policy=" + std::to_string(static_cast<int>(v.store_policy));
}

const std::array<Activation, 5> kActivations = {
    Activation::identity(), Activation::relu(), Activation::relu6(),
    Activation::clamp(-0.5f, 0.75f),
    Activation::clamp(-std::numeric_limits<float>::infinity(), 1.0f)};

// Float offsets that put every vector width (4, 8, 16 floats) off alignment, plus aligned.
constexpr std::array<std::size_t, 3> kMisalignments = {0, 4, 36};

/// Runs one case and compares against the reference; also checks canaries around dst.
::testing::AssertionResult run_case(Layout layout, const std::vector<std::int64_t>& dims,
                                    const Variant& variant, std::uint64_t seed) {
  auto rng = make_rng(seed);
  const std::size_t channels =
      static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
  const std::size_t count = element_count(dims);
  const RandomStats stats(rng, channels, /*affine=*/seed % 5 != 0);
  const std::vector<float> x = random_floats(rng, count, -4.0, 4.0);
  const std::vector<float> r = random_floats(rng, count, -2.0, 2.0);

  const BatchNorm bn = BatchNorm::create(
      stats.params(), {.activation = variant.activation, .store_policy = variant.store_policy});
  const auto expected = reference::batch_norm(stats.reference_case(variant.activation), x,
                                              variant.residual ? &r : nullptr, layout, dims);

  // src and residual end their allocation exactly (ASan sees over-reads); dst has canaries.
  TestBuffer src(count, variant.misalign_bytes, /*guard_after=*/false);
  TestBuffer residual(count, variant.misalign_bytes, /*guard_after=*/false);
  TestBuffer dst(count, variant.misalign_bytes, /*guard_after=*/true);
  src.fill(x);
  residual.fill(r);
  TestBuffer* out = &dst;
  if (variant.placement == Placement::in_place_src) out = &src;
  if (variant.placement == Placement::in_place_residual) out = &residual;

  const ConstTensor src_view(src.data(), dims, layout);
  const MutableTensor dst_view(out->data(), dims, layout);
  if (variant.residual) {
    bn.run(src_view, ConstTensor(residual.data(), dims, layout), dst_view);
  } else {
    bn.run(src_view, dst_view);
  }
  if (!dst.guards_intact()) return ::testing::AssertionFailure() << "wrote outside dst";
  const std::vector<float> got = out->values();
  return matches_reference(got.data(), expected);
}

class BatchNormSweep : public ::testing::TestWithParam<std::tuple<Layout, Isa>> {
 protected:
  void SetUp() override {
    if (!isa_supported(isa())) GTEST_SKIP() << "CPU lacks " << isa_name(isa());
    scope_ = std::make_unique<IsaScope>(isa());
    ASSERT_EQ(active_isa(), isa());
  }
  Layout layout() const { return std::get<0>(GetParam()); }
  Isa isa() const { return std::get<1>(GetParam()); }

  void expect_case(const std::vector<std::int64_t>& dims, const Variant& variant,
                   std::uint64_t seed) {
    SCOPED_TRACE(std::string(layout_name(layout())) + " " + std::string(isa_name(isa())) + " " +
                 dims_text(dims) + " " + describe(variant) + " seed=" + std::to_string(seed));
    EXPECT_TRUE(run_case(layout(), dims, variant, seed));
  }

 private:
  std::unique_ptr<IsaScope> scope_;
};

constexpr std::array<std::int64_t, 8> kEdgeSizes = {1, 3, 15, 16, 17, 31, 33, 127};
constexpr std::array<std::int64_t, 3> kBatches = {1, 2, 5};

// The full grid of edge shapes; each shape gets one variant, rotating through all of them so
// that every epilogue / placement / alignment meets every kind of shape somewhere in the grid.
TEST_P(BatchNormSweep, EdgeShapesRotatingVariants) {
  std::uint64_t index = 0;
  for (std::int64_t n : kBatches) {
    for (std::int64_t c : kEdgeSizes) {
      for (std::int64_t s : kEdgeSizes) {
        if (layout() == Layout::nc && s != 1) continue;  // (N, C) has no spatial dim
        ++index;
        Variant v;
        v.activation = kActivations[index % kActivations.size()];
        v.residual = index % 2 == 1;
        const std::size_t placement = (index / 2) % 3;
        v.placement = placement == 2 && !v.residual ? Placement::in_place_src
                                                    : static_cast<Placement>(placement);
        v.misalign_bytes = kMisalignments[(index / 6) % kMisalignments.size()];
        v.store_policy = static_cast<StorePolicy>((index / 18) % 3);
        expect_case(make_dims(layout(), n, c, s), v, index);
      }
    }
  }
}

// Every variant combination on a few shapes that exercise heads, straddles and tails.
TEST_P(BatchNormSweep, EveryVariantOnSmallShapes) {
  const std::array<std::array<std::int64_t, 3>, 4> shapes = {
      {{2, 17, 15}, {1, 3, 33}, {5, 1, 17}, {2, 33, 1}}};
  std::uint64_t seed = 1000;
  for (const auto& [n, c, s] : shapes) {
    for (const Activation& activation : kActivations) {
      for (bool residual : {false, true}) {
        for (Placement placement :
             {Placement::out_of_place, Placement::in_place_src, Placement::in_place_residual}) {
          if (placement == Placement::in_place_residual && !residual) continue;
          for (std::size_t misalign : kMisalignments) {
            const auto policy = static_cast<StorePolicy>(seed % 3);
            expect_case(make_dims(layout(), n, c, layout() == Layout::nc ? 1 : s),
                        {activation, residual, placement, misalign, policy}, ++seed);
          }
        }
      }
    }
  }
}

// Real ResNet-50 batch-norm shapes (batch 1), large enough to be split across threads.
TEST_P(BatchNormSweep, ResNet50Shapes) {
  const std::array<std::array<std::int64_t, 2>, 5> shapes = {
      {{64, 112 * 112}, {256, 56 * 56}, {128, 28 * 28}, {1024, 14 * 14}, {2048, 7 * 7}}};
  std::uint64_t seed = 5000;
  for (const auto& [c, s] : shapes) {
    if (layout() == Layout::nc) {
      expect_case({static_cast<std::int64_t>(s), c}, {Activation::relu(), true}, ++seed);
      continue;
    }
    expect_case(make_dims(layout(), 1, c, s), {Activation::relu(), true}, ++seed);
    expect_case(make_dims(layout(), 1, c, s),
                {Activation::identity(), false, Placement::in_place_src, 4}, ++seed);
  }
}

// Channels-last patterns that fill L1 with a row of x and y and their tables walk column tiles
// across blocks of rows (from 2048 channels on a 32 KiB L1, 3072 on 48 KiB: 4096 and 4100 are
// tiled on both, 2048 and 2064 on the first only): channel counts that are not a multiple of
// the tile (2064, 4100), row counts that leave a partial block (37: two blocks of 16 and one
// of the 5 rows left), and misaligned heads so the block starts mid-pattern.
TEST_P(BatchNormSweep, WideChannelsLastTiles) {
  if (!layout_is_channels_last(layout())) GTEST_SKIP() << "tiles are a channels-last path";
  std::uint64_t seed = 8000;
  for (std::int64_t c : {2048, 2064, 4096, 4100}) {
    for (std::size_t misalign : {0, 4}) {
      const auto dims =
          layout() == Layout::nc ? std::vector<std::int64_t>{37, c} : make_dims(layout(), 1, c, 37);
      expect_case(dims, {Activation::relu(), seed % 2 == 0, Placement::out_of_place, misalign},
                  ++seed);
    }
  }
}

// Channels-last with 2048+ channels over a million elements per task goes four rows at a time:
// 1031 rows leave a partial group (each of two tasks still takes over a million elements),
// 2064 channels start the second task's groups mid-pattern (and go through the streaming
// stores), 4100 (not whole vectors) stays row by row, and the misaligned head starts the
// groups mid-pattern too.
TEST_P(BatchNormSweep, WideChannelsLastRowGroups) {
  // One channels-last rank of each kind suffices: the kernel sees flat rows whatever the rank.
  if (layout() != Layout::nhwc && layout() != Layout::nc) GTEST_SKIP() << "nhwc and nc only";
  if (isa() == Isa::scalar) GTEST_SKIP() << "row groups are a vector path";
  std::uint64_t seed = 8200;
  const std::int64_t rows = 1031;
  for (std::int64_t c : {2048, 2064, 4100}) {
    const auto dims = layout() == Layout::nc ? std::vector<std::int64_t>{rows, c}
                                             : make_dims(layout(), 1, c, rows);
    const std::size_t misalign = c == 2064 ? 4 : 0;
    // 2064 channels also with non-temporal stores (the row groups' other store path).
    const StorePolicy policy = c == 2064 ? StorePolicy::streaming : StorePolicy::cached;
    expect_case(dims, {Activation::relu6(), c != 4100, Placement::out_of_place, misalign, policy},
                ++seed);
  }
}

// Channels-first planes narrower than a vector (2x2, 3x3, short NCL rows) go a vector's width
// of planes at a time, each vector's lanes permuted out of the tables: every plane length below
// 16, channel counts that wrap inside a group (1, 3) or not (16, 17, 64), batches whose groups
// start at every channel, heads and tails of partial groups (misaligned, and a tensor one
// group long or shorter), the streaming stores, a residual and in place.
TEST_P(BatchNormSweep, NarrowChannelsFirstPlanes) {
  if (layout_is_channels_last(layout()) || layout() == Layout::nc) {
    GTEST_SKIP() << "a channels-first path";
  }
  std::uint64_t seed = 8800;
  for (std::int64_t inner : {2, 3, 4, 5, 7, 8, 9, 12, 15}) {
    for (std::int64_t c : {1, 3, 16, 17, 64}) {
      for (std::int64_t n : {1, 3, 40}) {
        ++seed;
        Variant v;
        v.activation = kActivations[seed % kActivations.size()];
        v.residual = seed % 2 == 0;
        v.placement = seed % 3 == 0
                          ? (v.residual ? Placement::in_place_residual : Placement::in_place_src)
                          : Placement::out_of_place;
        v.misalign_bytes = kMisalignments[seed % kMisalignments.size()];
        v.store_policy = seed % 4 == 0 ? StorePolicy::streaming : StorePolicy::automatic;
        expect_case(make_dims(layout(), n, c, inner), v, seed);
      }
    }
  }
}

// From 4096 channels, ranges past the column tiles' 64 rows go four rows at a time at any size
// (below the million elements 2048 channels need): 301 rows (over 64 per task on two threads)
// leave a partial group; a misaligned head starts the groups mid-pattern; with a residual and
// without.
TEST_P(BatchNormSweep, VeryWideChannelsLastRowGroups) {
  if (layout() != Layout::nhwc && layout() != Layout::nc) GTEST_SKIP() << "nhwc and nc only";
  if (isa() == Isa::scalar) GTEST_SKIP() << "row groups are a vector path";
  std::uint64_t seed = 8300;
  for (std::size_t misalign : {0, 4}) {
    const auto dims = layout() == Layout::nc ? std::vector<std::int64_t>{301, 4096}
                                             : make_dims(layout(), 1, 4096, 301);
    expect_case(dims, {Activation::relu6(), misalign == 0, Placement::out_of_place, misalign},
                ++seed);
  }
}

// Channels-last patterns of four or eight whole vectors (16 to 128 channels, by ISA) stay in
// registers across runs of rows: heads that start mid-pattern, and rows that end mid-run.
TEST_P(BatchNormSweep, ShortChannelsLastPatterns) {
  if (!layout_is_channels_last(layout())) GTEST_SKIP() << "a channels-last path";
  std::uint64_t seed = 8500;
  for (std::int64_t c : {16, 32, 64, 128}) {
    for (std::size_t misalign : {0, 4, 36}) {
      const auto dims =
          layout() == Layout::nc ? std::vector<std::int64_t>{37, c} : make_dims(layout(), 1, c, 37);
      expect_case(dims, {Activation::relu6(), seed % 2 == 0, Placement::out_of_place, misalign},
                  ++seed);
    }
  }
}

// A pointer that is not even float-aligned (1-3 bytes off) still computes the right thing:
// the vector paths load and store unaligned, and the staged tails copy bytes.
TEST_P(BatchNormSweep, PointersNotFloatAligned) {
  std::uint64_t seed = 7000;
  for (std::size_t misalign : {1, 2, 3}) {
    for (bool residual : {false, true}) {
      expect_case(make_dims(layout(), 2, 17, layout() == Layout::nc ? 1 : 19),
                  {Activation::relu6(), residual, Placement::out_of_place, misalign}, ++seed);
      expect_case(make_dims(layout(), 2, 17, layout() == Layout::nc ? 1 : 19),
                  {Activation::identity(), residual, Placement::in_place_src, misalign}, ++seed);
    }
  }
}

// A destination 4 to 252 bytes past its source (or residual) modulo 4096 is walked so that no
// load waits on a store just issued: channels-last ranges backward, channels-first ones
// forward with each vector's loads four vectors ahead of its store (up to 64, 128 or 256
// bytes on SSE2, AVX2, AVX-512; wider gaps walk as usual). Either way the same bits as a
// run with dst elsewhere, nothing written outside dst. src, residual and dst share one
// buffer; 4032 bytes (dst just behind) stays forward. Planes of 63 values put vectors across
// plane boundaries, planes of 64 end on vector boundaries (every ISA), 200 leaves partial
// vectors. Channels-last rows of four vectors (16, 32, 64 channels on SSE2, AVX2, AVX-512)
// and of eight (128 on AVX-512) take the backward runs with the pattern in registers, 144 to
// 1024 (multiples of 16) those holding its first vectors (AVX-512); odd row counts leave
// partial runs at the front.
TEST_P(BatchNormSweep, DestinationJustAheadOfSource) {
  std::uint64_t seed = 9500;
  const std::int64_t spatial = layout() == Layout::nc ? 1 : 63;
  const auto rows_of = [&](std::int64_t channels, std::int64_t rows) {
    return layout() == Layout::nc ? make_dims(layout(), rows, channels, 1)
                                  : make_dims(layout(), 1, channels, rows);
  };
  for (const auto& dims : {make_dims(layout(), 2, 5, spatial), make_dims(layout(), 3, 33, spatial),
                           make_dims(layout(), 1, 1, layout() == Layout::nc ? 1 : 200),
                           make_dims(layout(), 2, 7, layout() == Layout::nc ? 1 : 64),
                           rows_of(16, 11), rows_of(32, 11), rows_of(64, 13), rows_of(128, 7),
                           rows_of(144, 5), rows_of(256, 9), rows_of(1024, 3)}) {
    for (const std::size_t gap_bytes : {4u, 64u, 128u, 252u, 4032u}) {
      for (const bool residual_ahead : {false, true}) {
        SCOPED_TRACE(dims_text(dims) + " gap=" + std::to_string(gap_bytes) +
                     " residual_ahead=" + std::to_string(residual_ahead));
        auto rng = make_rng(++seed);
        const std::size_t count = element_count(dims);
        const std::size_t channels =
            static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout()))]);
        const RandomStats stats(rng, channels, /*affine=*/true);
        const BatchNorm bn = BatchNorm::create(stats.params(), {.activation = Activation::relu6()});
        const std::vector<float> x = random_floats(rng, count, -4.0, 4.0);
        const std::vector<float> r = random_floats(rng, count, -2.0, 2.0);
        // The forward result, into a buffer of its own.
        std::vector<float> want(count);
        bn.run(ConstTensor(x.data(), dims, layout()), ConstTensor(r.data(), dims, layout()),
               MutableTensor(want.data(), dims, layout()));

        // Slots whole pages apart; dst is `gap` past the operand that should be ahead of it,
        // and half a page off the other one.
        const std::size_t page = 1024;  // floats
        const std::size_t slot = (count + page - 1) / page * page + page;
        const std::size_t gap = gap_bytes / sizeof(float);
        std::vector<float> buffer(4 * slot + page, -777.0f);
        float* const base =
            buffer.data() +
            (page - reinterpret_cast<std::uintptr_t>(buffer.data()) / sizeof(float) % page);
        float* const near = base + slot;
        float* const far = base + page / 2;
        float* const src = residual_ahead ? far : near;
        float* const residual = residual_ahead ? near : far;
        float* const dst = base + 2 * slot + gap;
        std::copy(x.begin(), x.end(), src);
        std::copy(r.begin(), r.end(), residual);
        bn.run(ConstTensor(src, dims, layout()), ConstTensor(residual, dims, layout()),
               MutableTensor(dst, dims, layout()));
        EXPECT_TRUE(std::equal(want.begin(), want.end(), dst)) << "not the forward bits";
        EXPECT_TRUE(std::equal(x.begin(), x.end(), src)) << "src changed";
        EXPECT_TRUE(std::equal(r.begin(), r.end(), residual)) << "residual changed";
        for (std::size_t i = 0; i < buffer.size(); ++i) {
          const float* p = buffer.data() + i;
          const bool inside = (p >= dst && p < dst + count) || (p >= src && p < src + count) ||
                              (p >= residual && p < residual + count);
          if (!inside) {
            ASSERT_EQ(buffer[i], -777.0f) << "wrote outside dst at " << i;
          }
        }
      }
    }
  }
}

// Multi-dim spatial shapes, so layouts with several spatial dims see them all non-trivial.
TEST_P(BatchNormSweep, MultiDimSpatial) {
  const int spatial_dims = layout_rank(layout()) - 2;
  if (spatial_dims < 2) GTEST_SKIP() << "layout has fewer than two spatial dims";
  const std::vector<std::int64_t> spatial =
      spatial_dims == 2 ? std::vector<std::int64_t>{7, 9} : std::vector<std::int64_t>{3, 5, 7};
  expect_case(make_dims(layout(), 3, 19, spatial), {Activation::relu(), true}, 9001);
  expect_case(make_dims(layout(), 1, 64, spatial), {Activation::identity(), false}, 9002);
}

// Special values flow through like PyTorch: NaN stays NaN (even through ReLU), inf scales.
TEST_P(BatchNormSweep, NonFiniteInputsPropagate) {
  const std::vector<std::int64_t> dims = make_dims(layout(), 1, 3, layout() == Layout::nc ? 1 : 20);
  const std::size_t count = element_count(dims);
  std::vector<float> x(count, 1.0f);
  x[0] = std::numeric_limits<float>::quiet_NaN();
  x[count - 1] = std::numeric_limits<float>::infinity();
  const std::vector<float> mean = {0.5f, 0.5f, 0.5f}, var = {1.0f, 1.0f, 1.0f};
  for (const Activation& activation : kActivations) {
    const BatchNorm bn = BatchNorm::create({mean, var, {}, {}, 0.0}, {.activation = activation});
    std::vector<float> y(count);
    bn.run(ConstTensor(x.data(), dims, layout()), MutableTensor(y.data(), dims, layout()));
    EXPECT_TRUE(std::isnan(y[0])) << "NaN must survive activation [" << activation.lo << ", "
                                  << activation.hi << "]";
    EXPECT_EQ(y[count - 1], std::min(activation.hi, std::numeric_limits<float>::infinity()));
  }
}

std::string sweep_name(const ::testing::TestParamInfo<std::tuple<Layout, Isa>>& info) {
  return std::string(layout_name(std::get<0>(info.param))) + "_" +
         std::string(isa_name(std::get<1>(info.param)));
}

INSTANTIATE_TEST_SUITE_P(LayoutsByIsa, BatchNormSweep,
                         ::testing::Combine(::testing::ValuesIn(all_layouts()),
                                            ::testing::ValuesIn(all_isas())),
                         sweep_name);

}  // namespace
}  // namespace bnrt::testing
