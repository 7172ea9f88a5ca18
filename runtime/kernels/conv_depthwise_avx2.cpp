// The depthwise convolution micro-kernels instantiated for avx2; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt).
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvDepthwiseKernels& conv_depthwise_kernels_avx2() noexcept {
  static constexpr ConvDepthwiseKernels kTable =
      make_depthwise_kernels<SimdOps<xsimd::fma3<xsimd::avx2>>, 8, 2, 4>();
  return kTable;
}

}  // namespace bnrt::kernels
