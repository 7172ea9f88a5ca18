// Replays PyTorch's training-mode BatchNorm1d/2d/3d (tests/fixtures/batch_norm_train.txt, made by
// tools/make_torch_train_fixtures.py) through TrainingBatchNorm on every ISA, step after step:
// outputs, batch moments, running mean / var and num_batches_tracked.
#include <gtest/gtest.h>

#include <optional>
#include <sstream>

#include "fixture_reader.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

struct TrainStep {
  std::vector<std::int64_t> dims;
  std::vector<float> x, residual, y, running_mean, running_var;
  std::vector<double> batch_mean, batch_var;
  std::int64_t num_batches_tracked = 0;
};

struct TrainCase {
  std::string name;
  Layout layout = Layout::nc;
  double eps = 1e-5;
  std::optional<double> momentum;  // nullopt: PyTorch's momentum=None
  bool track = true;
  bool relu_residual = false;
  std::vector<float> gamma, beta;
  std::vector<TrainStep> steps;
};

std::vector<TrainCase> load_cases() {
  std::vector<TrainCase> cases;
  TrainCase current;
  read_fixture("batch_norm_train.txt", [&](const std::string& key, std::istringstream& line) {
    TrainStep* step = current.steps.empty() ? nullptr : &current.steps.back();
    if (key == "case") {
      line >> current.name;
    } else if (key == "layout") {
      std::string name;
      line >> name;
      for (Layout layout : all_layouts()) {
        if (layout_name(layout) == name) current.layout = layout;
      }
    } else if (key == "eps") {
      line >> current.eps;
    } else if (key == "momentum") {
      std::string value;
      line >> value;
      if (value != "none") current.momentum = std::stod(value);
    } else if (key == "track") {
      int flag;
      line >> flag;
      current.track = flag != 0;
    } else if (key == "relu_residual") {
      int flag;
      line >> flag;
      current.relu_residual = flag != 0;
    } else if (key == "gamma") {
      current.gamma = parse_values<float>(line);
    } else if (key == "beta") {
      current.beta = parse_values<float>(line);
    } else if (key == "step") {
      current.steps.emplace_back();
    } else if (key == "end") {
      cases.push_back(current);
      current = TrainCase{};
    } else if (step == nullptr) {
      throw std::runtime_error("fixture key " + key + " outside a step");
    } else if (key == "dims") {
      std::int64_t d;
      while (line >> d) step->dims.push_back(d);
    } else if (key == "x") {
      step->x = parse_values<float>(line);
    } else if (key == "residual") {
      step->residual = parse_values<float>(line);
    } else if (key == "y") {
      step->y = parse_values<float>(line);
    } else if (key == "batch_mean") {
      step->batch_mean = parse_values<double>(line);
    } else if (key == "batch_var") {
      step->batch_var = parse_values<double>(line);
    } else if (key == "running_mean") {
      step->running_mean = parse_values<float>(line);
    } else if (key == "running_var") {
      step->running_var = parse_values<float>(line);
    } else if (key == "num_batches_tracked") {
      line >> step->num_batches_tracked;
    } else {
      throw std::runtime_error("fixture line with unknown key " + key);
    }
  });
  return cases;
}

class TorchTrainFixtures : public ::testing::TestWithParam<Isa> {};

constexpr double kTrainingStatsTolerance = 1e-6;

// Tolerances, with u = FLT_EPSILON:
// - outputs: bnrt is within 2u of the exact result relative to |x s| + |mean s| + |beta| + |r|
//   (s = gamma / sqrt(var + eps)); PyTorch's float kernel adds about as much again: 8u of the
//   same magnitude, plus what the statistics' error (next item) moves the output by.
// - batch moments: the training forward sums in float runs widened into double (the fast
//   kernels, documented at ~1e-6 relative); PyTorch's values here are float64 from the same
//   input. 1e-6 of |mean| + spread and of the variance.
// - running statistics: both sides round (1 - w) * running + w * batch to float once per step;
//   2e-6 relative allows a couple of float ulps over the chained steps.
TEST_P(TorchTrainFixtures, MatchPyTorchStepByStep) {
  if (!isa_supported(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
  IsaScope scope(GetParam());
  const std::vector<TrainCase> cases = load_cases();
  ASSERT_GE(cases.size(), 16u);
  for (const TrainCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    ASSERT_FALSE(tc.steps.empty());
    const std::size_t channels = static_cast<std::size_t>(
        tc.steps[0].dims[static_cast<std::size_t>(layout_channel_axis(tc.layout))]);
    TrainingBatchNormOptions options;
    options.eps = tc.eps;
    options.momentum = tc.momentum ? Momentum::pytorch(*tc.momentum) : Momentum::cumulative();
    options.track_running_stats = tc.track;
    if (tc.relu_residual) options.activation = Activation::relu();
    TrainingBatchNorm bn = TrainingBatchNorm::create(channels, tc.gamma, tc.beta, options);
    for (std::size_t k = 0; k < tc.steps.size(); ++k) {
      SCOPED_TRACE("step " + std::to_string(k));
      const TrainStep& step = tc.steps[k];
      std::vector<float> got(step.x.size());
      const ConstTensor src(step.x.data(), step.dims, tc.layout);
      const MutableTensor dst(got.data(), step.dims, tc.layout);
      const ChannelMoments moments =
          step.residual.empty()
              ? bn.run(src, dst)
              : bn.run(src, ConstTensor(step.residual.data(), step.dims, tc.layout), dst);

      ASSERT_EQ(moments.channels(), channels);
      const auto biased = moments.biased_variance();
      for (std::size_t c = 0; c < channels; ++c) {
        const double spread = std::sqrt(step.batch_var[c]);
        EXPECT_NEAR(moments.mean[c], step.batch_mean[c],
                    kTrainingStatsTolerance * (std::fabs(step.batch_mean[c]) + spread))
            << "batch mean, channel " << c;
        EXPECT_NEAR(biased[c], step.batch_var[c], kTrainingStatsTolerance * step.batch_var[c])
            << "batch var, channel " << c;
      }

      reference::BatchNormCase ref;
      ref.mean = step.batch_mean;
      ref.var = step.batch_var;
      ref.gamma.assign(tc.gamma.begin(), tc.gamma.end());
      ref.beta.assign(tc.beta.begin(), tc.beta.end());
      ref.eps = tc.eps;
      const auto magnitudes =
          reference::batch_norm(ref, step.x, step.residual.empty() ? nullptr : &step.residual,
                                tc.layout, step.dims)
              .magnitude;
      for (std::size_t i = 0; i < got.size(); ++i) {
        // Rounding (8u of the folded terms) plus what the statistics' own error moves y by:
        // s * |d mean| + |x - mean| * s * |d sigma| / sigma, with s = |gamma| / sigma.
        const std::size_t c = reference::channel_of(i, tc.layout, step.dims);
        const double sigma = std::sqrt(step.batch_var[c] + tc.eps);
        const double s = (tc.gamma.empty() ? 1.0 : std::fabs(tc.gamma[c])) / sigma;
        const double stats_error =
            kTrainingStatsTolerance * s *
            (std::fabs(step.batch_mean[c]) + sigma + std::fabs(step.x[i] - step.batch_mean[c]));
        ASSERT_NEAR(got[i], step.y[i], 8.0 * FLT_EPSILON * magnitudes[i] + stats_error)
            << "y[" << i << "]";
      }

      if (tc.track) {
        const RunningStats& running = bn.running_stats();
        EXPECT_EQ(running.num_batches_tracked, step.num_batches_tracked);
        for (std::size_t c = 0; c < channels; ++c) {
          EXPECT_NEAR(running.mean[c], step.running_mean[c],
                      2e-6 * (1 + std::fabs(step.running_mean[c])))
              << "running mean, channel " << c;
          EXPECT_NEAR(running.var[c], step.running_var[c], 2e-6 * std::fabs(step.running_var[c]))
              << "running var, channel " << c;
        }
      } else {
        EXPECT_TRUE(bn.running_stats().mean.empty());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, TorchTrainFixtures, ::testing::ValuesIn(all_isas()),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace bnrt::testing
