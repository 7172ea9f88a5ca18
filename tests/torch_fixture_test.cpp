// Replays PyTorch's own eval-mode BatchNorm1d/2d/3d outputs (tests/fixtures/batch_norm_eval.txt,
// made by tools/make_torch_fixtures.py) through bnrt on every ISA.
#include <gtest/gtest.h>

#include "fixture_reader.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

struct TorchCase {
  std::string name;
  Layout layout = Layout::nc;
  std::vector<std::int64_t> dims;
  double eps = 1e-5;
  float lo = 0, hi = 0;
  std::vector<float> mean, var, gamma, beta, x, residual, y;
};

Layout parse_layout(const std::string& name) {
  for (Layout layout : all_layouts()) {
    if (layout_name(layout) == name) return layout;
  }
  throw std::runtime_error("fixture has unknown layout " + name);
}

std::vector<TorchCase> load_cases() {
  std::vector<TorchCase> cases;
  TorchCase current;
  read_fixture("batch_norm_eval.txt", [&](const std::string& key, std::istringstream& line) {
    if (key == "case")
      line >> current.name;
    else if (key == "layout") {
      std::string l;
      line >> l;
      current.layout = parse_layout(l);
    } else if (key == "dims") {
      std::int64_t d;
      while (line >> d) current.dims.push_back(d);
    } else if (key == "eps")
      line >> current.eps;
    else if (key == "activation") {
      std::string lo, hi;
      line >> lo >> hi;
      current.lo = std::strtof(lo.c_str(), nullptr);
      current.hi = std::strtof(hi.c_str(), nullptr);
    } else if (key == "mean")
      current.mean = parse_values<float>(line);
    else if (key == "var")
      current.var = parse_values<float>(line);
    else if (key == "gamma")
      current.gamma = parse_values<float>(line);
    else if (key == "beta")
      current.beta = parse_values<float>(line);
    else if (key == "x")
      current.x = parse_values<float>(line);
    else if (key == "residual")
      current.residual = parse_values<float>(line);
    else if (key == "y")
      current.y = parse_values<float>(line);
    else if (key == "end") {
      cases.push_back(current);
      current = TorchCase{};
    } else
      throw std::runtime_error("fixture line with unknown key " + key);
  });
  return cases;
}

class TorchFixtures : public ::testing::TestWithParam<Isa> {};

// Tolerance against PyTorch: bnrt is within 2 * FLT_EPSILON of the exact result relative to the
// folded form's magnitude (see folded_tolerance); PyTorch's float kernel folds too, rounding
// invstd, alpha = invstd * gamma, mean * alpha, the shift and the final multiply-add: about
// 4 * FLT_EPSILON more. So 6 * FLT_EPSILON * magnitude bounds the difference of the two.
TEST_P(TorchFixtures, MatchPyTorchEval) {
  if (!isa_supported(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
  IsaScope scope(GetParam());
  const std::vector<TorchCase> cases = load_cases();
  ASSERT_GE(cases.size(), 19u);
  for (const TorchCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    ASSERT_EQ(tc.x.size(), element_count(tc.dims));
    ASSERT_EQ(tc.y.size(), tc.x.size());
    const BatchNorm bn = BatchNorm::create({tc.mean, tc.var, tc.gamma, tc.beta, tc.eps},
                                           {.activation = Activation::clamp(tc.lo, tc.hi)});
    std::vector<float> got(tc.x.size());
    const ConstTensor src(tc.x.data(), tc.dims, tc.layout);
    const MutableTensor dst(got.data(), tc.dims, tc.layout);
    if (tc.residual.empty()) {
      bn.run(src, dst);
    } else {
      bn.run(src, ConstTensor(tc.residual.data(), tc.dims, tc.layout), dst);
    }
    reference::BatchNormCase ref;
    ref.mean.assign(tc.mean.begin(), tc.mean.end());
    ref.var.assign(tc.var.begin(), tc.var.end());
    ref.gamma.assign(tc.gamma.begin(), tc.gamma.end());
    ref.beta.assign(tc.beta.begin(), tc.beta.end());
    ref.eps = tc.eps;
    const auto magnitudes =
        reference::batch_norm(ref, tc.x, tc.residual.empty() ? nullptr : &tc.residual, tc.layout,
                              tc.dims)
            .magnitude;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double tolerance = 6.0 * FLT_EPSILON * magnitudes[i];
      ASSERT_NEAR(got[i], tc.y[i], tolerance) << "element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, TorchFixtures, ::testing::ValuesIn(all_isas()),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace bnrt::testing
