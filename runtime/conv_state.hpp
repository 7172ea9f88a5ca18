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

  // gemm: per group, its output channels in blocks (the widest tile the ISA has, then one
  // narrower block for what is left), each packed [tap][in_per_group][block width] after the
  // previous one; bias likewise. depthwise: weights [tap][padded_channels], bias
  // [padded_channels].
  struct GemmBlock {
    std::size_t first_channel = 0;  ///< within the group
    std::size_t cols = 0;           ///< valid output channels
    std::size_t vectors = 0;        ///< tile width in vectors (cols rounded up)
    std::size_t weight_offset = 0;  ///< within the group's packed weights
    std::size_t bias_offset = 0;
  };
  std::vector<GemmBlock> gemm_blocks;  ///< one group's blocks; the same for every group
  std::size_t group_weight_floats = 0;
  /// Work units run tile-major (every block of one pixel tile, then the next tile) instead of
  /// block-major; see pack_gemm.
  bool gemm_tile_major = false;
  std::size_t group_bias_floats = 0;
  std::size_t padded_channels = 0;  ///< depthwise: channels rounded up to kMaxLanes
  /// A 1x1 stride-1 unpadded conv on channels-first tensors runs as a GEMM along the pixels
  /// on the input as given (weights packed by pack_planar_gemm).
  bool planar_gemm = false;
  /// Depthwise on channels-first tensors runs plane by plane on the input as given (no
  /// transpose), through a zero-padded scratch plane of this geometry per thread (see
  /// conv_depthwise_planar_impl.hpp); it reads folded_weight / folded_bias directly.
  bool planar_depthwise = false;
  std::size_t plane_rows = 0, plane_phase_cols = 0;
  std::size_t plane_floats() const noexcept {
    return geometry.stride_w * plane_rows * plane_phase_cols;
  }
  AlignedBuffer<float> packed_weights;
  AlignedBuffer<float> packed_bias;
  AlignedBuffer<float> zero_row;  ///< in_per_group zeros: what padding reads

  std::int64_t macs_per_image = 0;
};

/// Per-object scratch, sized at create: NCHW input transposed to NHWC, one image at a time
/// (gemm), or one padded plane per thread that may run (planar depthwise).
struct ConvScratch {
  AlignedBuffer<float> nhwc_image;
  /// plane_slots x plane_floats(), zeroed once; empty when the planar kernel reads its input
  /// directly (ConvKernelTable::depthwise_plane_direct).
  AlignedBuffer<float> padded_planes;
  std::size_t plane_slots = 0;
};
}  // namespace bnrt::detail
