// bnrt, naive and memcpy runners (oneDNN's lives in onednn_runner.cpp, built when found).
#include "batch_norm_runners.hpp"

#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <cmath>
#include <cstring>
#include <new>
#include <random>

#include "bench_buffers.hpp"
#include "bnrt/batch_norm.hpp"
#include "bnrt/batch_stats.hpp"
#include "bnrt/training_batch_norm.hpp"

namespace bnrt::bench {

std::string_view impl_name(Impl impl) {
  switch (impl) {
    case Impl::bnrt:
      return "bnrt";
    case Impl::naive:
      return "naive";
    case Impl::memcpy:
      return "memcpy";
    case Impl::onednn:
      return "onednn";
  }
  return "?";
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::eval:
      return "eval";
    case Op::stats:
      return "stats";
    case Op::stats_fast:
      return "stats_fast";
    case Op::train:
      return "train";
  }
  return "?";
}

std::int64_t BatchNormCase::elements() const {
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

std::string BatchNormCase::shape_text() const {
  std::string text;
  for (auto d : dims) {
    if (!text.empty()) text += 'x';
    text += std::to_string(d);
  }
  return text;
}

namespace {

class BnrtRunner final : public Runner {
 public:
  BnrtRunner(const BatchNormCase& c, std::shared_ptr<CaseData> data)
      : case_(c), data_(std::move(data)), op_(BatchNorm::create(data_->params())) {}
  void run() override {
    op_.run(ConstTensor(data_->src.data(), case_.dims, case_.layout),
            MutableTensor(data_->dst.data(), case_.dims, case_.layout));
  }

 private:
  BatchNormCase case_;
  std::shared_ptr<CaseData> data_;
  BatchNorm op_;
};

/// The statistics pass alone, through the public batch_moments.
class BnrtStatsRunner final : public Runner {
 public:
  BnrtStatsRunner(const BatchNormCase& c, std::shared_ptr<CaseData> data)
      : case_(c), data_(std::move(data)) {}
  void run() override {
    const ChannelMoments moments =
        batch_moments(ConstTensor(data_->src.data(), case_.dims, case_.layout), 0,
                      case_.op == Op::stats_fast ? StatsPrecision::fast : StatsPrecision::exact);
    sink_ = moments.mean[0];
  }

 private:
  BatchNormCase case_;
  std::shared_ptr<CaseData> data_;
  volatile double sink_ = 0;
};

/// Training-mode forward: statistics, normalize, running-stat update. The batch moments go
/// into one ChannelMoments kept across runs, as a training loop would keep one per layer.
class BnrtTrainRunner final : public Runner {
 public:
  BnrtTrainRunner(const BatchNormCase& c, std::shared_ptr<CaseData> data)
      : case_(c),
        data_(std::move(data)),
        op_(TrainingBatchNorm::create(data_->channels, data_->gamma, data_->beta)) {}
  void run() override {
    op_.run(ConstTensor(data_->src.data(), case_.dims, case_.layout),
            MutableTensor(data_->dst.data(), case_.dims, case_.layout), batch_);
  }

 private:
  BatchNormCase case_;
  std::shared_ptr<CaseData> data_;
  TrainingBatchNorm op_;
  ChannelMoments batch_;
};

/// What a user writes from the definition: the formula per element, no folding.
class NaiveRunner final : public Runner {
 public:
  NaiveRunner(const BatchNormCase& c, std::shared_ptr<CaseData> data)
      : case_(c), data_(std::move(data)) {}
  void run() override {
    const std::size_t channels = data_->channels;
    const std::size_t total = static_cast<std::size_t>(case_.elements());
    const float* x = data_->src.data();
    float* y = data_->dst.data();
    const float* mean = data_->mean.data();
    const float* var = data_->var.data();
    const float* gamma = data_->gamma.data();
    const float* beta = data_->beta.data();
    const float eps = data_->eps;
    if (layout_is_channels_last(case_.layout)) {
      for (std::size_t row = 0; row < total / channels; ++row) {
        for (std::size_t c = 0; c < channels; ++c) {
          const std::size_t i = row * channels + c;
          y[i] = (x[i] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
        }
      }
    } else {
      const std::size_t spatial = total / channels / static_cast<std::size_t>(case_.dims[0]);
      for (std::size_t n = 0; n < static_cast<std::size_t>(case_.dims[0]); ++n) {
        for (std::size_t c = 0; c < channels; ++c) {
          for (std::size_t s = 0; s < spatial; ++s) {
            const std::size_t i = (n * channels + c) * spatial + s;
            y[i] = (x[i] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
          }
        }
      }
    }
  }

 private:
  BatchNormCase case_;
  std::shared_ptr<CaseData> data_;
};

/// The roof: copying the same bytes, split across the same threads as bnrt would.
class MemcpyRunner final : public Runner {
 public:
  MemcpyRunner(const BatchNormCase& c, std::shared_ptr<CaseData> data)
      : case_(c), data_(std::move(data)) {}
  void run() override {
    const std::size_t total = static_cast<std::size_t>(case_.elements());
    const std::size_t parts = static_cast<std::size_t>(case_.threads);
    if (parts <= 1) {
      std::memcpy(data_->dst.data(), data_->src.data(), total * sizeof(float));
      return;
    }
    tbb::parallel_for(
        std::size_t{0}, parts,
        [&](std::size_t k) {
          // Split on 16-float (cache-line) boundaries, as bnrt does.
          const std::size_t begin = total * k / parts / 16 * 16;
          const std::size_t end = k + 1 == parts ? total : total * (k + 1) / parts / 16 * 16;
          std::memcpy(data_->dst.data() + begin, data_->src.data() + begin,
                      (end - begin) * sizeof(float));
        },
        tbb::static_partitioner{});
  }

 private:
  BatchNormCase case_;
  std::shared_ptr<CaseData> data_;
};

}  // namespace

CaseData::CaseData(const BatchNormCase& c)
    : channels(static_cast<std::size_t>(
          c.dims[static_cast<std::size_t>(layout_channel_axis(c.layout))])),
      src(static_cast<std::size_t>(c.elements())),
      dst(static_cast<std::size_t>(c.elements())) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (std::size_t i = 0; i < src.size(); ++i) src.data()[i] = uniform(rng);
  // Touch dst so page faults stay out of the timed loop.
  std::memset(dst.data(), 0, dst.size() * sizeof(float));
  mean.resize(channels);
  var.resize(channels);
  gamma.resize(channels);
  beta.resize(channels);
  for (std::size_t k = 0; k < channels; ++k) {
    mean[k] = 0.1f * uniform(rng);
    var[k] = 1.0f + 0.5f * uniform(rng);
    gamma[k] = 1.0f + 0.25f * uniform(rng);
    beta[k] = 0.1f * uniform(rng);
  }
}

#if !BNRT_HAVE_ONEDNN
std::unique_ptr<Runner> make_onednn_runner(const BatchNormCase&, std::shared_ptr<CaseData>) {
  return nullptr;
}
#endif

bool impl_available(Impl impl, Op op) {
  switch (impl) {
    case Impl::bnrt:
      return true;
    case Impl::naive:
      return op == Op::eval;
    case Impl::memcpy:
      return op == Op::eval;
    case Impl::onednn:
      return BNRT_HAVE_ONEDNN && op != Op::stats;
  }
  return false;
}

std::shared_ptr<CaseData> make_case_data(const BatchNormCase& c) {
  return std::make_shared<CaseData>(c);
}

std::unique_ptr<Runner> make_runner(const BatchNormCase& c, std::shared_ptr<CaseData> data) {
  switch (c.impl) {
    case Impl::bnrt:
      if (c.op == Op::stats || c.op == Op::stats_fast) {
        return std::make_unique<BnrtStatsRunner>(c, std::move(data));
      }
      if (c.op == Op::train) return std::make_unique<BnrtTrainRunner>(c, std::move(data));
      return std::make_unique<BnrtRunner>(c, std::move(data));
    case Impl::naive:
      return std::make_unique<NaiveRunner>(c, std::move(data));
    case Impl::memcpy:
      return std::make_unique<MemcpyRunner>(c, std::move(data));
    case Impl::onednn:
      return make_onednn_runner(c, std::move(data));
  }
  return nullptr;
}

}  // namespace bnrt::bench
