// oneDNN 2.6 (libdnnl-dev) as the conv peer: convolution_forward with bnrt's folded weights and
// bias and a ReLU post-op, in the memory formats oneDNN picks for itself (format_tag::any).
// The input is reordered into that format once, at setup: what is timed is the convolution
// alone, as in a network that keeps activations in oneDNN's blocked layout.
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "conv_cases.hpp"

namespace bnrt::bench {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

class OnednnConvRunner final : public Runner {
 public:
  OnednnConvRunner(const ConvBenchCase& c, const ConvBnAct& folded, const std::vector<float>& src)
      : threads_(c.threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    // oneDNN fixes its work split by the thread count in force when the primitive is created:
    // set ours first, or a 1-thread case runs on the 2 threads of whatever was created before.
    omp_set_num_threads(threads_);
    const Conv2dDesc& d = c.layer.desc;
    const memory::dims src_dims = {1, d.in_channels, d.input_h, d.input_w};
    const memory::dims dst_dims = {1, d.out_channels, d.output_h(), d.output_w()};
    const bool grouped = d.groups > 1;
    const memory::dims weight_dims =
        grouped ? memory::dims{d.groups, d.out_channels / d.groups, d.in_channels / d.groups,
                               d.kernel_h, d.kernel_w}
                : memory::dims{d.out_channels, d.in_channels, d.kernel_h, d.kernel_w};
    const auto f32 = memory::data_type::f32;
    const memory::desc src_any(src_dims, f32, tag::any), dst_any(dst_dims, f32, tag::any),
        weight_any(weight_dims, f32, tag::any), bias_md({d.out_channels}, f32, tag::x);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
        weight_any, bias_md, dst_any, {d.stride_h, d.stride_w},
        {d.dilation_h - 1, d.dilation_w - 1}, {d.pad_top, d.pad_left}, {d.pad_bottom, d.pad_right});
    dnnl::post_ops post_ops;
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(post_ops);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
    primitive_ = dnnl::convolution_forward(pd);

    // User data in plain formats, reordered once into what the primitive wants.
    user_src_ = src;
    weights_.assign(folded.folded_weight().begin(), folded.folded_weight().end());
    bias_.assign(folded.folded_bias().begin(), folded.folded_bias().end());
    memory user_src_mem({src_dims, f32, c.layout == Layout::nhwc ? tag::nhwc : tag::nchw}, engine_,
                        user_src_.data());
    memory user_weight_mem({weight_dims, f32, grouped ? tag::goihw : tag::oihw}, engine_,
                           weights_.data());
    src_mem_ = memory(pd.src_desc(), engine_);
    weight_mem_ = memory(pd.weights_desc(), engine_);
    dst_mem_ = memory(pd.dst_desc(), engine_);
    dnnl::reorder(user_src_mem, src_mem_).execute(stream_, user_src_mem, src_mem_);
    dnnl::reorder(user_weight_mem, weight_mem_).execute(stream_, user_weight_mem, weight_mem_);
    stream_.wait();
    args_ = {{DNNL_ARG_SRC, src_mem_},
             {DNNL_ARG_WEIGHTS, weight_mem_},
             {DNNL_ARG_BIAS, memory(bias_md, engine_, bias_.data())},
             {DNNL_ARG_DST, dst_mem_}};
  }

  void run() override {
    omp_set_num_threads(threads_);
    primitive_.execute(stream_, args_);
    stream_.wait();
  }

  void settle() override { omp_pause_resource_all(omp_pause_soft); }
  bool uses_tbb_threads() const override { return false; }

 private:
  int threads_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive primitive_;
  std::vector<float> user_src_, weights_, bias_;
  memory src_mem_, weight_mem_, dst_mem_;
  std::unordered_map<int, memory> args_;
};

}  // namespace

std::unique_ptr<Runner> make_onednn_conv_runner(const ConvBenchCase& c, const ConvBnAct& folded,
                                                const std::vector<float>& src) {
  return std::make_unique<OnednnConvRunner>(c, folded, src);
}

}  // namespace bnrt::bench
