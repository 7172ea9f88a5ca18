// The depthwise convolution micro-kernels instantiated for avx512; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt).
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvDepthwiseKernels& conv_depthwise_kernels_avx512() noexcept {
  static constexpr ConvDepthwiseKernels kTable =
      make_depthwise_kernels<SimdOps<xsimd::avx512f>, 8, 4, 7>();
  return kTable;
}

}  // namespace bnrt::kernels
