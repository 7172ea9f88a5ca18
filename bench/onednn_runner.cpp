// oneDNN 2.6 (libdnnl-dev) as a peer: batch_normalization_forward for inference with global
// (running) statistics, scale and shift, on the same buffers and layout bnrt gets. Debian's
// oneDNN threads with OpenMP, so the case's thread count is applied with omp_set_num_threads.
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "bench_buffers.hpp"

namespace bnrt::bench {
namespace {

using dnnl::memory;

/// oneDNN dims are always logical (N, C, spatial...); the tag says how they are stored.
memory::desc onednn_desc(const BatchNormCase& c) {
  const auto& d = c.dims;
  switch (c.layout) {
    case Layout::nc:
      return {{d[0], d[1]}, memory::data_type::f32, memory::format_tag::nc};
    case Layout::nchw:
      return {{d[0], d[1], d[2], d[3]}, memory::data_type::f32, memory::format_tag::nchw};
    case Layout::nhwc:
      return {{d[0], d[3], d[1], d[2]}, memory::data_type::f32, memory::format_tag::nhwc};
    default:
      return {};
  }
}

class OnednnRunner final : public Runner {
 public:
  OnednnRunner(const BatchNormCase& c, std::shared_ptr<CaseData> data)
      : case_(c), data_(std::move(data)), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    // oneDNN sizes its work split by the thread count in force when the primitive is created,
    // and keeps it: set ours first, or a 2-thread case created after a 1-thread one runs on one.
    omp_set_num_threads(c.threads);
    const memory::desc md = onednn_desc(c);
    // Inference reads the running statistics; training computes the batch's and writes them
    // to the mean / variance buffers.
    const bool training = c.op == Op::train;
    // Training writes the batch statistics: into private buffers, not the shared running ones.
    stats_mean_ = data_->mean;
    stats_var_ = data_->var;
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!training) flags = flags | dnnl::normalization_flags::use_global_stats;
    const dnnl::batch_normalization_forward::desc desc(
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, md,
        data_->eps, flags);
    const dnnl::batch_normalization_forward::primitive_desc pd(desc, engine_);
    primitive_ = dnnl::batch_normalization_forward(pd);
    const memory::desc per_channel({static_cast<memory::dim>(data_->channels)},
                                   memory::data_type::f32, memory::format_tag::x);
    args_ = {{DNNL_ARG_SRC, memory(md, engine_, data_->src.data())},
             {DNNL_ARG_DST, memory(md, engine_, data_->dst.data())},
             {DNNL_ARG_MEAN, memory(pd.mean_desc(), engine_, stats_mean_.data())},
             {DNNL_ARG_VARIANCE, memory(pd.variance_desc(), engine_, stats_var_.data())},
             {DNNL_ARG_SCALE, memory(per_channel, engine_, data_->gamma.data())},
             {DNNL_ARG_SHIFT, memory(per_channel, engine_, data_->beta.data())}};
  }

  void run() override {
    omp_set_num_threads(case_.threads);
    primitive_.execute(stream_, args_);
    stream_.wait();
  }

  void settle() override { omp_pause_resource_all(omp_pause_soft); }
  bool uses_tbb_threads() const override { return false; }

 private:
  BatchNormCase case_;
  std::shared_ptr<CaseData> data_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive primitive_;
  std::vector<float> stats_mean_;
  std::vector<float> stats_var_;
  std::unordered_map<int, memory> args_;
};

}  // namespace

std::unique_ptr<Runner> make_onednn_runner(const BatchNormCase& c, std::shared_ptr<CaseData> data) {
  if (c.layout != Layout::nc && c.layout != Layout::nchw && c.layout != Layout::nhwc) {
    return nullptr;
  }
  if (c.op != Op::eval && c.op != Op::train) return nullptr;
  return std::make_unique<OnednnRunner>(c, std::move(data));
}

}  // namespace bnrt::bench
