// The depthwise convolution micro-kernels instantiated for avx512; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt).
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

// Channels-last tiles of 4 pixels (two rows: 8 accumulators): against 8, MobileNetV2 3x3
// 144x56x56 117 -> 99 us, stride 2 45 -> 38 us, 5x5 258 -> 217 us, in a standalone timing
// loop. Channels-first: 4-row tiles on the padded copy, 7-row tiles on the direct kernel.
const ConvDepthwiseKernels& conv_depthwise_kernels_avx512() noexcept {
  static constexpr ConvDepthwiseKernels kTable =
      make_depthwise_kernels<SimdOps<xsimd::avx512f>, 4, 4, 7>();
  return kTable;
}

}  // namespace bnrt::kernels
