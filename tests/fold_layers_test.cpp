// Folding BN into neighbouring layers, property-tested against float64 references: for random
// convs (1-3 spatial dims, groups from 1 to depthwise, stride, dilation, asymmetric padding),
// transposed convs (groups > 1, output padding) and linear layers in both weight layouts,
// running the layer with folded weights equals running the layer then BN (or BN then the
// layer) within the bound the FoldReport states. Plus refusals, reports, aliasing and errors.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "reference/layer_reference.hpp"
#include "test_util.hpp"
#include "weight_format.hpp"

namespace bnrt::testing {
namespace {

struct LayerCase {
  Layer layer;
  reference::ConvShape shape;    // conv kinds
  std::int64_t in = 0, out = 0;  // channel counts of the layer
  std::vector<std::int64_t> weight_dims;
  bool bias = true;
  std::string text;
};

/// A random layer; `for_before` keeps convs unpadded (BN before a conv folds only then).
LayerCase random_case(std::mt19937_64& rng, LayerKind kind, bool for_before) {
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  LayerCase c;
  c.layer.kind = kind;
  c.bias = pick(0, 2) != 0;
  if (kind == LayerKind::linear || kind == LayerKind::linear_in_out) {
    c.in = pick(1, 9);
    c.out = pick(1, 9);
    c.weight_dims = kind == LayerKind::linear ? std::vector<std::int64_t>{c.out, c.in}
                                              : std::vector<std::int64_t>{c.in, c.out};
    c.shape.batch = pick(1, 3);
    c.text = std::string(kind == LayerKind::linear ? "linear" : "linear_in_out") + " " +
             std::to_string(c.in) + "->" + std::to_string(c.out);
    return c;
  }
  const bool transposed = kind == LayerKind::conv_transpose;
  auto& s = c.shape;
  const std::size_t spatial = static_cast<std::size_t>(pick(1, 3));
  const std::int64_t mode = pick(0, 3);  // 0: groups 1, 1: 2 or 3, 2: depthwise, 3: in between
  const std::int64_t in_per = mode == 2 ? 1 : pick(1, 3);
  const std::int64_t out_per = mode == 2 ? pick(1, 2) : pick(1, 3);
  s.groups = mode == 0 ? 1 : mode == 1 ? pick(2, 3) : mode == 2 ? pick(2, 5) : pick(2, 4);
  s.in_channels = in_per * s.groups;
  s.out_channels = out_per * s.groups;
  s.batch = pick(1, 2);
  for (std::size_t d = 0; d < spatial; ++d) {
    s.kernel.push_back(pick(1, spatial == 3 ? 2 : 3));
    s.stride.push_back(pick(1, 2));
    s.dilation.push_back(pick(1, 2));
    s.pad_begin.push_back(for_before ? 0 : pick(0, 2));
    s.pad_end.push_back(for_before ? 0 : pick(0, 2));
    const std::int64_t span = s.dilation[d] * (s.kernel[d] - 1) + 1;
    s.output_padding.push_back(transposed ? pick(0, std::max(s.stride[d], s.dilation[d]) - 1) : 0);
    if (transposed) {
      s.output_padding.back() =
          std::min(s.output_padding.back(), std::max(s.stride[d], s.dilation[d]) - 1);
      s.input.push_back(pick(1, 4));
      // Keep the output non-empty: (in - 1) * stride - pads + span + output_padding >= 1.
      while ((s.input[d] - 1) * s.stride[d] - s.pad_begin[d] - s.pad_end[d] + span +
                 s.output_padding[d] <
             1) {
        ++s.input[d];
      }
    } else {
      s.input.push_back(span + pick(0, 4));
    }
  }
  c.layer.groups = s.groups;
  c.layer.pads = s.pad_begin;
  c.layer.pads.insert(c.layer.pads.end(), s.pad_end.begin(), s.pad_end.end());
  c.in = s.in_channels;
  c.out = s.out_channels;
  c.weight_dims = transposed ? std::vector<std::int64_t>{s.in_channels, out_per}
                             : std::vector<std::int64_t>{s.out_channels, in_per};
  c.weight_dims.insert(c.weight_dims.end(), s.kernel.begin(), s.kernel.end());
  c.text = std::string(transposed ? "conv_transpose" : "conv") + " " + std::to_string(spatial) +
           "d " + std::to_string(c.in) + "->" + std::to_string(c.out) + " groups " +
           std::to_string(s.groups) + " weight " + dims_text(c.weight_dims);
  return c;
}

std::int64_t spatial_size(const std::vector<std::int64_t>& v) {
  std::int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}

/// Runs the layer in float64 (optionally on magnitudes).
std::vector<double> run_layer(const LayerCase& c, const std::vector<double>& x,
                              const std::vector<double>& w, const std::vector<double>* b,
                              bool absolute = false) {
  switch (c.layer.kind) {
    case LayerKind::conv:
      return reference::conv(c.shape, x, w, b, absolute);
    case LayerKind::conv_transpose:
      return reference::conv_transpose(c.shape, x, w, b, absolute);
    case LayerKind::linear:
    case LayerKind::linear_in_out:
      return reference::linear(c.shape.batch, c.in, c.out, x, w, b,
                               c.layer.kind == LayerKind::linear_in_out, absolute);
  }
  return {};
}

std::int64_t input_inner(const LayerCase& c) {
  return c.layer.kind == LayerKind::conv || c.layer.kind == LayerKind::conv_transpose
             ? spatial_size(c.shape.input)
             : 1;
}
std::int64_t output_inner(const LayerCase& c) {
  if (c.layer.kind == LayerKind::conv) return spatial_size(c.shape.output(false));
  if (c.layer.kind == LayerKind::conv_transpose) return spatial_size(c.shape.output(true));
  return 1;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

/// Stored weights of `type` as doubles.
std::vector<double> read_back(const std::vector<std::uint16_t>& bits, const std::vector<float>& f32,
                              WeightType type, std::size_t n) {
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = type == WeightType::f32 ? static_cast<double>(f32[i])
                                     : detail::load_weight(bits.data(), type, i);
  }
  return out;
}

/// Folds BN after (or before) a random layer into `type` and checks the folded layer against
/// layer-then-BN (BN-then-layer) in float64, within the report's rounding bound.
::testing::AssertionResult check_fold(const LayerCase& c, bool after, WeightType type,
                                      std::uint64_t seed) {
  auto rng = make_rng(seed);
  const std::int64_t bn_channels = after ? c.out : c.in;
  RandomStats stats(rng, static_cast<std::size_t>(bn_channels), seed % 3 != 0);
  const std::size_t weight_count = static_cast<std::size_t>(spatial_size(c.weight_dims));
  const auto w = random_floats(rng, weight_count, -1.0, 1.0);
  const auto b = random_floats(rng, static_cast<std::size_t>(c.out), -0.5, 0.5);
  const auto x = widen(random_floats(
      rng, static_cast<std::size_t>(c.shape.batch * c.in * input_inner(c)), -2.0, 2.0));

  std::vector<double> bn_mean(stats.mean.begin(), stats.mean.end()),
      bn_var(stats.var.begin(), stats.var.end());
  std::vector<double> bn_gamma(static_cast<std::size_t>(bn_channels), 1.0),
      bn_beta(static_cast<std::size_t>(bn_channels), 0.0);
  if (!stats.gamma.empty()) {
    bn_gamma.assign(stats.gamma.begin(), stats.gamma.end());
    bn_beta.assign(stats.beta.begin(), stats.beta.end());
  }
  const auto wd = widen(w), bd = widen(b);
  std::vector<double> expected;
  if (after) {
    expected =
        reference::batch_norm_nc(run_layer(c, x, wd, c.bias ? &bd : nullptr), c.out,
                                 output_inner(c), bn_mean, bn_var, bn_gamma, bn_beta, stats.eps);
  } else {
    const auto normalized = reference::batch_norm_nc(x, c.in, input_inner(c), bn_mean, bn_var,
                                                     bn_gamma, bn_beta, stats.eps);
    expected = run_layer(c, normalized, wd, c.bias ? &bd : nullptr);
  }

  std::vector<float> w_f32(weight_count), b_f32(static_cast<std::size_t>(c.out));
  std::vector<std::uint16_t> w_16(weight_count), b_16(static_cast<std::size_t>(c.out));
  const MutableWeights weight_out{
      type == WeightType::f32 ? static_cast<void*>(w_f32.data()) : w_16.data(), type,
      c.weight_dims};
  const MutableWeights bias_out{
      type == WeightType::f32 ? static_cast<void*>(b_f32.data()) : b_16.data(), type, {c.out}};
  const ConstWeights weight{w.data(), WeightType::f32, c.weight_dims};
  const ConstWeights bias{b.data(), WeightType::f32, {c.out}};
  const ChannelAffine affine = fold_batch_norm(stats.params());
  const FoldReport report =
      after
          ? fold_bn_after(c.layer, weight, c.bias ? &bias : nullptr, affine, weight_out, bias_out)
          : fold_bn_before(c.layer, weight, c.bias ? &bias : nullptr, affine, weight_out, bias_out);
  if (!report.folded) return ::testing::AssertionFailure() << "refused: " << report.refusal;
  if (!report.subnormal_channels.empty())
    return ::testing::AssertionSuccess();  // bound is for normals

  const auto w_folded = read_back(w_16, w_f32, type, weight_count);
  const auto b_folded = read_back(b_16, b_f32, type, static_cast<std::size_t>(c.out));
  const auto got = run_layer(c, x, w_folded, &b_folded);
  const auto magnitude = run_layer(c, x, w_folded, &b_folded, /*absolute=*/true);
  for (std::size_t i = 0; i < got.size(); ++i) {
    // The stated bound, plus float64 rounding in the two reference evaluations.
    const double tolerance =
        report.rounding_bound * magnitude[i] * (1 + 1e-6) + 1e-12 * (magnitude[i] + 1);
    if (!(std::fabs(got[i] - expected[i]) <= tolerance)) {
      return ::testing::AssertionFailure()
             << "output " << i << ": folded " << got[i] << ", reference " << expected[i]
             << " (|diff| " << std::fabs(got[i] - expected[i]) << " > " << tolerance << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(FoldLayers, AfterEveryLayerFamilyMatchesLayerThenBatchNorm) {
  auto rng = make_rng(40);
  std::uint64_t seed = 0;
  for (LayerKind kind :
       {LayerKind::conv, LayerKind::conv_transpose, LayerKind::linear, LayerKind::linear_in_out}) {
    for (int k = 0; k < 60; ++k) {
      const LayerCase c = random_case(rng, kind, /*for_before=*/false);
      for (WeightType type : {WeightType::f32, WeightType::f16, WeightType::bf16}) {
        SCOPED_TRACE(c.text + " -> " + std::string(weight_type_name(type)) + " seed " +
                     std::to_string(seed));
        EXPECT_TRUE(check_fold(c, /*after=*/true, type, ++seed));
      }
    }
  }
}

TEST(FoldLayers, BeforeLinearAndUnpaddedConvMatchesBatchNormThenLayer) {
  auto rng = make_rng(41);
  std::uint64_t seed = 1000;
  for (LayerKind kind : {LayerKind::conv, LayerKind::linear, LayerKind::linear_in_out}) {
    for (int k = 0; k < 60; ++k) {
      const LayerCase c = random_case(rng, kind, /*for_before=*/true);
      SCOPED_TRACE(c.text + " seed " + std::to_string(seed + 1));
      EXPECT_TRUE(check_fold(c, /*after=*/false, WeightType::f32, ++seed));
    }
  }
}

// ---- refusals: nothing is written ---------------------------------------------------------

struct SmallConv {
  std::vector<float> w = std::vector<float>(2 * 2 * 3 * 3, 0.5f), b = {0.25f, -0.25f};
  std::vector<float> w_out = std::vector<float>(w.size(), 7.0f), b_out = {7.0f, 7.0f};
  ChannelAffine bn{{2.0, 3.0}, {0.5, -0.5}};
  ConstWeights weight() const { return {w.data(), WeightType::f32, {2, 2, 3, 3}}; }
  ConstWeights bias() const { return {b.data(), WeightType::f32, {2}}; }
  MutableWeights weight_out() { return {w_out.data(), WeightType::f32, {2, 2, 3, 3}}; }
  MutableWeights bias_out() { return {b_out.data(), WeightType::f32, {2}}; }
  bool untouched() const {
    for (float v : w_out)
      if (v != 7.0f) return false;
    return b_out[0] == 7.0f && b_out[1] == 7.0f;
  }
};

TEST(FoldLayers, BeforePaddedConvIsRefused) {
  SmallConv conv;
  const ConstWeights b = conv.bias();
  const FoldReport report = fold_bn_before({LayerKind::conv, 1, {1, 1, 1, 1}}, conv.weight(), &b,
                                           conv.bn, conv.weight_out(), conv.bias_out());
  EXPECT_FALSE(report.folded);
  EXPECT_NE(report.refusal.find("padded conv"), std::string::npos) << report.refusal;
  EXPECT_TRUE(conv.untouched());
  // Without padding the same fold is exact and happens.
  EXPECT_TRUE(fold_bn_before({LayerKind::conv, 1, {0, 0, 0, 0}}, conv.weight(), &b, conv.bn,
                             conv.weight_out(), conv.bias_out())
                  .folded);
}

TEST(FoldLayers, BeforeConvTransposeIsRefused) {
  SmallConv conv;
  const FoldReport report = fold_bn_before({LayerKind::conv_transpose, 1, {}}, conv.weight(),
                                           nullptr, conv.bn, conv.weight_out(), conv.bias_out());
  EXPECT_FALSE(report.folded);
  EXPECT_NE(report.refusal.find("conv_transpose"), std::string::npos);
  EXPECT_TRUE(conv.untouched());
}

// The classic fp16 failure: a tiny running variance turns a modest weight into > 65504.
TEST(FoldLayers, Fp16OverflowIsRefusedAndNothingWritten) {
  const std::vector<float> w = {1.0f, 2.0f, 3.0f, 0.5f}, mean = {0.0f, 0.0f}, var = {1e-10f, 1.0f};
  const std::vector<float> gamma = {8.0f, 1.0f}, beta = {0.0f, 0.0f};
  std::vector<std::uint16_t> w_out(4, 0x1234), b_out(2, 0x1234);
  const ChannelAffine bn = fold_batch_norm({mean, var, gamma, beta, 0.0});  // scale[0] = 8e5
  const FoldReport report =
      fold_bn_after({LayerKind::linear}, {w.data(), WeightType::f32, {2, 2}}, nullptr, bn,
                    {w_out.data(), WeightType::f16, {2, 2}}, {b_out.data(), WeightType::f16, {2}});
  EXPECT_FALSE(report.folded);
  EXPECT_EQ(report.overflow_channels, (std::vector<std::size_t>{0}));
  EXPECT_EQ(report.large_scale_channels, (std::vector<std::size_t>{0}));
  EXPECT_NE(report.refusal.find("overflow f16"), std::string::npos) << report.refusal;
  EXPECT_NE(report.summary().find("refused"), std::string::npos);
  for (auto bits : w_out) EXPECT_EQ(bits, 0x1234);
  for (auto bits : b_out) EXPECT_EQ(bits, 0x1234);
  // The same fold into fp32 is fine, and reports the large scale.
  std::vector<float> w32(4), b32(2);
  const FoldReport ok =
      fold_bn_after({LayerKind::linear}, {w.data(), WeightType::f32, {2, 2}}, nullptr, bn,
                    {w32.data(), WeightType::f32, {2, 2}}, {b32.data(), WeightType::f32, {2}});
  EXPECT_TRUE(ok.folded);
  EXPECT_NEAR(ok.max_abs_scale, 8e5, 1e-6 * 8e5);  // var 1e-10f is not exactly 1e-10
  EXPECT_EQ(ok.max_abs_scale_channel, 0u);
}

TEST(FoldLayers, DeadSmallAndSubnormalChannelsAreReported) {
  const std::vector<float> w = {1e-3f, 2e-3f, 1.0f, 1.0f, 1.0f, 1.0f};  // [3, 2] linear
  const ChannelAffine bn{{1e-3, 0.0, 5000.0}, {0.0, 0.25, 0.0}};        // tiny, dead, large
  std::vector<std::uint16_t> w_out(6), b_out(3);
  const FoldReport report =
      fold_bn_after({LayerKind::linear}, {w.data(), WeightType::f32, {3, 2}}, nullptr, bn,
                    {w_out.data(), WeightType::f16, {3, 2}}, {b_out.data(), WeightType::f16, {3}});
  EXPECT_TRUE(report.folded);
  EXPECT_EQ(report.dead_channels, (std::vector<std::size_t>{1}));
  EXPECT_EQ(report.large_scale_channels, (std::vector<std::size_t>{2}));
  EXPECT_EQ(report.subnormal_channels, (std::vector<std::size_t>{0}));  // 1e-6 < 6.1e-5
  EXPECT_EQ(report.rounding_bound, 1.0 / 2048);
  const std::string summary = report.summary();
  EXPECT_NE(summary.find("dead"), std::string::npos) << summary;
  EXPECT_NE(summary.find("subnormal"), std::string::npos) << summary;
}

// Layouts whose channel changes along a weight row (conv_transpose and linear_in_out after,
// conv and linear before) find the exact channel at fault, in fp16: scale 1e5 overflows,
// 1e-6 is subnormal, on channels 1 and 2 of 4.
TEST(FoldLayers, RiskyChannelsAreFoundWhenChannelsVaryAlongRows) {
  struct Case {
    LayerKind kind;
    bool before;
    std::vector<std::int64_t> dims;
    std::int64_t groups;
  };
  const Case cases[] = {{LayerKind::linear_in_out, false, {3, 4}, 1},
                        {LayerKind::conv_transpose, false, {2, 2, 3}, 2},
                        {LayerKind::conv_transpose, false, {3, 4, 2, 2}, 1},
                        {LayerKind::linear, true, {2, 4}, 1},
                        {LayerKind::conv, true, {2, 4, 3}, 1},
                        {LayerKind::conv, true, {2, 2, 5}, 2}};
  for (const Case& c : cases) {
    for (double large : {1e5, 2.0}) {
      const ChannelAffine bn{{1.0, large, 1e-6, 1.0}, {0.0, 0.0, 0.0, 0.0}};
      std::int64_t count = 1;
      for (auto d : c.dims) count *= d;
      const std::vector<float> w(static_cast<std::size_t>(count), 1.0f);
      const std::int64_t outputs = c.before                              ? c.dims[0]
                                   : c.kind == LayerKind::conv_transpose ? c.dims[1] * c.groups
                                                                         : c.dims[1];
      std::vector<std::uint16_t> w_out(w.size(), 0x1234), b_out(static_cast<std::size_t>(outputs));
      const Layer layer{c.kind, c.groups};
      const ConstWeights weight{w.data(), WeightType::f32, c.dims};
      const MutableWeights weight_out{w_out.data(), WeightType::f16, c.dims};
      const MutableWeights bias_out{b_out.data(), WeightType::f16, {outputs}};
      const FoldReport report =
          c.before ? fold_bn_before(layer, weight, nullptr, bn, weight_out, bias_out)
                   : fold_bn_after(layer, weight, nullptr, bn, weight_out, bias_out);
      SCOPED_TRACE(report.summary());
      EXPECT_EQ(report.folded, large < 65504);
      EXPECT_EQ(report.overflow_channels,
                large < 65504 ? std::vector<std::size_t>{} : std::vector<std::size_t>{1});
      EXPECT_EQ(report.subnormal_channels, (std::vector<std::size_t>{2}));
      EXPECT_EQ(report.max_abs_weight, large);
      if (!report.folded) {
        for (auto bits : w_out) ASSERT_EQ(bits, 0x1234);
      }
    }
  }
}

// Folding fp32 weights in place into fp16 (the output overlapping the input's first half)
// reads every row before writing it.
TEST(FoldLayers, InPlaceIntoNarrowerTypeEqualsOutOfPlace) {
  auto rng = make_rng(43);
  const std::vector<std::int64_t> dims = {6, 5, 3, 3};
  const std::vector<float> w = random_floats(rng, 6 * 5 * 9, -1.0, 1.0);
  for (LayerKind kind : {LayerKind::conv, LayerKind::conv_transpose}) {
    std::vector<float> buffer = w;
    std::vector<std::uint16_t> want(w.size());
    const std::int64_t outputs = kind == LayerKind::conv ? 6 : 5;  // [IC, OC, k, k] transposed
    const ChannelAffine bn_kind = fold_batch_norm(RandomStats(rng, outputs).params());
    std::vector<std::uint16_t> bias(static_cast<std::size_t>(outputs));
    fold_bn_after({kind}, {w.data(), WeightType::f32, dims}, nullptr, bn_kind,
                  {want.data(), WeightType::f16, dims}, {bias.data(), WeightType::f16, {outputs}});
    const FoldReport report = fold_bn_after({kind}, {buffer.data(), WeightType::f32, dims}, nullptr,
                                            bn_kind, {buffer.data(), WeightType::f16, dims},
                                            {bias.data(), WeightType::f16, {outputs}});
    ASSERT_TRUE(report.folded);
    EXPECT_EQ(std::memcmp(buffer.data(), want.data(), want.size() * 2), 0);
    EXPECT_NE(want, std::vector<std::uint16_t>(w.size()));
  }
}

TEST(FoldLayers, InPlaceFoldEqualsOutOfPlace) {
  SmallConv a, b;
  const ConstWeights bias = a.bias();
  fold_bn_after({LayerKind::conv}, a.weight(), &bias, a.bn, a.weight_out(), a.bias_out());
  // In place: outputs are the inputs.
  const FoldReport report = fold_bn_after({LayerKind::conv}, b.weight(), &bias, b.bn,
                                          {b.w.data(), WeightType::f32, {2, 2, 3, 3}},
                                          {b.b.data(), WeightType::f32, {2}});
  EXPECT_TRUE(report.folded);
  EXPECT_EQ(a.w_out, b.w);
  EXPECT_EQ(a.b_out, b.b);
}

TEST(FoldLayers, BatchNormAfterBatchNormComposes) {
  auto rng = make_rng(42);
  const RandomStats first(rng, 5), second(rng, 5);
  const ChannelAffine composed =
      compose(fold_batch_norm(first.params()), fold_batch_norm(second.params()));
  const std::vector<std::int64_t> dims = {3, 5, 7};
  const auto x = random_floats(rng, element_count(dims), -2.0, 2.0);
  // The first BN from the reference, the second from the definition on its float64 output.
  const auto once = reference::batch_norm(first.reference_case(Activation::identity()), x, nullptr,
                                          Layout::ncl, dims)
                        .y;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = reference::channel_of(i, Layout::ncl, dims);
    const double s2 = second.gamma[c] / std::sqrt(second.var[c] + double(second.eps));
    const double want = (once[i] - second.mean[c]) * s2 + second.beta[c];
    const double got = x[i] * composed.scale[c] + composed.shift[c];
    EXPECT_NEAR(got, want, 1e-12 * (std::fabs(want) + std::fabs(x[i] * composed.scale[c]) + 1));
  }
  EXPECT_THROW(compose(ChannelAffine{{1.0}, {0.0}}, ChannelAffine{{1.0, 2.0}, {0.0, 0.0}}), Error);
}

TEST(FoldLayers, Errors) {
  SmallConv conv;
  expect_error(
      [&] {
        fold_bn_after({LayerKind::conv}, conv.weight(), nullptr, ChannelAffine{{1.0}, {0.0}},
                      conv.weight_out(), conv.bias_out());
      },
      ErrorCode::channel_mismatch, "batch norm has 1 channels");
  expect_error(
      [&] {
        fold_bn_after({LayerKind::conv}, conv.weight(), nullptr, conv.bn,
                      {conv.w_out.data(), WeightType::f32, {2, 2, 9}}, conv.bias_out());
      },
      ErrorCode::shape_mismatch, "weight_out is [2, 2, 9]");
  expect_error(
      [&] {
        fold_bn_after({LayerKind::conv, 3}, conv.weight(), nullptr, conv.bn, conv.weight_out(),
                      conv.bias_out());
      },
      ErrorCode::shape_mismatch, "not a multiple of groups = 3");
  expect_error(
      [&] {
        fold_bn_after({LayerKind::linear}, conv.weight(), nullptr, conv.bn, conv.weight_out(),
                      conv.bias_out());
      },
      ErrorCode::shape_mismatch, "needs 2 dims");
  expect_error(
      [&] {
        fold_bn_after({LayerKind::conv}, {nullptr, WeightType::f32, {2, 2, 3, 3}}, nullptr, conv.bn,
                      conv.weight_out(), conv.bias_out());
      },
      ErrorCode::null_pointer, "weight.data is null");
  conv.w[4] = std::nanf("");
  expect_error(
      [&] {
        fold_bn_after({LayerKind::conv}, conv.weight(), nullptr, conv.bn, conv.weight_out(),
                      conv.bias_out());
      },
      ErrorCode::invalid_argument, "weight element 4 = nan");
  EXPECT_TRUE(conv.untouched());
}

// ---- storage formats: rounding once, directly from double ---------------------------------

TEST(WeightFormat, RoundsOnceToNearestEven) {
  using detail::round_to_format;
  EXPECT_EQ(round_to_format(65504.0, WeightType::f16), 65504.0);
  EXPECT_EQ(round_to_format(65519.0, WeightType::f16), 65504.0);
  EXPECT_TRUE(std::isinf(round_to_format(65520.0, WeightType::f16)));
  EXPECT_EQ(round_to_format(1.0 + std::ldexp(1.0, -11), WeightType::f16), 1.0);  // tie to even
  // Just above the tie: direct rounding goes up; rounding through float first would land on
  // the tie and then round to even (down): the double-rounding error this module avoids.
  const double above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(static_cast<float>(above_tie), 1.0f + std::ldexp(1.0f, -11));
  EXPECT_EQ(round_to_format(above_tie, WeightType::f16), 1.0 + std::ldexp(1.0, -10));
  EXPECT_EQ(round_to_format(std::ldexp(3.0, -26), WeightType::f16),
            std::ldexp(1.0, -24));  // subnormal
  EXPECT_EQ(round_to_format(std::ldexp(1.0, -26), WeightType::f16), 0.0);
  // bf16 has 8 significant bits: its ulp at 1 is 2^-7. Ties go to the even neighbour.
  EXPECT_EQ(round_to_format(1.0 + std::ldexp(1.0, -8), WeightType::bf16), 1.0);
  EXPECT_EQ(round_to_format(1.0 + std::ldexp(3.0, -8), WeightType::bf16),
            1.0 + std::ldexp(1.0, -6));
  EXPECT_EQ(round_to_format(1.0 + std::ldexp(3.0, -9), WeightType::bf16),
            1.0 + std::ldexp(1.0, -7));
  for (double v : {0.0, 1.0, -2.5, 65504.0, std::ldexp(1.0, -24), std::ldexp(1023.0, -24), 1e-5}) {
    std::uint16_t bits = 0;
    const double rounded = round_to_format(v, WeightType::f16);
    detail::store_weight(&bits, WeightType::f16, 0, rounded);
    EXPECT_EQ(detail::load_weight(&bits, WeightType::f16, 0), rounded) << v;
    detail::store_weight(&bits, WeightType::bf16, 0, round_to_format(v, WeightType::bf16));
    EXPECT_EQ(detail::load_weight(&bits, WeightType::bf16, 0), round_to_format(v, WeightType::bf16))
        << v;
  }
}

}  // namespace
}  // namespace bnrt::testing
