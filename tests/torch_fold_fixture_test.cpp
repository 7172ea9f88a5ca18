// Replays PyTorch's Conv / ConvTranspose / Linear + BatchNorm pairs (tests/fixtures/fold.txt,
// made by tools/make_torch_fold_fixtures.py) through bnrt::fold_bn_after:
//  - on every case, the layer run (float64 reference) with bnrt's folded weights equals
//    PyTorch's float64 layer-then-BN output, within the FoldReport's rounding bound;
//  - where torch.nn.utils.fusion is right, bnrt's weights and bias agree with its result;
//  - where it is not (grouped ConvTranspose: wrong-shaped weight or an error; Linear before an
//    affine=False BN: TypeError), the fixture records that, and bnrt still matches the truth.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "fixture_reader.hpp"
#include "reference/layer_reference.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

struct FoldCase {
  std::string name, kind;
  std::int64_t groups = 1;
  std::vector<std::int64_t> stride, padding, dilation, output_padding;
  std::vector<std::int64_t> weight_dims, x_dims, torch_weight_dims;
  std::vector<float> weight, bias, mean, var, gamma, beta, x, torch_weight, torch_bias;
  std::vector<double> y64;
  double eps = 1e-5;
  std::string torch_status, torch_message;
};

std::vector<FoldCase> load_cases() {
  // Which member each record fills.
  const std::map<std::string, std::vector<float> FoldCase::*> floats = {
      {"weight", &FoldCase::weight},
      {"bias", &FoldCase::bias},
      {"bn_mean", &FoldCase::mean},
      {"bn_var", &FoldCase::var},
      {"bn_gamma", &FoldCase::gamma},
      {"bn_beta", &FoldCase::beta},
      {"x", &FoldCase::x},
      {"torch_weight", &FoldCase::torch_weight},
      {"torch_bias", &FoldCase::torch_bias}};
  const std::map<std::string, std::vector<std::int64_t> FoldCase::*> ints = {
      {"stride", &FoldCase::stride},
      {"padding", &FoldCase::padding},
      {"dilation", &FoldCase::dilation},
      {"output_padding", &FoldCase::output_padding},
      {"weight_dims", &FoldCase::weight_dims},
      {"x_dims", &FoldCase::x_dims},
      {"torch_weight_dims", &FoldCase::torch_weight_dims}};
  std::vector<FoldCase> cases;
  FoldCase current;
  read_fixture("fold.txt", [&](const std::string& key, std::istringstream& line) {
    if (auto f = floats.find(key); f != floats.end()) {
      current.*(f->second) = parse_values<float>(line);
    } else if (auto i = ints.find(key); i != ints.end()) {
      current.*(i->second) = parse_values<std::int64_t>(line);
    } else if (key == "case") {
      line >> current.name;
    } else if (key == "kind") {
      line >> current.kind;
    } else if (key == "groups") {
      line >> current.groups;
    } else if (key == "eps") {
      line >> current.eps;
    } else if (key == "y64") {
      current.y64 = parse_values<double>(line);
    } else if (key == "torch_status") {
      line >> current.torch_status;
    } else if (key == "torch_error" || key == "torch_forward") {
      std::getline(line >> std::ws, current.torch_message);
    } else if (key == "end") {
      cases.push_back(std::move(current));
      current = FoldCase{};
    } else {
      throw std::runtime_error("unknown fixture key " + key);
    }
  });
  return cases;
}

const std::vector<FoldCase>& cases() {
  static const std::vector<FoldCase> loaded = load_cases();
  return loaded;
}

LayerKind kind_of(const FoldCase& c) {
  if (c.kind == "conv") return LayerKind::conv;
  if (c.kind == "conv_transpose") return LayerKind::conv_transpose;
  return LayerKind::linear;
}

std::int64_t output_channels(const FoldCase& c) {
  if (c.kind == "conv_transpose") return c.weight_dims[1] * c.groups;
  return c.weight_dims[0];
}

/// The case's layer in float64 with the given weights (PyTorch's NC... layouts).
std::vector<double> run_layer(const FoldCase& c, const std::vector<double>& w,
                              const std::vector<double>& b, bool absolute) {
  const std::vector<double> x(c.x.begin(), c.x.end());
  if (c.kind == "linear") {
    return reference::linear(c.x_dims[0], c.x_dims[1], output_channels(c), x, w, &b, false,
                             absolute);
  }
  reference::ConvShape s;
  s.batch = c.x_dims[0];
  s.in_channels = c.x_dims[1];
  s.out_channels = output_channels(c);
  s.groups = c.groups;
  s.input.assign(c.x_dims.begin() + 2, c.x_dims.end());
  s.kernel.assign(c.weight_dims.begin() + 2, c.weight_dims.end());
  s.stride = c.stride;
  s.dilation = c.dilation;
  s.pad_begin = c.padding;
  s.pad_end = c.padding;
  s.output_padding = c.output_padding;
  return c.kind == "conv" ? reference::conv(s, x, w, &b, absolute)
                          : reference::conv_transpose(s, x, w, &b, absolute);
}

TEST(TorchFoldFixtures, CoverWhatTheyClaim) {
  int torch_right = 0, torch_wrong = 0, transposed_grouped = 0;
  for (const FoldCase& c : cases()) {
    if (c.torch_status == "ok")
      ++torch_right;
    else
      ++torch_wrong;
    if (c.kind == "conv_transpose" && c.groups > 1) ++transposed_grouped;
  }
  EXPECT_GE(torch_right, 8);
  EXPECT_GE(torch_wrong, 3);
  EXPECT_GE(transposed_grouped, 3);
}

class TorchFold : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TorchFold, FoldedLayerEqualsLayerThenBatchNorm) {
  const FoldCase& c = cases()[GetParam()];
  SCOPED_TRACE(c.name);
  const ChannelAffine bn = fold_batch_norm({c.mean, c.var, c.gamma, c.beta, c.eps});
  const ConstWeights weight{c.weight.data(), WeightType::f32, c.weight_dims};
  const ConstWeights bias{c.bias.data(), WeightType::f32, {output_channels(c)}};
  const FoldedLayer folded = fold_bn_after({kind_of(c), c.groups}, weight,
                                           c.bias.empty() ? nullptr : &bias, bn, WeightType::f32);
  ASSERT_TRUE(folded.report.folded) << folded.report.summary();
  EXPECT_EQ(folded.weight_dims, c.weight_dims);  // the layer's own shape, whatever the groups

  const auto fw = folded.weight_floats(), fb = folded.bias_floats();
  const std::vector<double> w(fw.begin(), fw.end()), b(fb.begin(), fb.end());
  const auto got = run_layer(c, w, b, false);
  const auto magnitude = run_layer(c, w, b, true);
  ASSERT_EQ(got.size(), c.y64.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    // The report's bound for the once-rounded weights and bias, plus float64 arithmetic in
    // the two evaluations and the 17-digit text of y64.
    const double tolerance = folded.report.rounding_bound * magnitude[i] * (1 + 1e-6) +
                             1e-13 * (magnitude[i] + std::fabs(c.y64[i]) + 1);
    ASSERT_NEAR(got[i], c.y64[i], tolerance) << "output " << i;
  }

  if (c.torch_status == "ok") {
    // PyTorch folds in float32 (rsqrt, then two products): a few ulps from the exact values
    // bnrt rounds once. 4 ulps of the magnitudes involved bounds their difference.
    ASSERT_EQ(c.torch_weight.size(), fw.size());
    for (std::size_t i = 0; i < fw.size(); ++i) {
      EXPECT_NEAR(fw[i], c.torch_weight[i], 4 * 0x1p-24 * std::fabs(c.torch_weight[i]) + 1e-30)
          << "weight " << i;
    }
    ASSERT_EQ(c.torch_bias.size(), fb.size());
    for (std::size_t o = 0; o < fb.size(); ++o) {
      const double centred =
          std::fabs(((c.bias.empty() ? 0.0 : c.bias[o]) - c.mean[o]) * bn.scale[o]);
      const double beta = c.beta.empty() ? 0.0 : std::fabs(c.beta[o]);
      EXPECT_NEAR(fb[o], c.torch_bias[o], 4 * 0x1p-24 * (centred + beta) + 1e-30) << "bias " << o;
    }
  } else {
    // PyTorch could not fold this pair; bnrt did (checked above against the float64 truth).
    EXPECT_FALSE(c.torch_message.empty());
    if (c.torch_status == "wrong_shape") {
      EXPECT_NE(c.torch_weight_dims, c.weight_dims);
    }
    std::printf("  %s: PyTorch %s (%s); bnrt folded, matches layer-then-BN\n", c.name.c_str(),
                c.torch_status.c_str(), c.torch_message.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchFold, ::testing::Range<std::size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return cases()[info.param].name;
                         });

}  // namespace
}  // namespace bnrt::testing
