// The depthwise convolution micro-kernels instantiated for avx2; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt).
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

// Channels-last tiles of 4 pixels: against 8, 3x3 144x56x56 186 -> 165 us (16 registers).
const ConvDepthwiseKernels& conv_depthwise_kernels_avx2() noexcept {
  static constexpr ConvDepthwiseKernels kTable =
      make_depthwise_kernels<SimdOps<xsimd::fma3<xsimd::avx2>>, 4, 2, 4>();
  return kTable;
}

}  // namespace bnrt::kernels
