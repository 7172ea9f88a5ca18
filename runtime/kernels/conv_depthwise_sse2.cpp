// The depthwise convolution micro-kernels instantiated for sse2; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt).
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvDepthwiseKernels& conv_depthwise_kernels_sse2() noexcept {
  static constexpr ConvDepthwiseKernels kTable =
      make_depthwise_kernels<SimdOps<xsimd::sse2>, 4, 2, 2>();
  return kTable;
}

}  // namespace bnrt::kernels
