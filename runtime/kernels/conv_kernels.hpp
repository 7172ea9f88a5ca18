// The convolution micro-kernels of ConvBnAct, as tables of plain function pointers, one per
// ISA. Baseline header: no xsimd or -m flags here (see affine_kernels.hpp for why).
//
// Every kernel works on channels-last (NHWC) input and computes a register tile of output:
// - gemm: MR output pixels x NR output channels of one group. For each kernel tap it points
//   each pixel's row at the input pixel that tap reads (or at a row of zeros in the padding),
//   then runs the dot products over the group's input channels: a GEMM whose A rows are
//   gathered through pointers (an implicit GEMM; a 1x1 stride-1 conv is a plain GEMM).
// - depthwise: a run of output rows, vectorized over channels, a few pixels at a time; for
//   channels-first tensors, one channel plane, vectorized along the rows.
// Both start from the bias, and apply residual add and activation in registers before the only
// store of each output element (channels-first output goes through an L1 staging tile).
#pragma once

#include <cstddef>

#include "bnrt/isa.hpp"

namespace bnrt::kernels {

/// Spatial geometry of one convolution, in elements.
struct ConvGeometry {
  std::size_t in_h = 1, in_w = 1;
  std::size_t in_pixel_stride = 1;  ///< floats between neighbouring input pixels (all channels)
  std::size_t kernel_h = 1, kernel_w = 1;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_top = 0, pad_left = 0;
  std::size_t dilation_h = 1, dilation_w = 1;
  std::size_t out_w = 1;
};

/// The activation applied last. Clamp bounds are applied per `clamp` (see ClampKind in
/// affine_kernels.hpp: 0 none, 1 lower, 2 both).
struct ConvEpilogue {
  enum class Kind { clamp, leaky_relu, silu };
  Kind kind = Kind::clamp;
  int clamp = 0;
  float lo = 0.0f, hi = 0.0f;
  float negative_slope = 0.0f;
};

/// Where a tile's results go. dst (and residual, when not null) point at the tile's first
/// pixel and first channel; element (pixel m, channel j) lives at m * pixel_stride +
/// j * channel_stride. channel_stride == 1 is channels-last; otherwise pixel_stride must be 1
/// (channels-first: a tile's pixels are consecutive within the output plane).
struct TileOutput {
  float* dst = nullptr;
  const float* residual = nullptr;
  std::size_t pixel_stride = 1;
  std::size_t channel_stride = 1;
  const ConvEpilogue* epilogue = nullptr;
};

struct GemmTileArgs {
  const ConvGeometry* geometry = nullptr;
  const float* image = nullptr;     ///< NHWC input image, offset to the group's first channel
  const float* zero_row = nullptr;  ///< at least k_per_tap zeros: the padding
  std::size_t k_per_tap = 0;        ///< input channels per group
  const float* weights = nullptr;   ///< packed [kernel_h * kernel_w][k_per_tap][NR]
  const float* bias = nullptr;      ///< NR entries (NR = the tile's vectors x lanes)
  std::size_t pixel_begin = 0;      ///< flat index oh * out_w + ow of the tile's first pixel
  std::size_t rows = 0;             ///< valid pixels, 1..MR
  std::size_t cols = 0;             ///< valid output channels, 1..NR
  TileOutput out;
};

struct DepthwiseRowArgs {
  const ConvGeometry* geometry = nullptr;  ///< in_pixel_stride = channels
  const float* image = nullptr;            ///< NHWC input image
  const float* weights = nullptr;          ///< packed [kernel_h * kernel_w][padded channels]
  std::size_t weight_tap_stride = 0;       ///< padded channels
  const float* bias = nullptr;             ///< padded channels
  std::size_t out_row = 0;                 ///< oh of the first row
  std::size_t out_rows = 1;                ///< rows [oh, oh + out_rows)
  TileOutput out;                          ///< at (oh, ow = 0, channel 0); rows contiguous
};

/// One channel plane of a depthwise conv on channels-first input and output.
struct DepthwisePlaneArgs {
  const ConvGeometry* geometry = nullptr;  ///< in_pixel_stride unused
  const float* src = nullptr;              ///< the input plane [in_h][in_w]
  const float* weights = nullptr;          ///< the channel's [kernel_h][kernel_w]
  float bias = 0.0f;
  /// Scratch: stride_w phase planes of padded_rows x phase_cols floats (see
  /// conv_depthwise_planar_impl.hpp), zero wherever the copy of the input does not write.
  float* padded = nullptr;
  std::size_t padded_rows = 0, phase_cols = 0;
  std::size_t out_h = 0;
  float* dst = nullptr;             ///< the output plane [out_h][out_w]
  const float* residual = nullptr;  ///< likewise, or null
  const ConvEpilogue* epilogue = nullptr;
};

/// A 1x1, stride-1, unpadded conv on channels-first tensors, as the GEMM
/// Y[oc][p] = sum_k W[oc][k] * X[k][p] with vectors along the pixels p: MR output channels x
/// (NV * lanes) pixels per tile, written straight into the output planes.
struct PlanarGemmTileArgs {
  const float* weights = nullptr;  ///< the tile's weights packed [k][MR] (rows past the
                                   ///< group's last channel repeat it)
  const float* bias = nullptr;     ///< MR entries, packed likewise
  const float* input = nullptr;    ///< X[0][first pixel] of the group; planes plane_stride apart
  std::size_t plane_stride = 0;    ///< floats per input / output plane (H * W)
  std::size_t k_count = 0;         ///< input channels per group
  std::size_t rows = 0;            ///< valid output channels, 1..MR
  std::size_t cols = 0;            ///< valid pixels, 1..NV * lanes (fewer: masked loads)
  TileOutput out;                  ///< at (first channel, first pixel); pixel_stride = plane
};

using GemmTileFn = void (*)(const GemmTileArgs& args) noexcept;
using PlanarGemmTileFn = void (*)(const PlanarGemmTileArgs& args) noexcept;
using DepthwiseRowFn = void (*)(const DepthwiseRowArgs& args) noexcept;
using DepthwisePlaneFn = void (*)(const DepthwisePlaneArgs& args) noexcept;
using PlaneIsDirectFn = bool (*)(const ConvGeometry& geometry) noexcept;
/// NCHW [channels][pixels] -> NHWC [pixels][dst_stride] (the first `channels` of each row) for
/// pixels [p_begin, p_end).
using TransposeFn = void (*)(const float* src, float* dst, std::size_t channels, std::size_t pixels,
                             std::size_t dst_stride, std::size_t p_begin,
                             std::size_t p_end) noexcept;

/// Widest gemm tile in vectors, on any ISA.
inline constexpr std::size_t kMaxGemmVectors = 4;

/// The GEMM-based kernels of one ISA (and their tile shape).
struct ConvGemmKernels {
  /// gemm[v - 1]: tiles of MR pixels x v vectors of output channels, for v up to
  /// gemm_vectors (null above). Layers use the widest for most channels and a narrower one for
  /// the channels left over, so no tile computes much padding.
  GemmTileFn gemm[kMaxGemmVectors];
  /// Channels-first 1x1: gemm_rows output channels x planar_gemm_vectors vectors of pixels.
  PlanarGemmTileFn planar_gemm;
  std::size_t planar_gemm_vectors;
  /// Channels-first input to channels-last scratch, for the layers that run on the GEMM.
  TransposeFn transpose_to_nhwc;
  std::size_t gemm_rows;     ///< MR: output pixels per gemm tile
  std::size_t gemm_vectors;  ///< widest gemm tile, in vectors
  std::size_t lanes;         ///< floats per vector
};

/// The depthwise kernels of one ISA.
struct ConvDepthwiseKernels {
  DepthwiseRowFn depthwise;
  /// Channels-first depthwise: whole planes; a tile spans depthwise_plane_width columns and
  /// may read up to that many past the output row (the scratch plane is sized for it).
  DepthwisePlaneFn depthwise_plane;
  std::size_t depthwise_plane_width;
  /// Whether depthwise_plane reads this geometry's planes straight from the input; if so it
  /// never touches DepthwisePlaneArgs::padded (which may then be null).
  PlaneIsDirectFn depthwise_plane_direct;
};

/// Both, for one ISA. The two halves are built in separate units (conv_gemm_<isa>.cpp,
/// conv_depthwise_<isa>.cpp): GCC's inlining budget is per unit, and with both in one unit,
/// growing the depthwise kernels changed how the GEMM tiles were compiled (up to 20% slower).
struct ConvKernelTable : ConvGemmKernels, ConvDepthwiseKernels {};

/// The table for `isa`; the caller guarantees the CPU supports it.
const ConvKernelTable& conv_kernels(Isa isa) noexcept;

const ConvGemmKernels& conv_gemm_kernels_scalar() noexcept;
const ConvGemmKernels& conv_gemm_kernels_sse2() noexcept;
const ConvGemmKernels& conv_gemm_kernels_avx2() noexcept;
const ConvGemmKernels& conv_gemm_kernels_avx512() noexcept;
const ConvDepthwiseKernels& conv_depthwise_kernels_scalar() noexcept;
const ConvDepthwiseKernels& conv_depthwise_kernels_sse2() noexcept;
const ConvDepthwiseKernels& conv_depthwise_kernels_avx2() noexcept;
const ConvDepthwiseKernels& conv_depthwise_kernels_avx512() noexcept;

}  // namespace bnrt::kernels
