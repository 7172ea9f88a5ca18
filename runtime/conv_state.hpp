// What a created ConvBnAct holds: the validated description, the folded weights, and the same
// weights packed for the kernel chosen at create. Shared (immutable) by every copy of the op.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aligned_buffer.hpp"
#include "bnrt/conv_bn_act.hpp"
#include "kernels/conv_kernels.hpp"

namespace bnrt::detail {

struct ConvBnActState {
  Conv2dDesc desc;
  ConvBnActOptions options;
  ConvAlgorithm algorithm = ConvAlgorithm::gemm;
  Isa isa = Isa::scalar;
  const kernels::ConvKernelTable* kernels = nullptr;
  kernels::ConvGeometry geometry;  ///< in_pixel_stride = in_channels (NHWC input)
  kernels::ConvEpilogue epilogue;
  std::size_t out_h = 0, out_w = 0;
  std::size_t in_per_group = 0, out_per_group = 0;
  std::size_t taps = 0;  ///< kernel_h * kernel_w

  std::vector<float> folded_weight;  ///< [out, in / groups, kh, kw]
  std::vector<float> folded_bias;    ///< [out]

  // gemm: weights [group][block][tap][in_per_group][NR], bias [group][block][NR], with
  // output channels past out_per_group zero. depthwise: weights [tap][padded_channels], bias
  // [padded_channels].
  std::size_t blocks_per_group = 0;
  std::size_t block_weight_floats = 0;  ///< taps * in_per_group * NR
  std::size_t padded_channels = 0;      ///< depthwise: channels rounded up to kMaxLanes
  AlignedBuffer<float> packed_weights;
  AlignedBuffer<float> packed_bias;
  AlignedBuffer<float> zero_row;  ///< in_per_group zeros: what padding reads

  std::int64_t macs_per_image = 0;
};

/// Per-object scratch, sized at create: NCHW input transposed to NHWC, one image at a time.
struct ConvScratch {
  AlignedBuffer<float> nhwc_image;
};
}  // namespace bnrt::detail
